package discord

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// Discord's limits on what a message may hold; past them the API answers 400.
const (
	maxContent          = 2000
	maxTitle            = 256
	maxEmbedDescription = 4096
	maxFields           = 25
	maxFieldName        = 256
	maxFieldValue       = 1024
	maxFooter           = 2048
	maxEmbedTotal       = 6000
	maxLabel            = 80
	maxCustomID         = 100
	buttonsPerRow       = 5
	maxRows             = 5
)

// Embed colours by severity.
var severityColour = map[bot.Severity]int{
	bot.SeverityInfo:    0x3498DB,
	bot.SeveritySuccess: 0x2ECC71,
	bot.SeverityWarning: 0xF1C40F,
	bot.SeverityDanger:  0xE74C3C,
}

// buttonPrefix marks a custom_id that holds a hash of a command too long
// for the custom_id itself; the command is in the discord_buttons table.
const buttonPrefix = "cmd:"

// Message is a rendered reply: what goes into a channel message, an
// interaction response or an edit.
type Message struct {
	Content    string                       `json:"content"`
	Embeds     []*discordgo.MessageEmbed    `json:"embeds"`
	Components []discordgo.MessageComponent `json:"components"`
	// AllowedMentions is always empty: text from people (a ticket summary
	// saying @everyone) must not ping anyone.
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
	// Attachments list the files a message carries (attach), each named by
	// the n of its files[n] part; Files are their bytes.
	Attachments []Attachment `json:"attachments,omitempty"`
	Files       []upload     `json:"-"`
	// Stored maps the hashes of commands too long for a custom_id to the
	// commands, which must be saved before the message is sent.
	Stored map[string]string `json:"-"`
}

// Render turns a reply into a Discord message: a plain text reply (or an
// empty one) as content, anything richer as one embed (title, description, fields inline
// when short, colour by severity, footer) with the buttons in action rows.
// Everything is cut to Discord's limits so the API never refuses it.
func Render(r bot.Reply) Message {
	m := Message{Embeds: []*discordgo.MessageEmbed{}, Components: []discordgo.MessageComponent{},
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}}
	if hint := menuHints(r.Menus); hint != "" {
		if r.Footer != "" {
			r.Footer += "\n"
		}
		r.Footer += hint
	}
	plain := r.Title == "" && len(r.Fields) == 0 && r.Footer == "" && r.Severity == bot.SeverityNone && r.Code == ""
	content := markdown(r.Text)
	switch {
	case plain && r.Text == "" && len(r.Buttons) == 0 && len(r.Menus) == 0:
		m.Content = "(no reply)"
	case plain && utf8.RuneCountInString(content) <= maxContent:
		m.Content = content
	default:
		// Content would repeat the embed above it, so it stays empty.
		m.Embeds = append(m.Embeds, embed(r))
	}
	m.Components, m.Stored = buttons(r.Buttons)
	m.Components = append(m.Components, selects(r.Menus, maxRows-len(m.Components))...)
	return m
}

// menuPrefix starts the custom_id of a string select; the command its
// choice completes follows: "menu:/device show". Command and subcommand
// names are at most 32 characters (bot.Menu.Target), so it always fits in
// a custom_id and, unlike a long button command, needs no stored hash.
const menuPrefix = "menu:"

// maxSelectOptions, maxOptionValue and maxPlaceholder are Discord's limits
// on a string select.
const (
	maxSelectOptions = 25
	maxOptionValue   = 100
	maxPlaceholder   = 150
)

// selects renders menus as string selects, one to an action row, in the
// rows the buttons left. Each shows the first 25 options; the chosen value
// arrives as a component interaction and runs the menu's command with the
// value as one quoted argument. A menu without options, or for the same
// command as an earlier one (custom_ids must be unique), is left out.
func selects(ms []bot.Menu, rows int) []discordgo.MessageComponent {
	out := []discordgo.MessageComponent{}
	seen := map[string]bool{}
	for _, menu := range ms {
		cmd, sub, ok := menu.Target()
		prefix := strings.TrimSpace("/" + cmd + " " + sub)
		if !ok || seen[prefix] || len(out) == rows {
			continue
		}
		var opts []discordgo.SelectMenuOption
		for _, c := range menu.Options {
			if c.Value == "" || utf8.RuneCountInString(c.Value) > maxOptionValue || len(opts) == maxSelectOptions {
				// A cut value would choose something else; leave it out.
				continue
			}
			opts = append(opts, discordgo.SelectMenuOption{Label: cut(orBlank(orValue(c)), maxLabel), Value: c.Value})
		}
		if len(opts) == 0 {
			continue
		}
		seen[prefix] = true
		id := menuPrefix + prefix
		placeholder := menu.Placeholder
		if strings.TrimSpace(placeholder) == "" {
			placeholder = "Choose…"
		}
		one := 1
		out = append(out, discordgo.ActionsRow{Components: []discordgo.MessageComponent{discordgo.SelectMenu{
			MenuType: discordgo.StringSelectMenu, CustomID: id, Placeholder: cut(placeholder, maxPlaceholder),
			MinValues: &one, MaxValues: 1, Options: opts}}})
	}
	return out
}

// menuHints points out, under a reply whose menus cover arguments with a
// completer, that the slash command itself searches them all as one types:
// a select shows at most 25.
func menuHints(ms []bot.Menu) string {
	var hints []string
	seen := map[string]bool{}
	for _, menu := range ms {
		cmd, sub, ok := menu.Target()
		if !ok || !menu.TypeAhead {
			continue
		}
		line := strings.TrimSpace("/" + cmd + " " + sub)
		if seen[line] {
			continue
		}
		seen[line] = true
		hints = append(hints, "Or type "+line+": Discord suggests matches as you type.")
	}
	return strings.Join(hints, "\n")
}

// orValue is a choice's label, or its value when it has none.
func orValue(c bot.Choice) string {
	if strings.TrimSpace(c.Label) == "" {
		return c.Value
	}
	return c.Label
}

func embed(r bot.Reply) *discordgo.MessageEmbed {
	budget := maxEmbedTotal
	take := func(s string, limit int) string {
		s = cut(s, min(limit, budget))
		budget -= utf8.RuneCountInString(s)
		return s
	}
	e := &discordgo.MessageEmbed{Color: severityColour[r.Severity]}
	e.Title = take(r.Title, maxTitle)
	if r.Footer != "" {
		e.Footer = &discordgo.MessageEmbedFooter{Text: take(r.Footer, maxFooter)}
	}
	desc := markdown(r.Text)
	if r.Code != "" {
		// The code block is cut to what is left, so it keeps its fences.
		if desc != "" {
			desc += "\n"
		}
		room := min(maxEmbedDescription, budget) - utf8.RuneCountInString(desc)
		if room > 16 {
			desc += codeBlock(r.Code, room)
		}
	}
	e.Description = take(desc, maxEmbedDescription)
	for i, f := range r.Fields {
		if i == maxFields || budget < 2 {
			break
		}
		name, value := orBlank(f.Name), orBlank(markdown(f.Value))
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{
			Name: take(name, maxFieldName), Value: take(value, maxFieldValue), Inline: f.Short})
	}
	return e
}

// orBlank stands in for an empty field name or value, which Discord refuses.
func orBlank(s string) string {
	if strings.TrimSpace(s) == "" {
		return "\u200b"
	}
	return s
}

// buttons lays buttons out five to a row, at most five rows. A command that
// fits in a custom_id travels in it; a longer one is stored by hash. A
// repeated command is dropped: custom_ids must be unique in a message.
func buttons(bs []bot.Button) ([]discordgo.MessageComponent, map[string]string) {
	rows := []discordgo.MessageComponent{}
	var stored map[string]string
	var row []discordgo.MessageComponent
	seen := map[string]bool{}
	n := 0
	for _, b := range bs {
		cmd := strings.TrimSpace(b.Command)
		if cmd == "" || seen[cmd] || n == buttonsPerRow*maxRows {
			continue
		}
		seen[cmd] = true
		n++
		id, long := CustomID(cmd)
		if long {
			if stored == nil {
				stored = map[string]string{}
			}
			stored[strings.TrimPrefix(id, buttonPrefix)] = cmd
		}
		row = append(row, discordgo.Button{Label: cut(orLabel(b), maxLabel), Style: buttonStyle(b.Style), CustomID: id})
		if len(row) == buttonsPerRow {
			rows = append(rows, discordgo.ActionsRow{Components: row})
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, discordgo.ActionsRow{Components: row})
	}
	return rows, stored
}

func orLabel(b bot.Button) string {
	if strings.TrimSpace(b.Label) == "" {
		return b.Command
	}
	return b.Label
}

func buttonStyle(s bot.ButtonStyle) discordgo.ButtonStyle {
	switch s {
	case bot.ButtonPrimary:
		return discordgo.PrimaryButton
	case bot.ButtonDanger:
		return discordgo.DangerButton
	default:
		return discordgo.SecondaryButton
	}
}

// CustomID is the custom_id of a button that runs command: the command
// itself when it fits, else "cmd:" and a hash of it, with long true.
func CustomID(command string) (id string, long bool) {
	if len(command) <= maxCustomID {
		return command, false
	}
	return buttonPrefix + buttonHash(command), true
}

func buttonHash(command string) string {
	sum := sha256.Sum256([]byte(command))
	return hex.EncodeToString(sum[:16])
}

// cut shortens s to at most n characters, ending in an ellipsis when cut.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
