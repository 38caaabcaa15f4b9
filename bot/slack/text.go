package slack

import (
	"regexp"
	"strings"

	"opsbot/bot"
)

// Plain turns text as Slack sends it into the text the person typed. With
// should_escape on (docs/slack-app-manifest.yaml), Slack sends &, < and >
// as entities and wraps what it recognised in angle brackets: people
// <@U123|dave>, channels <#C123|general>, links <https://x|label> and
// special mentions <!here>. A person becomes @name when configured and
// @slack:ID otherwise (which the renderers show as a mention again), a
// channel #name, a link its URL (with its label when that differs), and a
// special mention @here, @channel or the group's or date's own text.
func Plain(dir *bot.Directory, s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(Unescape(s))
			return b.String()
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.WriteString(Unescape(s))
			return b.String()
		}
		b.WriteString(Unescape(s[:i]))
		b.WriteString(token(dir, s[i+1:i+j]))
		s = s[i+j+1:]
	}
}

// token is one bracketed token of Slack text, as the person typed it.
func token(dir *bot.Directory, inner string) string {
	target, label, _ := strings.Cut(inner, "|")
	target, label = Unescape(target), Unescape(label)
	switch {
	case strings.HasPrefix(target, "@"):
		id := target[1:]
		if !slackID.MatchString(id) {
			return "<" + Unescape(inner) + ">"
		}
		if p := dir.BySlack(id); p.Known {
			return p.Mention()
		}
		return "@slack:" + id
	case strings.HasPrefix(target, "#"):
		if label != "" {
			return "#" + label
		}
		return target
	case strings.HasPrefix(target, "!"):
		special := target[1:]
		switch special {
		case "here", "channel", "everyone":
			return "@" + special
		}
		if label != "" {
			return label
		}
		return "@" + strings.SplitN(special, "^", 2)[0]
	case strings.Contains(target, ":"):
		shown := strings.TrimPrefix(target, "mailto:")
		if label == "" || label == target || label == shown {
			return shown
		}
		return label + " (" + shown + ")"
	}
	return "<" + Unescape(inner) + ">"
}

// slackID is a Slack user id: U… or W… (Enterprise Grid).
var slackID = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,31}$`)

// mrkdwn is plain text made safe for Slack's mrkdwn, the one rule for
// every string of a reply: &, < and > become entities, so nothing in it
// can form a link, a mention or <!here>; bare http(s) URLs become links
// that show their own address (never a label); and @slack:ID, how opsbot
// names someone it knows only by id, becomes a mention. Sections are sent
// verbatim, so Slack adds no links or mentions of its own. mrkdwn's
// emphasis (*bold*, _italic_, ~strike~, `code`) cannot hide or fake
// anything, so it is left as typed; Slack has no way to escape it.
func mrkdwn(s string) string {
	s = escape(s)
	// Most answers have neither; a substring search is much cheaper than
	// running a regular expression over the whole text to find nothing.
	if strings.Contains(s, "://") {
		s = linkBareURLs(s)
	}
	if strings.Contains(s, "@slack:") {
		s = idMention.ReplaceAllString(s, "<@$1>")
	}
	return s
}

func linkBareURLs(s string) string {
	return bareURL.ReplaceAllStringFunc(s, func(u string) string {
		link := u
		for _, entity := range []string{"&lt;", "&gt;"} {
			if i := strings.Index(link, entity); i >= 0 {
				link = link[:i]
			}
		}
		link = strings.TrimRight(link, ".,;:!?)'\"")
		return "<" + link + ">" + u[len(link):]
	})
}

var (
	// bareURL is a URL in escaped text; | ends it, since <url|label>
	// would show the label instead of the address.
	bareURL = regexp.MustCompile(`https?://[^\s|<>]+`)
	// idMention is how opsbot names a Slack user it has no name for.
	idMention = regexp.MustCompile(`@slack:([A-Z][A-Z0-9]{1,31})\b`)
)

// codeBlock is output in a code block of at most n characters: escaped,
// and with runs of three backquotes broken so the output cannot end the
// block early.
func codeBlock(s string, n int) string {
	s = strings.ReplaceAll(escape(strings.TrimRight(s, "\n")), "```", "`\u200b`\u200b`")
	return "```\n" + cut(s, n-8) + "\n```"
}
