package suggest

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"name", "kind", "every", "schedule", "timeout", "url", "host", "port"}
	tests := []struct{ in, want string }{
		{"everyy", "every"},
		{"Every", "every"},
		{"shedule", "schedule"},
		{"time_out", "timeout"},
		{"uri", "url"},
		{"zzz", ""},
		{"hostname", "host"},
		{"shcedule", "schedule"},
		{strings.Repeat("x", 100), ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.in, keys); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Chat commands and names use the same rule: an abbreviation of a longer
// name is near, a far word is not.
func TestClosestNames(t *testing.T) {
	names := []string{"ticket", "access", "device", "backup", "incident", "check", "help"}
	for in, want := range map[string]string{"tiket": "ticket", "tick": "ticket", "acces": "access", "incdent": "incident",
		"hlep": "help", "chekc": "check", "zebra": "", "x": ""} {
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"héllo", "hello", 1}} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
