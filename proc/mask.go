package proc

import (
	"slices"
	"strings"
	"unicode"
)

// Masker hides secret values in a child's output and in messages about it.
// A nil *Masker hides nothing; output is still cleaned.
type Masker struct {
	r *strings.Replacer
	// longest is the length of the longest secret: a cut in the output
	// closer than that to a secret may have left part of it.
	longest int
}

const masked = "****"

// secretKeyWords mark env names whose values are masked however short.
var secretKeyWords = []string{"PASS", "SECRET", "TOKEN", "KEY", "CRED", "AUTH", "PWD"}

// EnvSecrets returns the values of env that are masked in the output of a
// child given env: every value (values may come from ${ENV} secrets, and
// nothing tells which did), but values shorter than 4 bytes only under a
// name that looks secret (PGPASSWORD, API_TOKEN): masking "UTC" everywhere
// would garble output.
func EnvSecrets(env map[string]string) []string {
	var out []string
	for k, v := range env {
		upper := strings.ToUpper(k)
		secretName := slices.ContainsFunc(secretKeyWords, func(w string) bool { return strings.Contains(upper, w) })
		if v != "" && (len(v) >= 4 || secretName) {
			out = append(out, v)
		}
	}
	return out
}

// NewMasker returns a masker that replaces each non-empty secret by ****.
func NewMasker(secrets ...string) *Masker {
	set := map[string]bool{}
	for _, v := range secrets {
		if v != "" {
			set[v] = true
		}
	}
	vals := make([]string, 0, len(set))
	for v := range set {
		vals = append(vals, v)
	}
	// Longer first, so a secret that contains another is masked whole.
	slices.SortFunc(vals, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	m := &Masker{}
	var pairs []string
	for _, v := range vals {
		pairs = append(pairs, v, masked)
		m.longest = max(m.longest, len(v))
	}
	m.r = strings.NewReplacer(pairs...)
	return m
}

// String masks the secrets in s.
func (m *Masker) String(s string) string {
	if m == nil {
		return s
	}
	return m.r.Replace(s)
}

func (m *Masker) maxLen() int {
	if m == nil {
		return 0
	}
	return m.longest
}

// output turns a raw output tail into text fit to store and show: secrets
// masked, a cut-off first line dropped when earlier output was lost (it may
// hold the end of a secret), and invalid UTF-8 and NUL bytes replaced, which
// PostgreSQL would refuse.
func (m *Masker) output(raw []byte, truncated bool) string {
	s := string(raw)
	if truncated {
		s = s[min(len(s), m.maxLen()):]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return clean(m.String(s))
}

// live is output for a run still going: its last line may be the start of
// a secret that is still being written, so the last bytes are held back.
func (m *Masker) live(raw []byte, truncated bool) string {
	s := string(raw)
	if n := m.maxLen(); n > 0 {
		s = s[:max(0, len(s)-n)]
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[:i+1]
		} else {
			s = ""
		}
	}
	return m.output([]byte(s), truncated)
}

// clean makes output safe to store and to show in a terminal or a chat:
// invalid UTF-8 and control characters (NUL, which PostgreSQL refuses,
// escape sequences that would drive the reader's terminal, bells,
// backspaces) become U+FFFD; tabs and line ends stay, a carriage return
// (progress bars, CRLF) becomes a line end.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}
