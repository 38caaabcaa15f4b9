// Package shell is the local adapter: it reads commands from standard input,
// one a line, runs them as one person, and prints each reply as plain text.
// Notifications print to the same output, so the whole bot can be tried, and
// scripted, without Slack or Discord.
package shell

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"opsbot/bot"
)

// Adapter runs lines through the router as one person.
type Adapter struct {
	Router *bot.Router
	Person bot.Person
	Out    io.Writer
	// Prompt is printed before each line when input is interactive.
	Prompt string
	// AfterEach, when set, runs after every command; the shell uses it to
	// deliver the notifications the command queued.
	AfterEach func(ctx context.Context)
	// Images is the folder a reply's pictures are written to, their paths
	// printed under the reply; DefaultImagesDir when empty.
	Images string
}

// Run reads lines until EOF, exit or quit, or until ctx ends. Blank lines
// and lines starting with # are skipped. A line too long to be a command,
// however long, is answered with the limit and skipped; the lines after it
// still run.
func (a *Adapter) Run(ctx context.Context, in io.Reader) error {
	br := bufio.NewReaderSize(in, 64*1024)
	for {
		if a.Prompt != "" {
			fmt.Fprint(a.Out, a.Prompt)
		}
		raw, chars, err := readLine(br, maxLineBytes)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read commands: %w", err)
		}
		if raw == nil && chars < 0 {
			if a.Prompt != "" {
				fmt.Fprintln(a.Out) // Ctrl-D: leave the terminal on a fresh line
			}
			break // end of input, nothing left
		}
		if ctx.Err() != nil {
			return nil
		}
		var reply bot.Reply
		if chars >= 0 {
			reply = bot.Reply{Text: bot.LineTooLong(chars).Error(), Severity: bot.SeverityDanger}
		} else {
			line := strings.TrimSpace(string(raw))
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if isExit(line) {
				break
			}
			reply = a.Router.Handle(ctx, bot.Incoming{Platform: bot.Shell, Person: a.Person, Channel: "shell",
				Line: line, Route: bot.Route{Platform: bot.Shell, Channel: "shell"}})
		}
		fmt.Fprint(a.Out, Render(reply))
		fmt.Fprint(a.Out, renderImages(a.Images, reply.Images))
		if a.AfterEach != nil {
			a.AfterEach(ctx)
		}
		if err == io.EOF {
			break
		}
	}
	return nil
}

// isExit reports whether line asks to leave the shell.
func isExit(line string) bool {
	switch strings.ToLower(strings.TrimPrefix(line, "/")) {
	case "exit", "quit":
		return true
	}
	return false
}

// maxLineBytes holds any line of bot.MaxLineLength characters, at four bytes
// each at most; longer lines are counted, not kept.
const maxLineBytes = bot.MaxLineLength * 4

// readLine reads one line without its end. A line longer than limit bytes
// is read to its end but not kept: raw is then empty and chars is its
// length in characters; otherwise chars is -1. At the end of input err is
// io.EOF, and raw is nil if nothing was left.
func readLine(br *bufio.Reader, limit int) (raw []byte, chars int, err error) {
	chars = -1
	var buf []byte
	for {
		part, err := br.ReadSlice('\n')
		if chars < 0 && len(buf)+len(part) > limit {
			chars, buf = countChars(buf), []byte{}
		}
		if chars >= 0 {
			chars += countChars(part)
		} else {
			buf = append(buf, part...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(buf) == 0 && chars < 0 {
				return nil, -1, io.EOF
			}
			return buf, chars, io.EOF
		case err != nil:
			return nil, -1, err
		}
		return bytes.TrimRight(buf, "\r\n"), chars, nil
	}
}

// countChars counts the characters of UTF-8 text by their first bytes, so a
// character split between two reads counts once; line ends do not count.
func countChars(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xC0 != 0x80 && c != '\n' && c != '\r' {
			n++
		}
	}
	return n
}

// Render prints a reply as readable plain text: the title, the text, the
// fields aligned, each button as the command it stands for, and each menu
// as the command to type with a few example choices.
func Render(r bot.Reply) string {
	var b strings.Builder
	marker := map[bot.Severity]string{bot.SeverityDanger: "✖ ", bot.SeverityWarning: "⚠ ", bot.SeveritySuccess: "✔ "}[r.Severity]
	if r.Title != "" {
		b.WriteString(marker + r.Title + "\n")
		marker = ""
	}
	if r.Text != "" {
		b.WriteString(marker + r.Text + "\n")
		marker = ""
	}
	if r.Code != "" {
		b.WriteString(marker + strings.TrimRight(r.Code, "\n") + "\n")
	}
	width := 0
	for _, f := range r.Fields {
		width = max(width, utf8.RuneCountInString(f.Name))
	}
	for _, f := range r.Fields {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.Name))
		value := strings.ReplaceAll(f.Value, "\n", "\n  "+strings.Repeat(" ", width+1))
		fmt.Fprintf(&b, "  %s:%s %s\n", f.Name, pad, value)
	}
	for _, btn := range r.Buttons {
		fmt.Fprintf(&b, "  [%s] %s\n", btn.Label, btn.Command)
	}
	for _, m := range r.Menus {
		if line := menuLine(m); line != "" {
			b.WriteString("  " + line + "\n")
		}
	}
	if r.Footer != "" {
		b.WriteString("  " + strings.ReplaceAll(r.Footer, "\n", "\n  ") + "\n")
	}
	if b.Len() == 0 {
		b.WriteString("(no reply)\n")
	}
	return b.String()
}

// menuExamples is how many of a menu's options the shell names.
const menuExamples = 3

// menuLine prints a menu as the command to type with a few of its choices:
// "Show a device: /device show NAME (e.g. core-sw-1, core-sw-2, …)".
func menuLine(m bot.Menu) string {
	cmd, sub, ok := m.Target()
	if !ok {
		return ""
	}
	label := strings.TrimSpace(m.Placeholder)
	if label == "" {
		label = "Pick one"
	}
	line := fmt.Sprintf("%s: %s %s", label, strings.TrimSpace("/"+cmd+" "+sub), strings.ToUpper(m.Param))
	var eg []string
	for _, c := range m.Options {
		if len(eg) == menuExamples {
			break
		}
		eg = append(eg, example(c.Value))
	}
	if len(m.Options) > menuExamples || (m.TypeAhead && len(eg) > 0) {
		eg = append(eg, "…")
	}
	if len(eg) > 0 {
		line += " (e.g. " + strings.Join(eg, ", ") + ")"
	}
	return line
}

// example is a choice as one would type it: quoted when it has spaces,
// quotes or a leading dash, so that pasting it runs what the menu would.
func example(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\"'“”‘’„\\") || strings.HasPrefix(v, "-") {
		return bot.Quote(v)
	}
	return v
}

// Sender prints each notification of the session as one line on the
// shell's output, for the embedded default's stand-in for channels and
// direct messages: "→ #helpdesk: #12 VPN drops", "→ #helpdesk (edited): …".
// A direct message to someone other than Person is theirs to read: the line
// names them only, and Others (the log) gets the message.
type Sender struct {
	mu  sync.Mutex
	Out io.Writer
	// Person is the name of the session's person.
	Person string
	// Others, when set, also delivers direct messages to other people.
	Others bot.Sender
	// Images is the folder for a notification's pictures, as the
	// Adapter's.
	Images string
	n      int
}

var _ bot.Sender = (*Sender)(nil)

// Post prints a new message for its destination.
func (s *Sender) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	ref := bot.MessageRef{Channel: to.Name, ID: fmt.Sprintf("shell-%d", s.n)}
	if s.someoneElse(to.Name) {
		fmt.Fprintf(s.Out, "→ %s: a direct message, theirs to read\n", to.Name)
		if s.Others != nil {
			if _, err := s.Others.Post(ctx, to, msg); err != nil {
				return bot.MessageRef{}, err
			}
		}
		return ref, nil
	}
	fmt.Fprintf(s.Out, "→ %s: %s\n", to.Name, Summary(msg.Reply))
	fmt.Fprint(s.Out, renderImages(s.Images, msg.Reply.Images))
	return ref, nil
}

// Update prints the new content of an earlier message.
func (s *Sender) Update(ctx context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.someoneElse(ref.Channel) {
		fmt.Fprintf(s.Out, "→ %s (edited): a direct message, theirs to read\n", ref.Channel)
		if s.Others != nil {
			return s.Others.Update(ctx, ref, msg)
		}
		return nil
	}
	fmt.Fprintf(s.Out, "→ %s (edited): %s\n", ref.Channel, Summary(msg.Reply))
	fmt.Fprint(s.Out, renderImages(s.Images, msg.Reply.Images))
	return nil
}

// someoneElse reports whether name (@alice, #helpdesk) is a person other
// than the session's.
func (s *Sender) someoneElse(name string) bool {
	return strings.HasPrefix(name, "@") && s.Person != "" && name != "@"+s.Person
}

// Summary is a reply in one line: its title and the first line of its
// text, at most 200 characters.
func Summary(r bot.Reply) string {
	line, _, _ := strings.Cut(strings.TrimSpace(r.Fallback()), "\n")
	if r := []rune(line); len(r) > 200 {
		line = string(r[:199]) + "…"
	}
	if line == "" {
		return "(empty)"
	}
	return line
}
