package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"opsbot/bot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/render")

// renderFixtures is the fixed set of replies each platform renders to a
// golden file.
var renderFixtures = []struct {
	name  string
	reply bot.Reply
}{
	{"plain", bot.Text("Ticket #12 is closed.")},
	{"error", bot.Reply{Text: "/ticket take needs a number: type /ticket take 12", Severity: bot.SeverityDanger}},
	{"ticket", bot.Reply{Title: "Ticket #12: VPN drops", Text: "Filed by @alice <script>&amp;",
		Fields: []bot.Field{{Name: "Priority", Value: "high", Short: true}, {Name: "Queue", Value: "it", Short: true},
			{Name: "Description", Value: "VPN drops every 10 minutes since *Monday* <@U123>"}},
		Buttons: []bot.Button{{Label: "Take", Command: "/ticket take 12", Style: bot.ButtonPrimary},
			{Label: "Close", Command: "/ticket close 12", Style: bot.ButtonDanger}, {Label: "Details", Command: "/ticket show 12"}},
		Severity: bot.SeverityWarning, Footer: "SLA: first response due 10:15", InChannel: true}},
	{"incident", bot.Reply{Title: "Incident #3 resolved: intranet", Severity: bot.SeveritySuccess,
		Fields: []bot.Field{{Name: "Down for", Value: "4m", Short: true}}, Footer: "check intranet (http)", InChannel: true}},
	{"menu", bot.Reply{Title: `3 devices match "core" (by name)`, Text: "core-sw-1 — 10.0.0.1\ncore-sw-2 — 10.0.0.2\ncore-rtr-1 — 10.0.0.3",
		Menus: []bot.Menu{
			{Placeholder: "Show a device", Command: "/device show", Param: "name", TypeAhead: true,
				Options: []bot.Choice{{Label: "core-sw-1", Value: "core-sw-1"}, {Label: "core-sw-2", Value: "core-sw-2"}}},
			{Placeholder: "Show a request", Command: "/access show", Param: "id",
				Options: []bot.Choice{{Label: "#4 prod-db (read) for @bob: pending", Value: "4"}, {Label: "", Value: "5"},
					{Label: "too long", Value: strings.Repeat("9", 151)}}},
			{Placeholder: "duplicate", Command: "/device show", Param: "name", TypeAhead: true},
			{Placeholder: "invalid", Command: "/device show --oid 1", Param: "name", TypeAhead: true},
		}}},
	// hostile is user text trying every markup both platforms have.
	{"hostile", bot.Reply{Title: "#3 [Click](https://evil.example) <@U1>", Text: "[Click to approve](https://evil.example/approve)\n# Heading\n-# small print\n> quoted\n||spoiler|| @everyone <@100000000000000002> <!here> <#C01HELP|helpdesk> <https://evil.example|Approve> **bold** _it_ ~~gone~~ `code` <t:1700000000:R> https://intranet.example.com/a_b?x=1&y=2",
		Fields: []bot.Field{{Name: "Reason", Value: "[Approve](https://evil.example/a) & <script>", Short: true},
			{Name: "Requester", Value: "@slack:W111 @discord:100000000000000009", Short: true}},
		Code: "ok\n```\n<b>**out**</b> [x](https://evil.example)\n", Severity: bot.SeverityInfo, Footer: "<!channel> [f](https://evil.example)"}},
	{"long", bot.Reply{Title: strings.Repeat("T", 200), Text: strings.Repeat("é", 3100), Severity: bot.SeverityInfo,
		Buttons: []bot.Button{{Label: strings.Repeat("L", 80), Command: "/help"}, {Label: "too long", Command: "/" + strings.Repeat("x", 2001)}}}},
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for _, f := range renderFixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			got := marshal(t, Render(f.reply).Webhook(false), "  ")
			path := filepath.Join("testdata", "render", f.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot/slack -run TestRenderGolden -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the golden file:\n%s", path, got)
			}
		})
	}
}

// marshal encodes v as JSON without escaping &, < and > further, so the
// golden files show what Slack receives after decoding.
func marshal(t *testing.T, v any, indent string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRenderRules(t *testing.T) {
	t.Parallel()
	m := Render(renderFixtures[2].reply)
	s := string(marshal(t, m.Webhook(false), ""))
	for _, want := range []string{`"type":"header"`, `&lt;script&gt;&amp;amp;`, `"action_id":"opsbot_0"`, `"action_id":"opsbot_1"`,
		`"style":"danger"`, `"style":"primary"`, `"value":"/ticket take 12"`, `"response_type":"in_channel"`, `:large_orange_circle:`} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered reply lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<script>") || strings.Contains(s, "<@U123>") {
		t.Errorf("user text not escaped: %s", s)
	}
	long := Render(renderFixtures[5].reply)
	if strings.Contains(string(marshal(t, long.Webhook(false), "")), "xxxxxxxx") {
		t.Error("a button whose command is too long for Slack was kept (cut, it would run something else)")
	}
	if Render(bot.Reply{}).Text == "" {
		t.Error("an empty reply must still carry text: Slack refuses empty messages")
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a &amp; b":                 "a & b",
		"&lt;@U123|bob&gt;":         "<@U123|bob>",
		"&amp;lt; stays literal":    "&lt; stays literal",
		"<@U123|bob> arrives as-is": "<@U123|bob> arrives as-is",
		`"quoted &quot; untouched"`: `"quoted &quot; untouched"`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// The answer opsbot writes (webhookJSON, its blocks as a plain list) says
// what slack-go's own encoding says, for every fixture, replace_original
// either way and no blocks at all.
func TestWebhookJSONMatchesSlackGo(t *testing.T) {
	t.Parallel()
	msgs := []*slack.WebhookMessage{{Text: "no blocks", ResponseType: "ephemeral"}}
	for _, f := range renderFixtures {
		msgs = append(msgs, Render(f.reply).Webhook(false), Render(f.reply).Webhook(true))
	}
	for i, m := range msgs {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := webhookJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("message %d: %v in %s", i, err, got)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("message %d:\n got %s\nwant %s", i, got, want)
		}
		var back slack.WebhookMessage
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("message %d: slack-go cannot read it back: %v", i, err)
		} else if m.Blocks != nil && len(back.Blocks.BlockSet) != len(m.Blocks.BlockSet) {
			t.Errorf("message %d: %d blocks read back, want %d", i, len(back.Blocks.BlockSet), len(m.Blocks.BlockSet))
		}
	}
}
