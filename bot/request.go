// Package bot holds the platform-neutral side of opsbot: the request a person
// sends, the reply a handler returns, the command table, the parser that turns a
// line of text into a request, and the router that runs it. Platform adapters
// live in sub-packages; nothing here knows Slack or Discord.
package bot

import "time"

// Platform names where a request came from or where a message goes.
type Platform string

// The platforms opsbot speaks.
const (
	Slack   Platform = "slack"
	Discord Platform = "discord"
	Shell   Platform = "shell"
	Log     Platform = "log"
)

// Route is where the result of a request is delivered when it is not the
// immediate answer: adapters fill in what their platform needs (Slack's
// response_url, Discord's interaction token) and read it back.
type Route struct {
	Platform    Platform `json:"platform"`
	Channel     string   `json:"channel,omitempty"`
	Thread      string   `json:"thread,omitempty"`
	ResponseURL string   `json:"response_url,omitempty"`
	Token       string   `json:"-"`
	MessageID   string   `json:"message_id,omitempty"`
}

// Request is one command from one person, parsed and checked against the
// command table. Handlers read their typed arguments through its accessors.
type Request struct {
	// ID identifies the request in logs and in "internal error" replies.
	ID       string
	Platform Platform
	Person   Person
	// Channel is the platform's id of the channel the command was typed in.
	Channel string
	// Command and Sub name the entry of the command table that matched.
	Command string
	Sub     string
	// Line is the command line as typed, for the audit log.
	Line  string
	Route Route
	// At is when the request arrived.
	At time.Time

	values map[string]any
}

// NewRequest builds a request with the given typed values; tests and adapters
// that bypass the parser use it.
func NewRequest(command, sub string, values map[string]any) *Request {
	if values == nil {
		values = map[string]any{}
	}
	return &Request{Command: command, Sub: sub, values: values}
}

// Has reports whether the argument or flag name was given.
func (r *Request) Has(name string) bool {
	_, ok := r.values[name]
	return ok
}

// String returns a string, text or choice argument, or "" when absent.
func (r *Request) String(name string) string {
	s, _ := r.values[name].(string)
	return s
}

// Int returns an integer or id argument, or 0 when absent.
func (r *Request) Int(name string) int64 {
	n, _ := r.values[name].(int64)
	return n
}

// Duration returns a duration argument, or 0 when absent.
func (r *Request) Duration(name string) time.Duration {
	d, _ := r.values[name].(time.Duration)
	return d
}

// Bool returns a boolean flag, false when absent.
func (r *Request) Bool(name string) bool {
	b, _ := r.values[name].(bool)
	return b
}

// PersonArg returns a person argument and whether it was given.
func (r *Request) PersonArg(name string) (Person, bool) {
	p, ok := r.values[name].(Person)
	return p, ok
}

// Strings returns a repeatable string argument.
func (r *Request) Strings(name string) []string {
	s, _ := r.values[name].([]string)
	return s
}

// Set stores a typed value; adapters that receive structured options use it.
func (r *Request) Set(name string, v any) {
	if r.values == nil {
		r.values = map[string]any{}
	}
	r.values[name] = v
}

// Name is "command sub", the key used in metrics, logs and the audit log.
func (r *Request) Name() string {
	if r.Sub == "" {
		return r.Command
	}
	return r.Command + " " + r.Sub
}
