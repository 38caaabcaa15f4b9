package slack

import (
	"testing"

	"opsbot/bot"
	"opsbot/config"
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
