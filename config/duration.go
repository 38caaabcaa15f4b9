package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// Duration is a time.Duration written like Go's durations with d (24h) and
// w (7d) as extra units, e.g. 90s, 15m, 8h, 1d12h or 2w.
type Duration time.Duration

// units maps a unit to its length in nanoseconds.
var units = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 micro sign
	"μs": uint64(time.Microsecond), // U+03BC Greek mu
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(day),
	"w":  uint64(week),
}

const maxDuration = 1<<63 - 1

var errEmptyDuration = errors.New("empty duration (use a number and a unit, e.g. 30s, 15m, 8h or 7d)")

// ParseDuration parses a non-negative duration such as 30s, 1.5h, 7d or
// 1d12h. Besides Go's units (ns, us, ms, s, m, h) it accepts d for 24 hours
// and w for 7 days. Its errors are short enough to show to a user.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errEmptyDuration
	}
	if in[0] == '-' {
		return 0, fmt.Errorf("%q: negative durations are not allowed", s)
	}
	rest := strings.TrimPrefix(in, "+")
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, notDuration(s)
	}
	var total uint64
	for rest != "" {
		var n uint64
		var err error
		n, rest, err = component(s, rest)
		if err != nil {
			return 0, err
		}
		if total > maxDuration-n {
			return 0, tooLong(s)
		}
		total += n
	}
	return time.Duration(total), nil
}

// component parses one number and unit from the front of rest, like "1.5h",
// and returns its length and what follows. s is the whole input, for errors.
func component(s, rest string) (uint64, string, error) {
	whole, rest := digits(rest)
	var frac string
	dot := strings.HasPrefix(rest, ".")
	if dot {
		frac, rest = digits(rest[1:])
	}
	if whole == "" && frac == "" {
		return 0, "", notDuration(s)
	}
	i := 0
	for i < len(rest) && !strings.ContainsRune("0123456789.+-", rune(rest[i])) {
		i++
	}
	u, rest := rest[:i], rest[i:]
	if u == "" {
		num := whole
		if dot {
			num += "." + frac
		}
		return 0, "", fmt.Errorf("%q: missing unit after %s (use s, m, h, d or w, e.g. %q)", s, num, num+"s")
	}
	unit, ok := units[u]
	if !ok {
		return 0, "", fmt.Errorf("%q: unknown unit %q (use s, m, h, d or w)", s, u)
	}
	n, err := scale(whole, frac, unit)
	if err != nil {
		return 0, "", tooLong(s)
	}
	return n, rest, nil
}

// scale returns whole.frac times unit, or an error if that overflows.
func scale(whole, frac string, unit uint64) (uint64, error) {
	var n uint64
	if whole != "" {
		v, err := strconv.ParseUint(whole, 10, 64)
		if err != nil || v > maxDuration/unit {
			return 0, errors.New("overflow")
		}
		n = v * unit
	}
	// Only the first digits of a fraction can matter: the smallest unit
	// after nanoseconds is a microsecond, and the largest a week is under
	// 1e16 ns, so digits past the 18th are below one nanosecond.
	if len(frac) > 18 {
		frac = frac[:18]
	}
	if frac != "" {
		f, _ := strconv.ParseUint(frac, 10, 64)
		div := 1.0
		for range len(frac) {
			div *= 10
		}
		extra := uint64(float64(f) * (float64(unit) / div))
		if n > maxDuration-extra {
			return 0, errors.New("overflow")
		}
		n += extra
	}
	return n, nil
}

// digits splits s after its leading ASCII digits.
func digits(s string) (string, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func notDuration(s string) error {
	return fmt.Errorf("%q is not a duration (use a number and a unit, e.g. 30s, 15m, 8h or 7d)", s)
}

func tooLong(s string) error {
	return fmt.Errorf("%q: too long (at most %dd)", s, maxDuration/int64(day))
}

// String formats d the way ParseDuration reads it: whole days as 7d,
// otherwise like 26h, 1h30m or 90ms.
func (d Duration) String() string {
	t := time.Duration(d)
	if t <= 0 || t%time.Second != 0 {
		return t.String()
	}
	if t%day == 0 {
		return strconv.FormatInt(int64(t/day), 10) + "d"
	}
	var b strings.Builder
	for _, u := range []struct {
		size time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := t / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			t -= n * u.size
		}
	}
	return b.String()
}

// UnmarshalYAML reads a duration from a YAML scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 30s, not a list or mapping", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string such as 15m.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// UnmarshalText reads a duration from text, for JSON and flags.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as text such as 15m, for JSON and flags.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}
