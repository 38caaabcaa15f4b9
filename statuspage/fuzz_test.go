package statuspage

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRedact: whatever a check's error says, the page gets one line of at
// most 200 characters (plus the ellipsis) with no URL credentials.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "dial tcp: refused", `Get "https://u:p@h/x?t=1": EOF`, "a\nb", "ftp://@@@x?", strings.Repeat("x://a@", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Redact(s)
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("Redact(%q) = %q has a line break", s, got)
		}
		if utf8.ValidString(s) && utf8.RuneCountInString(got) > maxErrorRunes+2 {
			t.Fatalf("Redact(%q) is %d runes long", s, utf8.RuneCountInString(got))
		}
		if urlUserinfo.MatchString(got) {
			t.Fatalf("Redact(%q) = %q keeps URL credentials", s, got)
		}
	})
}
