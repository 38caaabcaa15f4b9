// Package shell is the local adapter: it reads commands from standard input,
// one a line, runs them as one person, and prints each reply as plain text.
// Notifications print to the same output, so the whole bot can be tried, and
// scripted, without Slack or Discord.
package shell

import (
	"bufio"
	"context"
	"errors"
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
}

// Run reads lines until EOF or ctx ends. Blank lines and lines starting with
// # are skipped.
func (a *Adapter) Run(ctx context.Context, in io.Reader) error {
	r := bufio.NewReaderSize(in, 64*1024)
	for {
		if a.Prompt != "" {
			fmt.Fprint(a.Out, a.Prompt)
		}
		raw, size, err := readLine(r, maxRead)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read commands: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		var reply bot.Reply
		if size > maxRead {
			// Too long to keep: refused as the router refuses a long line,
			// without holding it in memory.
			reply = bot.Reply{Severity: bot.SeverityDanger,
				Text: fmt.Sprintf("that command is %d characters long; the limit is %d", size, bot.MaxLineLength)}
		} else {
			line := strings.TrimSpace(raw)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			reply = a.Router.Handle(ctx, bot.Incoming{Platform: bot.Shell, Person: a.Person, Channel: "shell",
				Line: line, Route: bot.Route{Platform: bot.Shell, Channel: "shell"}})
		}
		fmt.Fprint(a.Out, Render(reply))
		if a.AfterEach != nil {
			a.AfterEach(ctx)
		}
	}
	if a.Prompt != "" {
		fmt.Fprintln(a.Out)
	}
	return nil
}

// maxRead is the longest line the shell keeps; the router refuses anything
// over bot.MaxLineLength itself, with its own message.
const maxRead = bot.MaxLineLength * 4

// readLine reads one line without its line end. A line longer than max is
// read to its end but not kept: line is then empty and size its length.
// At the end of the input it returns io.EOF.
func readLine(r *bufio.Reader, max int) (line string, size int, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		size += len(chunk)
		if size <= max+2 { // room for "\r\n"
			buf = append(buf, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && size > 0:
			err = nil
		case err != nil:
			return "", 0, err
		}
		if strings.HasSuffix(string(chunk), "\n") {
			size--
			if strings.HasSuffix(string(chunk), "\r\n") {
				size--
			}
		}
		if size > max {
			return "", size, nil
		}
		return strings.TrimRight(string(buf), "\r\n"), size, nil
	}
}

// Render prints a reply as readable plain text: the title, the text, the
// fields aligned, and each button as the command it stands for.
func Render(r bot.Reply) string {
	var b strings.Builder
	marker := map[bot.Severity]string{bot.SeverityDanger: "✖ ", bot.SeverityWarning: "⚠ ", bot.SeveritySuccess: "✔ "}[r.Severity]
	if r.Title != "" {
		b.WriteString(marker + r.Title + "\n")
		marker = ""
	}
	if r.Text != "" {
		b.WriteString(marker + r.Text + "\n")
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
	if r.Footer != "" {
		b.WriteString("  " + r.Footer + "\n")
	}
	if b.Len() == 0 {
		b.WriteString("(no reply)\n")
	}
	return b.String()
}

// Sender prints notifications to the shell's output: the embedded default's
// stand-in for channels and direct messages.
type Sender struct {
	mu  sync.Mutex
	Out io.Writer
	n   int
}

var _ bot.Sender = (*Sender)(nil)

// Post prints a new message for its destination.
func (s *Sender) Post(_ context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	fmt.Fprintf(s.Out, "→ %s\n%s", to.Name, indent(Render(msg.Reply)))
	return bot.MessageRef{Channel: to.Name, ID: fmt.Sprintf("shell-%d", s.n)}, nil
}

// Update prints the new content of an earlier message.
func (s *Sender) Update(_ context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.Out, "→ %s (update)\n%s", ref.Channel, indent(Render(msg.Reply)))
	return nil
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "")
}
