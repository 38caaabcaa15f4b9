package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration checks that ParseDuration never panics, never returns
// a negative duration, reads back what Duration.String writes, and accepts
// every non-negative duration that time.ParseDuration accepts.
// Seeds are in testdata/fuzz/FuzzParseDuration.
func FuzzParseDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 || err.Error() == "" {
				t.Fatalf("ParseDuration(%q) = %v, %q", s, d, err)
			}
		} else {
			if d < 0 {
				t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
			}
			text := Duration(d).String()
			back, err := ParseDuration(text)
			if err != nil || back != d {
				t.Fatalf("ParseDuration(%q) = %v; String() = %q reads back as %v, %v", s, d, text, back, err)
			}
		}
		if strings.HasPrefix(s, "-") {
			return
		}
		if want, goErr := time.ParseDuration(s); goErr == nil {
			got, err := ParseDuration(s)
			if err != nil || got != want {
				t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration gives %v", s, got, err, want)
			}
		}
	})
}

// FuzzParse checks that no input makes Parse panic, that it fails only
// with Problems, and that what it accepts is valid and prints.
// Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, lookup(fullEnv))
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 || c != nil {
				t.Fatalf("Parse error %v (%T) with config %v", err, err, c != nil)
			}
			for _, p := range ps {
				if p.Message == "" {
					t.Fatalf("problem at %q has no message", p.Path)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects:\n%v", err)
		}
		// Printing must not panic either, whatever the verb.
		_ = fmt.Sprintf("%v %+v %#v %s %q %d", c, c, c, c, c, c)
	})
}
