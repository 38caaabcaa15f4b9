package discord

import (
	"regexp"
	"testing"

	"opsbot/bot"
	"opsbot/config"
)

func TestPlainResolvesMentions(t *testing.T) {
	t.Parallel()
	dir := bot.NewDirectory([]config.Person{{Name: "bob", DiscordID: bobID}})
	for in, want := range map[string]string{
		"ask <@" + bobID + "> now":       "ask @bob now",
		"ask <@!" + bobID + ">":          "ask @bob",
		"for <@100000000000000009> pls":  "for @discord:100000000000000009 pls",
		"role <@&300> channel <#200> ok": "role <@&300> channel <#200> ok",
	} {
		if got := Plain(dir, in); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}

// unescaped finds a character that opens Markdown without a backslash
// before it.
var unescaped = regexp.MustCompile(`(^|[^\\])(\\\\)*[\[\]<*_~|` + "`" + `]`)

func TestMarkdownIsTheOneRule(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"[Click to approve](https://evil.example/approve)": `\[Click to approve\](https://evil.example/approve)`,
		"# Heading\n  ## two\n-# small\n> quote\n1. item":  "\\# Heading\n  \\## two\n\\-# small\n\\> quote\n1\\. item",
		"||spoiler|| **b** _i_ ~~s~~ `c` \\":               `\|\|spoiler\|\| \*\*b\*\* \_i\_ \~\~s\~\~ \` + "`c\\`" + ` \\`,
		"<@100000000000000002> <#1> <t:1:R> @everyone":     `\<@100000000000000002\> \<#1\> \<t:1:R\> @everyone`,
		"see https://a.example/x_y?q=1&r=2.":               "see https://a.example/x_y?q=1&r=2.",
		"ticket #12 for @discord:100000000000000009":       "ticket #12 for <@100000000000000009>",
	} {
		if got := markdown(in); got != want {
			t.Errorf("markdown(%q) = %q, want %q", in, got, want)
		}
	}
	// Whatever the text, what Markdown reads outside URLs is escaped.
	for _, in := range []string{"a[b]c", "x<y>z", "\\[x](y)", "**", "\\\\*"} {
		if got := markdown(in); unescaped.MatchString(got) {
			t.Errorf("markdown(%q) = %q leaves markup live", in, got)
		}
	}
}
