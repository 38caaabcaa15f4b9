package discord

import (
	"regexp"
	"strings"

	"opsbot/bot"
)

// Plain turns Discord text into what the person typed: a mention of a
// user, <@ID> or <@!ID>, becomes @name when the person is configured and
// @discord:ID otherwise (which Markdown shows as a mention again).
func Plain(dir *bot.Directory, s string) string {
	return userMention.ReplaceAllStringFunc(s, func(m string) string {
		id := userMention.FindStringSubmatch(m)[1]
		if p := dir.ByDiscord(id); p.Known {
			return p.Mention()
		}
		return "@discord:" + id
	})
}

var (
	userMention = regexp.MustCompile(`<@!?([0-9]{1,20})>`)
	// idMention is how opsbot names a Discord user it has no name for.
	idMention = regexp.MustCompile(`@discord:([0-9]{1,20})\b`)
	// bareURL is a URL Discord links by itself, showing its address.
	// A backslash ends it too, so it cannot carry one into the text.
	bareURL = regexp.MustCompile(`https?://[^\s<>|\[\]\\]+`)
	// blockStart is what makes a line a heading (#, ##, ###, -#), a quote
	// (>, >>>), a list item (-, *, +, 1.) or nothing but the start of
	// one, after any indentation.
	blockStart = regexp.MustCompile(`(?m)^([ \t]*)(#|-|>|\+)`)
	// listNumber starts a numbered list item; its dot is escaped, since a
	// backslash before a digit would show.
	listNumber = regexp.MustCompile(`(?m)^([ \t]*[0-9]+)\.`)
)

// markdown is the one rule for plain text in a Discord message's content,
// embed description or field value, where Discord renders Markdown: every
// character that can start markup (emphasis, code, spoilers, masked links
// [x](url), mentions and timestamps <…>) is escaped with a backslash, as
// is what would make a line a heading, quote or list; bare URLs are left
// whole, since Discord links them showing their address and a backslash
// would change them. @discord:ID, how opsbot names someone it knows only
// by id, becomes a mention, which pings nobody: messages carry empty
// allowed_mentions.
func markdown(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range bareURL.FindAllStringIndex(s, -1) {
		b.WriteString(escapeMarkup(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(escapeMarkup(s[last:]))
	out := blockStart.ReplaceAllString(b.String(), `$1\$2`)
	out = listNumber.ReplaceAllString(out, `$1\.`)
	return idMention.ReplaceAllString(out, "<@$1>")
}

// markup are the characters that open Markdown anywhere in a line.
var markup = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `_`, `\_`, `~`, `\~`, "`", "\\`", `|`, `\|`,
	`[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`)

func escapeMarkup(s string) string { return markup.Replace(s) }

// codeBlock is output in a code block of at most n characters, with runs
// of three backquotes broken so the output cannot end the block early.
func codeBlock(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimRight(s, "\n"), "```", "`\u200b`\u200b`")
	return "```\n" + cut(s, n-8) + "\n```"
}
