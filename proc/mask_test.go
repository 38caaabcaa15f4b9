package proc

import (
	"slices"
	"strings"
	"testing"
)

func TestEnvSecrets(t *testing.T) {
	t.Parallel()
	got := EnvSecrets(map[string]string{"PGPASSWORD": "pw", "API_TOKEN": "s3c", "TZ": "UTC", "REPO": "s3:bucket/path", "EMPTY_KEY": ""})
	slices.Sort(got)
	if want := []string{"pw", "s3:bucket/path", "s3c"}; !slices.Equal(got, want) {
		t.Errorf("EnvSecrets = %q, want %q", got, want)
	}
}

func TestMaskCutSecret(t *testing.T) {
	t.Parallel()
	m := NewMasker(EnvSecrets(map[string]string{"PGPASSWORD": "abcdefgh"})...)
	for _, tc := range []struct {
		name, raw string
		trunc     bool
		live      bool
		want      string
	}{
		{"whole", "x abcdefgh y\n", false, false, "x **** y\n"},
		{"cut at the start", "efgh and more\nnext line\n", true, false, "next line\n"},
		{"cut at the start, one line", "efgh and a long line without a newline", true, false, " a long line without a newline"},
		{"live, secret still being written", "done\nabcd", false, true, ""},
		{"live, complete lines", "one\ntwo\nthree and more text\n", false, true, "one\ntwo\n"},
		{"invalid utf8 and nul", "a\xff\x00b\n", false, false, "a\uFFFD\uFFFDb\n"},
		// Output reaches terminals (opsbot shell) and chat: no escape
		// sequences, bells or backspaces; tabs and line ends stay.
		{"terminal escapes", "ok \x1b[31mred\x1b[0m\x07\b\x7f\u009b2J\tend\n", false, false, "ok \uFFFD[31mred\uFFFD[0m\uFFFD\uFFFD\uFFFD\uFFFD2J\tend\n"},
		{"carriage returns", "50%\r100%\r\ndone\r\n", false, false, "50%\n100%\ndone\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := m.output([]byte(tc.raw), tc.trunc)
			if tc.live {
				got = m.live([]byte(tc.raw), tc.trunc)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Without secrets nothing is held back or cut, but output is still cleaned.
func TestNilMasker(t *testing.T) {
	t.Parallel()
	var m *Masker
	if got := m.live([]byte("one\ntwo \x1b"), false); got != "one\ntwo \uFFFD" {
		t.Errorf("live = %q", got)
	}
	if got := m.String("abc"); got != "abc" {
		t.Errorf("String = %q", got)
	}
}

// A secret that contains another is masked whole.
func TestMaskLongestFirst(t *testing.T) {
	t.Parallel()
	m := NewMasker("pass", "password1", "", "pass")
	if got := m.String("password1 pass"); got != "**** ****" {
		t.Errorf("got %q", got)
	}
}

// BenchmarkMaskOutput measures masking a full 64 KiB tail with a few
// secrets, which every finished backup run pays once.
func BenchmarkMaskOutput(b *testing.B) {
	const password = "hunter2-correct-horse"
	m := NewMasker(append(EnvSecrets(map[string]string{"PGPASSWORD": password, "TZ": "UTC", "REPO": "s3:bucket/path"}), "xoxb-config-secret-token")...)
	raw := []byte(strings.Repeat("copied /srv/data/file-0001.bin "+password+"\n", 64<<10/60))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		m.output(raw, true)
	}
}
