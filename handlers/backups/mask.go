package backups

import (
	"reflect"
	"slices"
	"strings"
	"unicode"

	"opsbot/config"
)

// masker hides secret values in output and messages. The secrets are every
// value of the job's env (values may come from ${ENV} secrets, and nothing
// tells which did) and every config.Secret in the configuration.
type masker struct {
	r *strings.Replacer
	// longest is the length of the longest secret: a cut in the output
	// closer than that to a secret may have left part of it.
	longest int
}

const masked = "****"

// secretKeyWords mark env names whose values are masked however short.
var secretKeyWords = []string{"PASS", "SECRET", "TOKEN", "KEY", "CRED", "AUTH", "PWD"}

// newMasker masks the job's env values and the config's secrets. Values
// shorter than 4 bytes are masked only under a name that looks secret
// (PGPASSWORD, API_TOKEN): masking "UTC" everywhere would garble output.
func newMasker(env map[string]string, global []string) *masker {
	set := map[string]bool{}
	for k, v := range env {
		upper := strings.ToUpper(k)
		secretName := slices.ContainsFunc(secretKeyWords, func(w string) bool { return strings.Contains(upper, w) })
		if v != "" && (len(v) >= 4 || secretName) {
			set[v] = true
		}
	}
	for _, v := range global {
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
	m := &masker{}
	var pairs []string
	for _, v := range vals {
		pairs = append(pairs, v, masked)
		m.longest = max(m.longest, len(v))
	}
	m.r = strings.NewReplacer(pairs...)
	return m
}

// String masks the secrets in s.
func (m *masker) String(s string) string { return m.r.Replace(s) }

// Output turns a raw output tail into text fit to store and show: secrets
// masked, a cut-off first line dropped when earlier output was lost (it may
// hold the end of a secret), and invalid UTF-8 and NUL bytes replaced, which
// PostgreSQL would refuse.
func (m *masker) Output(raw []byte, truncated bool) string {
	s := string(raw)
	if truncated {
		s = s[min(len(s), m.longest):]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return clean(m.String(s))
}

// Live is Output for a run still going: its last line may be the start of
// a secret that is still being written, so the last bytes are held back.
func (m *masker) Live(raw []byte, truncated bool) string {
	s := string(raw)
	if m.longest > 0 {
		s = s[:max(0, len(s)-m.longest)]
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[:i+1]
		} else {
			s = ""
		}
	}
	return m.Output([]byte(s), truncated)
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

// configSecrets collects every config.Secret value in the configuration, so
// that a backup that prints, say, the Slack token does not post it.
func configSecrets(cfg *config.Config) []string {
	var out []string
	secretType := reflect.TypeFor[config.Secret]()
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 20 {
			return
		}
		if v.Type() == secretType {
			if s := v.String(); s != "" {
				out = append(out, s)
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Value(), depth+1)
			}
		}
	}
	if cfg != nil {
		walk(reflect.ValueOf(*cfg), 0)
	}
	return out
}
