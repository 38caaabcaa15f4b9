package bot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opsbot/config"
	"opsbot/suggest"
)

// MaxLineLength bounds a command line, in characters; longer input is
// refused before parsing.
const MaxLineLength = 8000

// LineTooLong is the error for a command line of n characters, more than
// MaxLineLength.
func LineTooLong(n int) error {
	return Errorf("that command is %d characters long; the limit is %d", n, MaxLineLength)
}

// Token is one word of a command line.
type Token struct {
	Text string
	// Quoted tokens are never flags, even when they start with "--".
	Quoted bool
}

// closing maps each opening quote to the quotes that close it. Chat clients
// turn straight quotes into typographic ones, so both are accepted.
var closing = map[rune]string{
	'"': `"”`, '“': `”"`, '”': `”"`, '„': `“”"`,
	'\'': `'’`, '‘': `’'`, '’': `’'`,
}

func isDoubleQuote(r rune) bool { return r == '"' || r == '“' || r == '”' || r == '„' }

// Tokenize splits a command line into words. Double or single quotes (straight
// or typographic) group words, and a double-quoted part may follow a flag's
// "=" (--reason="disk full"); inside quotes a backslash escapes the next
// character. An apostrophe inside a word is just a letter (doesn't). It never
// panics; an unterminated double quote is an error.
func Tokenize(line string) ([]Token, error) {
	// The limit is in characters, as people count them; a line of
	// multi-byte letters is no longer for it.
	if n := utf8.RuneCountInString(line); n > MaxLineLength {
		return nil, LineTooLong(n)
	}
	if !utf8.ValidString(line) {
		return nil, Errorf("that command is not valid UTF-8 text")
	}
	for i, r := range []rune(line) {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return nil, Errorf("that command contains a control character at character %d; type plain text", i+1)
		}
		if bidiControl(r) {
			// An override or isolate flips how the rest of a line is shown,
			// so a summary could disguise the list line or card it lands in.
			return nil, Errorf("that command contains an invisible text-direction character (U+%04X) at character %d; type plain text", r, i+1)
		}
	}
	var (
		toks   []Token
		cur    strings.Builder
		in     bool // inside a word
		quoted bool // the word began with a quote
	)
	flush := func() {
		if in {
			toks = append(toks, Token{Text: cur.String(), Quoted: quoted})
		}
		cur.Reset()
		in, quoted = false, false
	}
	runes := []rune(line)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		ends, isQuote := closing[r]
		switch {
		case unicode.IsSpace(r):
			flush()
		case isQuote && (!in || isDoubleQuote(r)):
			text, next, ok := quotedSection(runes, i+1, ends)
			if !ok {
				if !isDoubleQuote(r) {
					// A lone apostrophe ('tis) is a letter, not a quote.
					in = true
					cur.WriteRune(r)
					continue
				}
				return nil, Errorf("the quote %c at character %d is never closed; end the text with %c", r, i+1, []rune(ends)[0])
			}
			if !in {
				quoted = true
			}
			in = true
			cur.WriteString(text)
			i = next
		default:
			in = true
			cur.WriteRune(r)
		}
	}
	flush()
	return toks, nil
}

// bidiControl reports whether r is an explicit direction embedding,
// override or isolate. Right-to-left text itself needs none of them.
func bidiControl(r rune) bool {
	return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

// blank reports whether s shows nothing: only white space and invisible
// format characters such as zero-width spaces.
func blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// quotedSection reads from runes[i] up to one of the closing quotes and
// returns the text, the index of the closing quote and whether it was found.
func quotedSection(runes []rune, i int, ends string) (string, int, bool) {
	var q strings.Builder
	for ; i < len(runes); i++ {
		c := runes[i]
		if c == '\\' && i+1 < len(runes) {
			i++
			q.WriteRune(runes[i])
			continue
		}
		if strings.ContainsRune(ends, c) {
			return q.String(), i, true
		}
		q.WriteRune(c)
	}
	return "", i, false
}

// SplitCommand separates "/ticket new ..." into the command name, lower-cased
// and without its slash, and the remaining tokens.
func SplitCommand(line string) (string, []Token, error) {
	toks, err := Tokenize(strings.TrimSpace(line))
	if err != nil {
		return "", nil, err
	}
	if len(toks) == 0 || toks[0].Quoted {
		return "", nil, Errorf("type a command such as /help")
	}
	name := strings.ToLower(strings.TrimPrefix(toks[0].Text, "/"))
	if name == "" {
		return "", nil, Errorf("type a command such as /help")
	}
	return name, toks[1:], nil
}

// binder turns tokens into the typed values of one subcommand.
type binder struct {
	dir *Directory
}

func (b binder) bind(sub Sub, toks []Token) (map[string]any, error) {
	values := map[string]any{}
	var pos []Token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Quoted || !strings.HasPrefix(t.Text, "--") || t.Text == "--" {
			pos = append(pos, t)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(t.Text, "--"), "=")
		name = strings.ToLower(name)
		f, ok := sub.param(name)
		if !ok {
			msg := fmt.Sprintf("unknown option --%s", name)
			var names []string
			for _, f := range sub.Flags {
				names = append(names, f.Name)
			}
			if s := Closest(name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean --%s?)", s)
			} else if takesText(sub) {
				msg += ` (put text that has "--" in quotes)`
			}
			return nil, Errorf("%s", msg)
		}
		if _, dup := values[f.Name]; dup {
			return nil, Errorf("--%s is given twice; give it once", f.Name)
		}
		if f.Kind == KindBool {
			v := true
			if hasVal {
				pv, err := strconv.ParseBool(val)
				if err != nil {
					return nil, Errorf("--%s takes no value (or --%s=true / --%s=false)", f.Name, f.Name, f.Name)
				}
				v = pv
			}
			values[f.Name] = v
			continue
		}
		if !hasVal {
			if next := i + 1; next >= len(toks) || !toks[next].Quoted && strings.HasPrefix(toks[next].Text, "--") {
				return nil, Errorf("--%s needs a value: --%s %s", f.Name, f.Name, f.placeholder())
			}
			i++
			val = toks[i].Text
		}
		v, err := b.value(f, val, "--"+f.Name)
		if err != nil {
			return nil, err
		}
		values[f.Name] = v
	}
	for i, a := range sub.Args {
		if len(pos) == 0 {
			if a.Required {
				return nil, Errorf("missing %s", a.placeholder())
			}
			continue
		}
		raw := pos[0].Text
		if a.Kind == KindText && i == len(sub.Args)-1 {
			words := make([]string, len(pos))
			for j, t := range pos {
				words[j] = t.Text
			}
			raw = strings.Join(words, " ")
			pos = nil
		} else {
			pos = pos[1:]
		}
		v, err := b.value(a, raw, a.placeholder())
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok && a.Required && strings.TrimSpace(s) == "" {
			return nil, Errorf("%s must not be empty", a.placeholder())
		}
		values[a.Name] = v
	}
	if len(pos) > 0 {
		return nil, unexpected(sub, values, pos[0].Text)
	}
	for _, f := range sub.Flags {
		if _, ok := values[f.Name]; f.Required && !ok {
			return nil, Errorf("missing --%s %s", f.Name, f.placeholder())
		}
	}
	return values, nil
}

// unexpected explains a word that no argument takes. When exactly one
// option that takes a value is missing, the word is most likely its value
// (`/access request prod-db read` for `--role read`); otherwise it is text
// that needed quotes.
func unexpected(sub Sub, values map[string]any, word string) error {
	var open []Param
	for _, f := range sub.Flags {
		if _, given := values[f.Name]; !given && f.Kind != KindBool {
			open = append(open, f)
		}
	}
	if len(open) == 1 {
		v := word
		if strings.ContainsAny(v, " \t\"'") {
			v = Quote(v)
		}
		return Errorf("unexpected %q (did you mean --%s %s?)", word, open[0].Name, v)
	}
	if len(sub.Args) == 0 {
		return Errorf("unexpected %q: this takes options only (--NAME VALUE)", word)
	}
	return Errorf("unexpected %q after %s; put text with spaces in quotes, options as --NAME VALUE", word, sub.Args[len(sub.Args)-1].placeholder())
}

// value converts one raw string to the param's kind.
func (b binder) value(p Param, raw, label string) (any, error) {
	switch p.Kind {
	case KindString, KindText:
		if strings.TrimSpace(raw) != "" && blank(raw) {
			// Only invisible characters (zero-width spaces): empty, as plain
			// white space already is to every check that trims.
			return "", nil
		}
		return raw, nil
	case KindInt:
		n, err := strconv.ParseInt(raw, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, Errorf("%s: %s is too large; give a smaller number", label, raw)
		}
		if err != nil {
			return nil, Errorf("%s must be a whole number, not %q", label, raw)
		}
		return n, nil
	case KindID:
		n, err := strconv.ParseInt(strings.TrimPrefix(raw, "#"), 10, 64)
		if errors.Is(err, strconv.ErrRange) && n > 0 {
			return nil, Errorf("%s: %s is too large to be a record number; type one such as 12 or #12", label, raw)
		}
		if err != nil || n <= 0 {
			return nil, Errorf("%s must be a number such as 12 or #12, not %q", label, raw)
		}
		return n, nil
	case KindDuration:
		d, err := config.ParseDuration(raw)
		if err != nil || d <= 0 {
			return nil, Errorf("%s must be a duration such as 30m, 8h or 7d, not %q", label, raw)
		}
		if d < time.Second {
			// Replies show whole seconds; nobody means less in chat.
			return nil, Errorf("%s must be at least 1s, not %q; try 30m, 8h or 7d", label, raw)
		}
		return d, nil
	case KindPerson:
		return b.person(raw, label)
	case KindChoice:
		for _, c := range p.Choices {
			if strings.EqualFold(c, raw) {
				return c, nil
			}
		}
		return nil, Errorf("%s must be one of %s, not %q", label, strings.Join(p.Choices, ", "), raw)
	case KindBool:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, Errorf("%s must be true or false, not %q", label, raw)
		}
		return v, nil
	}
	return nil, fmt.Errorf("param %s: unknown kind %d", p.Name, p.Kind)
}

// person resolves a mention: <@U123> or <@U123|name> from Slack, <@123> or
// <@!123> from Discord, @name anywhere.
func (b binder) person(raw, label string) (Person, error) {
	if inner, ok := strings.CutPrefix(raw, "<@"); ok && strings.HasSuffix(inner, ">") {
		inner = strings.TrimSuffix(inner, ">")
		inner, _, _ = strings.Cut(inner, "|")
		inner = strings.TrimPrefix(inner, "!")
		switch {
		case validSnowflake(inner):
			return b.dir.ByDiscord(inner), nil
		case validSlackID(inner):
			return b.dir.BySlack(inner), nil
		}
		return Person{}, Errorf("%s: %q is not a mention of a person", label, raw)
	}
	name := strings.TrimPrefix(raw, "@")
	if p, ok := b.dir.ByName(name); ok {
		return p, nil
	}
	msg := fmt.Sprintf("%s: nobody called %q", label, "@"+name)
	if s := Closest(strings.ToLower(name), b.dir.Names()); s != "" {
		msg += fmt.Sprintf(" (did you mean @%s?)", s)
	}
	return Person{}, Errorf("%s", msg)
}

// takesText reports whether the subcommand ends in free text, where a word
// starting with "--" is more likely prose than an option.
func takesText(sub Sub) bool {
	return len(sub.Args) > 0 && sub.Args[len(sub.Args)-1].Kind == KindText
}

// FormatDuration prints a duration the way people type them: 2h30m, 3d, 45s.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if s := d / time.Second; s > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// Closest returns the candidate nearest to word by edit distance, or "" when
// none is near enough to be a plausible typo; handlers use it for "did you
// mean" hints so every area suggests alike.
func Closest(word string, candidates []string) string {
	return suggest.Closest(word, candidates)
}
