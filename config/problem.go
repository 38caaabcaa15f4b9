package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"opsbot/suggest"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key the problem is about, e.g. checks[2].every; it is
	// empty for problems with the file as a whole.
	Path string
	// Message says what is wrong and, where it can, what to write instead.
	Message string
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems is every problem found in a configuration, in the order found.
// Load, Parse and Validate return it as their error.
type Problems []Problem

// Error lists the problems, one "path: message" a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err returns ps as an error, or nil if there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// maxProblems bounds how many problems are kept, and so the work of
// describing them: a file with more is far from right, and a few lines of
// YAML aliases can repeat one mistake a million times.
const maxProblems = 500

// problems collects Problems.
type problems struct {
	list Problems
	more int // problems past maxProblems, counted but not described
}

func (ps *problems) addf(path, format string, args ...any) {
	if ps.full() {
		ps.more++
		return
	}
	// A message quotes the value it is about; a megabyte of it helps nobody.
	args = slices.Clone(args)
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > maxQuoted {
			r := []rune(s)
			args[i] = string(r[:min(len(r), maxQuoted)]) + "…"
		}
	}
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// maxQuoted is how many characters of a value a problem quotes.
const maxQuoted = 200

func (ps *problems) add(p Problem) {
	if ps.full() {
		ps.more++
		return
	}
	ps.list = append(ps.list, p)
}

// full reports whether no more problems are kept; check it before
// working out an expensive message.
func (ps *problems) full() bool {
	return len(ps.list) >= maxProblems
}

// result returns the problems, with a last line that counts those not kept.
func (ps *problems) result() Problems {
	if ps.more == 0 {
		return ps.list
	}
	return append(ps.list, Problem{Message: fmt.Sprintf("and %d more problems; fix the ones above first", ps.more)})
}

// join returns the path of key under parent: parent.key, or parent["odd key"]
// when key is not a plain word.
func join(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// index returns the path of element i of the list at parent.
func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// didYouMean returns ` (did you mean "x"?)` for the closest candidate, or "".
func didYouMean(s string, candidates []string) string {
	if c := suggest.Closest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
