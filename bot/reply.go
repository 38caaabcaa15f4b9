package bot

import (
	"strings"
	"unicode/utf8"
)

// Severity colours a reply: Slack attachment colours, Discord embed colours,
// a marker in plain text.
type Severity string

// The severities a reply can carry.
const (
	SeverityNone    Severity = ""
	SeverityInfo    Severity = "info"
	SeveritySuccess Severity = "success"
	SeverityWarning Severity = "warning"
	SeverityDanger  Severity = "danger"
)

// Reply is what a handler answers, in no platform's format. Adapters render
// it as Block Kit, a Discord embed with components, or plain text.
type Reply struct {
	Title string `json:"title,omitempty"`
	// Text and every other string of a reply are plain text, typed by
	// people as often as written by opsbot; each adapter escapes them for
	// its platform's markup, so none of them can carry a link, a mention
	// or formatting. "@slack:ID" and "@discord:ID", how opsbot names
	// someone it knows only by a platform id, become mentions where the
	// platform renders them.
	Text string `json:"text,omitempty"`
	// Code is output shown as it is, in a code block (a job's log).
	Code    string   `json:"code,omitempty"`
	Fields  []Field  `json:"fields,omitempty"`
	Buttons []Button `json:"buttons,omitempty"`
	// Menus offer a choice among many values for one argument of a command
	// (a device, a ticket): a select menu on Slack and Discord, the command
	// to type with a few examples in plain text.
	Menus    []Menu   `json:"menus,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Footer   string   `json:"footer,omitempty"`
	// InChannel shows the reply to everyone in the channel; otherwise only
	// the person who asked sees it (errors, personal views).
	InChannel bool `json:"in_channel,omitempty"`
	// Images are pictures the reply carries (a digest's charts): uploaded
	// as files on Slack, attachments on Discord, written to a folder by the
	// shell. The outbox stores them with the rest of the reply, so a
	// platform outage loses none.
	Images []Image `json:"images,omitempty"`
}

// Image is one picture of a reply.
type Image struct {
	// Name is the file name, e.g. "uptime-week.png".
	Name string `json:"name"`
	// Title is shown with the picture; it is unique within one reply, so an
	// upload whose outcome is unknown can be looked up by it.
	Title string `json:"title"`
	// Alt says in words what the picture shows, for screen readers and
	// clients that show no images.
	Alt string `json:"alt,omitempty"`
	// Type is the media type, "image/png".
	Type string `json:"type"`
	Data []byte `json:"data"`
}

// Field is one labelled value of a reply.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Short fields may sit side by side.
	Short bool `json:"short,omitempty"`
}

// Button carries a text command: a click runs exactly what typing Command
// would, as the person who clicked.
type Button struct {
	Label   string      `json:"label"`
	Command string      `json:"command"`
	Style   ButtonStyle `json:"style,omitempty"`
}

// Menu lets a person pick the value of one argument of a command: choosing
// runs Command followed by the chosen value as one quoted argument, as the
// person who chose, through the router, exactly as typing it would. Where a
// platform limits a menu (Slack shows 100 options, Discord 25) and the
// argument has a completer, the menu loads its options as the person types
// (Slack), or the slash command's autocomplete is pointed out (Discord).
type Menu struct {
	// Placeholder is the menu's prompt: "Show a device".
	Placeholder string `json:"placeholder,omitempty"`
	// Command is "/COMMAND SUB", or "/COMMAND" for a command without
	// subcommands: the command line the choice completes.
	Command string `json:"command"`
	// Param names the subcommand's first positional argument, which the
	// choice fills; its Complete, when set, answers type-ahead.
	Param string `json:"param"`
	// Options are the choices offered without typing: the reply's own list
	// (its first 25 show on Discord). When empty, the router fills them from
	// the argument's completer.
	Options []Choice `json:"options,omitempty"`
	// TypeAhead says the argument has a completer, so the platforms may
	// search beyond Options. The router sets it for replies it runs;
	// notifications set it themselves.
	TypeAhead bool `json:"type_ahead,omitempty"`
}

// MaxMenuOptions is how many options the router fills a menu with from the
// argument's completer: Discord's limit, the smallest of the platforms.
const MaxMenuOptions = 25

// Target splits Command into the command's and subcommand's names, lower
// case and without the slash; ok is false when Command or Param is not a
// plain "/command [sub]" and argument name, and the menu must not be shown.
func (m Menu) Target() (command, sub string, ok bool) {
	words := strings.Fields(m.Command)
	if len(words) == 0 || len(words) > 2 || !strings.HasPrefix(words[0], "/") || !isName(m.Param) {
		return "", "", false
	}
	command = strings.ToLower(strings.TrimPrefix(words[0], "/"))
	if len(words) == 2 {
		sub = strings.ToLower(words[1])
	}
	if !isName(command) || (sub != "" && !isName(sub)) {
		return "", "", false
	}
	return command, sub, true
}

// isName reports whether s is a command, subcommand or argument name:
// letters, digits, - and _, at most 32 characters.
func isName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// MenuLine is the command line a menu choice runs: /COMMAND [SUB] and the
// value quoted so the parser reads it back as exactly one argument, never a
// flag, whatever it contains.
func MenuLine(command, sub, value string) string {
	line := "/" + command
	if sub != "" {
		line += " " + sub
	}
	return line + " " + Quote(value)
}

// Quote wraps s in double quotes so that the parser reads it back as one
// word, never a flag, with exactly s as its text. Bytes that are not UTF-8
// are kept as they are, so the parser refuses the line rather than reading
// a different value.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\\' || r == '"' || r == '”' {
			b.WriteByte('\\')
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// ButtonStyle is a button's emphasis.
type ButtonStyle string

// The button styles platforms offer.
const (
	ButtonDefault ButtonStyle = ""
	ButtonPrimary ButtonStyle = "primary"
	ButtonDanger  ButtonStyle = "danger"
)

// Fallback is the reply as one line of plain text, for notifications and
// platforms' fallback text.
func (r Reply) Fallback() string {
	switch {
	case r.Title != "" && r.Text != "":
		return r.Title + ": " + r.Text
	case r.Title != "":
		return r.Title
	default:
		return r.Text
	}
}

// Text builds a plain ephemeral reply.
func Text(s string) Reply { return Reply{Text: s} }
