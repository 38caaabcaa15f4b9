package bot

import (
	"context"
	"fmt"
	"strings"
)

// Kind is the type of a command argument or flag.
type Kind int

// The argument kinds the parser understands.
const (
	// KindString is one word or one quoted string.
	KindString Kind = iota
	// KindText takes every remaining positional word, so quotes are optional.
	KindText
	// KindInt is a whole number.
	KindInt
	// KindID is a record number, typed as 12 or #12.
	KindID
	// KindDuration is 30m, 8h, 7d or 1d12h.
	KindDuration
	// KindPerson is a mention: <@U123> (Slack), <@123> (Discord) or @name.
	KindPerson
	// KindBool is a flag without a value: --mine.
	KindBool
	// KindChoice is one of Param.Choices, case-insensitive.
	KindChoice
)

// Param describes one positional argument or flag.
type Param struct {
	Name     string
	Kind     Kind
	Required bool
	Choices  []string
	// Placeholder names the value in usage lines; derived from Kind when empty.
	Placeholder string
	Help        string
	// Complete, when set, offers type-ahead values (Slack external_select
	// options, Discord autocomplete) for lists too long for a menu.
	Complete CompleteFunc
}

// placeholder is how the param appears in a usage line.
func (p Param) placeholder() string {
	if p.Placeholder != "" {
		return p.Placeholder
	}
	switch p.Kind {
	case KindID:
		return "N"
	case KindPerson:
		return "@PERSON"
	case KindDuration:
		return "DURATION"
	case KindInt:
		return "NUMBER"
	case KindChoice:
		return strings.Join(p.Choices, "|")
	case KindText:
		return `"` + strings.ToUpper(p.Name) + `"`
	default:
		return strings.ToUpper(p.Name)
	}
}

// HandlerFunc runs one request and returns the reply. An error that is a
// UserError becomes the reply; any other error is logged and the person sees
// a short "internal error" with a reference.
type HandlerFunc func(ctx context.Context, req *Request) (Reply, error)

// Sub is one subcommand: /ticket new, /access approve. A command without
// subcommands has one Sub with an empty Name.
type Sub struct {
	Name    string
	Summary string
	Args    []Param
	Flags   []Param
	// Roles, when set, lets only people holding one of them run it.
	Roles []string
	// Slow marks work that may take longer than a chat platform waits
	// (SNMP, backups, provisioning): adapters acknowledge first and deliver
	// the reply to the request's route.
	Slow bool
	// Ack is the acknowledgement text for slow commands; "Working on it…"
	// when empty.
	Ack func(req *Request) string
	Run HandlerFunc
}

// Command is one slash command and its subcommands.
type Command struct {
	Name    string
	Summary string
	Subs    []Sub
}

// Usage is the usage line of a subcommand: /ticket new "SUMMARY" [--priority ...].
func (c Command) Usage(s Sub) string {
	var b strings.Builder
	b.WriteString("/" + c.Name)
	if s.Name != "" {
		b.WriteString(" " + s.Name)
	}
	for _, a := range s.Args {
		if a.Required {
			fmt.Fprintf(&b, " %s", a.placeholder())
		} else {
			fmt.Fprintf(&b, " [%s]", a.placeholder())
		}
	}
	for _, f := range s.Flags {
		flag := "--" + f.Name
		if f.Kind != KindBool {
			flag += " " + f.placeholder()
		}
		if f.Required {
			fmt.Fprintf(&b, " %s", flag)
		} else {
			fmt.Fprintf(&b, " [%s]", flag)
		}
	}
	return b.String()
}

func (c Command) sub(name string) (Sub, bool) {
	for _, s := range c.Subs {
		if s.Name == name {
			return s, true
		}
	}
	return Sub{}, false
}

func (c Command) hasDefault() bool {
	_, ok := c.sub("")
	return ok
}

func (s Sub) param(name string) (Param, bool) {
	for _, f := range s.Flags {
		if f.Name == name {
			return f, true
		}
	}
	return Param{}, false
}
