package bot

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
	Title    string   `json:"title,omitempty"`
	Text     string   `json:"text,omitempty"`
	Fields   []Field  `json:"fields,omitempty"`
	Buttons  []Button `json:"buttons,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Footer   string   `json:"footer,omitempty"`
	// InChannel shows the reply to everyone in the channel; otherwise only
	// the person who asked sees it (errors, personal views).
	InChannel bool `json:"in_channel,omitempty"`
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
