package handlers_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	discordbot "opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/config"
	"opsbot/handlers/access"
	"opsbot/handlers/backups"
	"opsbot/handlers/devices"
	"opsbot/handlers/tickets"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// hostile is text a person might type to make opsbot's messages lie: a
// Markdown heading, a masked link posing as an approval, Slack's special
// and user mentions, Discord's mentions, a spoiler, code and @everyone.
const hostile = "# Urgent [Click to approve](https://evil.example/approve) <https://evil.example/a|Approve> " +
	"<!here> <@U01ALICE> <@100000000000000001> ||spoiler|| `x` **now** @everyone"

const hostileConfig = `
people:
  - {name: alice, slack_id: U01ALICE, discord_id: "100000000000000001", roles: [admin, helpdesk, approver, oncall]}
  - {name: bob, slack_id: U02BOB, discord_id: "100000000000000002", roles: [approver]}
  - {name: dave, slack_id: U04DAVE, discord_id: "100000000000000004"}
channels:
  helpdesk: {slack: C01HELP, discord: "200000000000000001"}
  access: {slack: C02ACCESS, discord: "200000000000000002"}
  ops: {slack: C03OPS, discord: "200000000000000003"}
tickets:
  queues: [{name: it, channel: helpdesk}]
access:
  resources:
    - {name: lab, approvers: [bob], max_duration: 8h, reason_required: true, channel: access, grant: {manual: true}}
backups:
  jobs:
    - {name: hostile, command: ["/bin/echo", "ok\n` + "```" + `\n", "HOSTILE"], timeout: 1m, channel: ops, roles: [oncall]}
`

// TestHostileTextRendersInert feeds the same hostile string through a
// ticket's summary and comment, an access request's reason, a device's
// notes and a backup job's output; every reply and every queued
// notification that carries it is rendered for Slack and for Discord, and
// in neither can it link, mention, ping, format or close a code block.
func TestHostileTextRendersInert(t *testing.T) {
	text := strings.Replace(hostileConfig, "HOSTILE", strings.ReplaceAll(hostile, `"`, `\"`), 1)
	cfg, err := config.Parse([]byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	env := handlertest.New(t, storagetest.Backends(t)[0], cfg)
	tix, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := access.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := devices.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := backups.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		bk.Drain(ctx)
	})
	env.Use(tix.Command(), acc.Command(), devs.Command(), bk.Command())

	q := bot.Quote(hostile)
	var replies []bot.Reply
	run := func(who, line string) {
		t.Helper()
		r := env.Run(who, line)
		if r.Severity == bot.SeverityDanger {
			t.Fatalf("%s: %s: %+v", who, line, r)
		}
		replies = append(replies, r)
	}
	run("dave", "/ticket new "+q)
	run("dave", "/ticket comment 1 "+q)
	run("alice", "/ticket show 1")
	run("alice", "/ticket take 1")
	run("dave", "/access request lab --for 1h --reason "+q)
	run("bob", "/access show 1")
	run("alice", "/device add sw-hostile 10.9.9.9 --notes "+q)
	run("alice", "/device lookup sw-hostile")
	run("alice", "/backup run hostile")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := storage.GetBackupRun(context.Background(), env.Deps.Store.DB, 1)
		if err == nil && r.State != storage.BackupRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup run did not end: %+v %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run("alice", "/backup log 1")
	for _, m := range env.Outbox() {
		var r bot.Reply
		if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, r)
	}

	carried := 0
	for _, r := range replies {
		if !strings.Contains(allText(r), "Click to approve") {
			continue
		}
		carried++
		checkSlack(t, r)
		checkDiscord(t, r)
	}
	if carried < 8 {
		t.Errorf("only %d replies and posts carried the hostile text", carried)
	}
	code := false
	for _, r := range replies {
		code = code || strings.Contains(r.Code, "Click to approve")
	}
	if !code {
		t.Error("no reply showed the job's output as code")
	}
}

// allText is every string of a reply a renderer shows.
func allText(r bot.Reply) string {
	s := r.Title + "\n" + r.Text + "\n" + r.Code + "\n" + r.Footer
	for _, f := range r.Fields {
		s += "\n" + f.Name + "\n" + f.Value
	}
	return s
}

// checkSlack renders r as Block Kit and looks at every string Slack reads
// as mrkdwn: none holds a link with a label, a mention, a channel or a
// special mention, and no section lets Slack add its own.
func checkSlack(t *testing.T, r bot.Reply) {
	t.Helper()
	m := slackbot.Render(r)
	texts := []string{m.Text}
	b, err := json.Marshal(m.Webhook(false).Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var blocks any
	if err := json.Unmarshal(b, &blocks); err != nil {
		t.Fatal(err)
	}
	walk(blocks, func(o map[string]any) {
		if o["type"] == "mrkdwn" {
			texts = append(texts, o["text"].(string))
			if o["verbatim"] != true {
				t.Errorf("a mrkdwn text Slack may add links and mentions to: %v", o)
			}
		}
	})
	for _, s := range texts {
		for _, bad := range []string{"<!", "<@", "<#", "|Approve>", "|Click"} {
			if strings.Contains(s, bad) {
				t.Errorf("Slack mrkdwn holds %q: %s", bad, s)
			}
		}
		if strings.Count(s, "```")%2 != 0 {
			t.Errorf("Slack code block broken open: %s", s)
		}
	}
}

// liveMarkup is Markdown that would act in Discord: a character that opens
// markup without a backslash before it, or a heading.
var liveMarkup = regexp.MustCompile(`(^|[^\\])(\\\\)*(\[|\]\(|<|\|\||\*\*|` + "`" + `)|(?m)^#`)

// checkDiscord renders r as a Discord message and looks at every string
// Discord reads as Markdown (content, embed descriptions, field values)
// outside URLs and code blocks: nothing opens markup; code blocks stay
// closed; no mention may ping.
func checkDiscord(t *testing.T, r bot.Reply) {
	t.Helper()
	m := discordbot.Render(r)
	if m.AllowedMentions == nil || len(m.AllowedMentions.Parse) != 0 || len(m.AllowedMentions.Users) != 0 || len(m.AllowedMentions.Roles) != 0 {
		t.Errorf("allowed_mentions not empty: %+v", m.AllowedMentions)
	}
	texts := []string{m.Content}
	for _, e := range m.Embeds {
		texts = append(texts, e.Description)
		for _, f := range e.Fields {
			texts = append(texts, f.Value)
		}
	}
	for _, s := range texts {
		if strings.Count(s, "```")%2 != 0 {
			t.Errorf("Discord code block broken open: %s", s)
		}
		outside := fenced.ReplaceAllString(s, "")
		outside = url.ReplaceAllString(outside, "")
		if loc := liveMarkup.FindStringIndex(outside); loc != nil {
			t.Errorf("Discord Markdown live at %q in %s", outside[loc[0]:], s)
		}
	}
}

var (
	fenced = regexp.MustCompile("(?s)```.*?```")
	url    = regexp.MustCompile(`https?://[^\s<>|\[\]\\]+`)
)

func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walk(c, fn)
		}
	case []any:
		for _, c := range x {
			walk(c, fn)
		}
	}
}
