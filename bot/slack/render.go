package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"opsbot/bot"
)

// Block Kit limits; longer content is cut with an ellipsis rather than
// rejected by Slack.
const (
	maxHeader      = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxButtons     = 25
	maxButtonLabel = 75
	maxButtonValue = 2000
	maxFallback    = 3000
	maxMenus       = 5
	maxPlaceholder = 150
)

// Message is a reply in Slack's shape: plain-text fallback plus blocks.
type Message struct {
	Text   string
	Blocks []slack.Block
	// InChannel shows the message to the whole channel.
	InChannel bool
}

// severityEmoji marks a reply's severity at the start of its first block;
// emoji work the same in ephemeral replies, messages and updates, where an
// attachment colour bar would not.
var severityEmoji = map[bot.Severity]string{
	bot.SeverityInfo:    ":large_blue_circle:",
	bot.SeveritySuccess: ":large_green_circle:",
	bot.SeverityWarning: ":large_orange_circle:",
	bot.SeverityDanger:  ":red_circle:",
}

// Render turns a platform-neutral reply into Block Kit: a header for the
// title, a section for the text, sections for the fields, a context for the
// footer and an actions block whose buttons carry their text commands.
func Render(r bot.Reply) Message {
	m := Message{InChannel: r.InChannel}
	emoji := severityEmoji[r.Severity]
	m.Text = cut(mrkdwn(r.Fallback()), maxFallback)
	if emoji != "" {
		m.Text = emoji + " " + m.Text
	}
	if r.Title != "" {
		title := r.Title
		if emoji != "" {
			title = emoji + " " + title
			emoji = ""
		}
		m.Blocks = append(m.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut(title, maxHeader), true, false)))
	}
	if r.Text != "" {
		text := mrkdwn(r.Text)
		if emoji != "" {
			text = emoji + " " + text
			emoji = ""
		}
		m.Blocks = append(m.Blocks, section(text))
	}
	if r.Code != "" {
		text := codeBlock(r.Code, maxSectionText)
		if emoji != "" {
			text = emoji + "\n" + text
		}
		m.Blocks = append(m.Blocks, section(text))
	}
	var short []*slack.TextBlockObject
	flush := func() {
		for len(short) > 0 {
			n := min(len(short), maxFields)
			m.Blocks = append(m.Blocks, slack.NewSectionBlock(nil, short[:n], nil))
			short = short[n:]
		}
	}
	for _, f := range r.Fields {
		text := fmt.Sprintf("*%s*\n%s", escape(f.Name), mrkdwn(f.Value))
		if f.Short {
			short = append(short, slack.NewTextBlockObject(slack.MarkdownType, cut(text, maxFieldText), false, true))
			continue
		}
		flush()
		m.Blocks = append(m.Blocks, section(text))
	}
	flush()
	if r.Footer != "" {
		m.Blocks = append(m.Blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, cut(mrkdwn(r.Footer), maxFieldText), false, true)))
	}
	if len(r.Buttons) > 0 {
		var els []slack.BlockElement
		for i, b := range r.Buttons[:min(len(r.Buttons), maxButtons)] {
			if len(b.Command) > maxButtonValue {
				// A cut command would run something else; leave it out.
				continue
			}
			btn := slack.NewButtonBlockElement(fmt.Sprintf("opsbot_%d", i), b.Command,
				slack.NewTextBlockObject(slack.PlainTextType, cut(b.Label, maxButtonLabel), true, false))
			switch b.Style {
			case bot.ButtonPrimary:
				btn.Style = slack.StylePrimary
			case bot.ButtonDanger:
				btn.Style = slack.StyleDanger
			}
			els = append(els, btn)
		}
		if len(els) > 0 {
			m.Blocks = append(m.Blocks, slack.NewActionBlock("opsbot_actions", els...))
		}
	}
	if els := menus(r.Menus); len(els) > 0 {
		m.Blocks = append(m.Blocks, slack.NewActionBlock("opsbot_menus", els...))
	}
	if m.Text == "" {
		// Slack refuses a message without text or blocks.
		m.Text = " "
	}
	return m
}

// menus renders each menu as a select whose action_id names the argument it
// fills (complete:COMMAND:SUB:PARAM). Over an argument with a completer it
// is an external_select: Slack asks for options as the person types, and
// the block_suggestion handler answers from the completer, so the menu is
// not limited to the 100 options a message may hold. Otherwise it is a
// static_select of the reply's options. A choice arrives as a block_actions
// payload whose selected option's value goes into the command, quoted.
// Two menus for the same argument would share an action_id, which Slack
// refuses, so the second is left out.
func menus(ms []bot.Menu) []slack.BlockElement {
	var els []slack.BlockElement
	seen := map[string]bool{}
	for _, menu := range ms {
		cmd, sub, ok := menu.Target()
		id := CompletePrefix + cmd + ":" + sub + ":" + menu.Param
		if !ok || seen[id] || len(els) == maxMenus {
			continue
		}
		placeholder := menu.Placeholder
		if strings.TrimSpace(placeholder) == "" {
			placeholder = "Choose…"
		}
		text := slack.NewTextBlockObject(slack.PlainTextType, cut(placeholder, maxPlaceholder), false, false)
		if menu.TypeAhead {
			sel := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, text, id)
			zero := 0
			sel.MinQueryLength = &zero
			els = append(els, sel)
			seen[id] = true
			continue
		}
		var opts []*slack.OptionBlockObject
		for _, c := range menu.Options {
			if c.Value == "" || len(c.Value) > maxOptionValue || len(opts) == maxOptions {
				continue
			}
			opts = append(opts, slack.NewOptionBlockObject(c.Value,
				slack.NewTextBlockObject(slack.PlainTextType, cut(orValue(c), maxOptionText), false, false), nil))
		}
		if len(opts) == 0 {
			continue
		}
		els = append(els, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, text, id, opts...))
		seen[id] = true
	}
	return els
}

// orValue is a choice's label, or its value when it has none: Slack refuses
// an option without text.
func orValue(c bot.Choice) string {
	if strings.TrimSpace(c.Label) == "" {
		return c.Value
	}
	return c.Label
}

// section is a mrkdwn section of text already made safe. verbatim keeps
// Slack from finding links, channels and mentions in it on its own.
func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(text, maxSectionText), false, true), nil, nil)
}

// Webhook is the message as a response_url body or an HTTP command answer.
func (m Message) Webhook(replaceOriginal bool) *slack.WebhookMessage {
	w := &slack.WebhookMessage{Text: m.Text, ResponseType: "ephemeral", ReplaceOriginal: replaceOriginal}
	if m.InChannel {
		w.ResponseType = "in_channel"
	}
	if len(m.Blocks) > 0 {
		w.Blocks = &slack.Blocks{BlockSet: m.Blocks}
	}
	return w
}

// webhookJSON is a WebhookMessage as JSON. Its blocks are encoded as a
// plain list: through slack.Blocks' MarshalJSON, encoding/json would
// marshal them on their own and then re-read the whole result to compact
// it, a fifth of what answering /help cost. The bytes mean the same (the
// "blocks" key comes last).
func webhookJSON(m *slack.WebhookMessage) ([]byte, error) {
	return json.Marshal(flatWebhook(m))
}

// flatWebhook is m with its blocks as a plain list, for encoding/json.
func flatWebhook(m *slack.WebhookMessage) any {
	if m == nil || m.Blocks == nil {
		return m
	}
	return struct {
		*slack.WebhookMessage
		Blocks []slack.Block `json:"blocks,omitempty"`
	}{m, m.Blocks.BlockSet}
}

// escaper turns the three characters Slack's mrkdwn treats as markup into
// entities, so user text cannot form links or mentions.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

// unescaper undoes Slack's escaping of command text.
var unescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// Unescape turns the entities Slack puts into command text back into the
// characters the person typed.
func Unescape(s string) string { return unescaper.Replace(s) }

// cut shortens s to at most n characters, ending with an ellipsis when cut,
// without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
