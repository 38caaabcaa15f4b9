package slack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/docs"
	"opsbot/harness/fakeslack"
	"opsbot/storage/storagetest"
)

// TestPlain reads text as Slack sends it with should_escape on (the shapes
// of Slack's "Formatting text for app surfaces: Retrieving messages") back
// into what the person typed.
func TestPlain(t *testing.T) {
	t.Parallel()
	dir := bot.NewDirectory([]config.Person{{Name: "bob", SlackID: "U02BOB"}})
	for in, want := range map[string]string{
		"ask <@U02BOB> now":                         "ask @bob now",
		"ask <@U02BOB|robert>":                      "ask @bob",
		"for <@W0DAVE|dave> please":                 "for @slack:W0DAVE please",
		"see <https://status.example.com>":          "see https://status.example.com",
		"see <https://a.example/?x=1&amp;y=2|docs>": "see docs (https://a.example/?x=1&y=2)",
		"<https://a.example|https://a.example>":     "https://a.example",
		"in <#C01HELP|helpdesk> and <#C02OPS>":      "in #helpdesk and #C02OPS",
		"<!here> <!channel> <!everyone>":            "@here @channel @everyone",
		"<!subteam^S0123|@it-team> help":            "@it-team help",
		"mail <mailto:a@example.com|a@example.com>": "mail a@example.com",
		"a &lt;b&gt; &amp;amp; c":                   "a <b> &amp; c",
		"unclosed <@U02BOB":                         "unclosed <@U02BOB",
		"<@not an id>":                              "<@not an id>",
	} {
		if got := Plain(dir, in); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMrkdwnIsTheOneRule feeds hostile text through mrkdwn: nothing in it
// forms a link with a label, a mention, a channel or a special mention;
// opsbot's own @slack:ID becomes a mention Slack renders.
func TestMrkdwnIsTheOneRule(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"<https://evil.example|Click to approve>": "&lt;<https://evil.example>|Click to approve&gt;",
		"<https://evil.example>":                  "&lt;<https://evil.example>&gt;",
		"<!here> <@U1> <#C1|x>":                   "&lt;!here&gt; &lt;@U1&gt; &lt;#C1|x&gt;",
		"see https://a.example/x|Approve.":        "see <https://a.example/x>|Approve.",
		"https://a.example/?q=1&r=2":              "<https://a.example/?q=1&amp;r=2>",
		"requester @slack:W111":                   "requester <@W111>",
		"a & b":                                   "a &amp; b",
	} {
		if got := mrkdwn(in); got != want {
			t.Errorf("mrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
	if got := codeBlock("a\n```\n<b>", 100); got != "```\na\n`\u200b`\u200b`\n&lt;b&gt;\n```" {
		t.Errorf("codeBlock = %q", got)
	}
}

// TestTicketFromMessageResolvesMentions files a ticket from a message by
// someone opsbot does not know that names a person: the summary names
// @bob, not <@U0BOB>, and the card shows the requester as a mention Slack
// renders rather than "@slack:W0111".
func TestTicketFromMessageResolvesMentions(t *testing.T) {
	t.Parallel()
	h := newIntakeHarness(t, storagetest.Backends(t)[0])
	const ts = "1700000001.000100"
	h.fake.AddMessage("C0GENERAL", fakeslack.Message{"type": "message", "ts": ts, "user": "W0111",
		"text": "printer on 3 is jammed, ask <@U0BOB> &amp; see <https://wiki.example/printers|the wiki>"})
	h.event("EvM1", map[string]any{"type": "reaction_added", "user": "U0CAROL", "reaction": "ticket",
		"item": map[string]any{"type": "message", "channel": "C0GENERAL", "ts": ts}})
	tix := h.tickets()
	if len(tix) != 1 || tix[0].Summary != "printer on 3 is jammed, ask @bob & see the wiki (https://wiki.example/printers)" ||
		tix[0].Requester != "slack:W0111" {
		t.Fatalf("tickets = %+v", tix)
	}
	var card *bot.Reply
	for _, m := range h.env.Outbox() {
		var r bot.Reply
		if json.Unmarshal([]byte(m.Body), &r) == nil && len(r.Fields) > 0 {
			card = &r
		}
	}
	if card == nil {
		t.Fatal("no ticket card in the outbox")
	}
	s := string(marshal(t, Render(*card).Webhook(false), ""))
	if !strings.Contains(s, "<@W0111>") || strings.Contains(s, "@slack:W0111") || strings.Contains(s, "<@U0BOB>") {
		t.Errorf("card = %s", s)
	}
}

// TestManifestEscapes holds the manifest to should_escape: true on every
// slash command: without it Slack sends "@Dave Smith" as plain words, and
// /ticket new "VPN" --for @Dave Smith files a ticket ending in "Smith".
func TestManifestEscapes(t *testing.T) {
	t.Parallel()
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command      string `yaml:"command"`
				ShouldEscape *bool  `yaml:"should_escape"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(docs.SlackManifest, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) == 0 {
		t.Fatal("the manifest lists no slash commands")
	}
	for _, c := range m.Features.SlashCommands {
		if c.ShouldEscape == nil || !*c.ShouldEscape {
			t.Errorf("%s: should_escape must be true", c.Command)
		}
	}
}

// TestEscapedCommandText files a ticket for someone with the text Slack
// sends when should_escape is on: the person is the --for argument, and
// the link and channel in the summary read as typed.
func TestEscapedCommandText(t *testing.T) {
	t.Parallel()
	h := newIntakeHarness(t, storagetest.Backends(t)[0])
	form := url.Values{"team_id": {"T0"}, "channel_id": {"C0HELP"}, "user_id": {"U0CAROL"}, "command": {"/ticket"},
		"text":         {`new "VPN &amp; <https://vpn.example/status|status page> down, see <#C0OPS|ops>" --for <@W0DAVE|Dave Smith>`},
		"response_url": {"http://127.0.0.1:1/unused"}, "trigger_id": {"TE1"}}
	if rec := h.postCommand(form, false); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "#1") {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	ts := h.tickets()
	if len(ts) != 1 || ts[0].Summary != "VPN & status page (https://vpn.example/status) down, see #ops" || ts[0].Requester != "slack:W0DAVE" {
		t.Fatalf("tickets = %+v", ts)
	}
}
