package proc

import (
	"bytes"
	"testing"
)

func TestRing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		size   int
		writes []string
		want   string
		trunc  bool
	}{
		{"empty", 4, nil, "", false},
		{"fits", 8, []string{"ab", "cd"}, "abcd", false},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd", false},
		{"wraps", 4, []string{"abc", "def"}, "cdef", true},
		{"one big write", 4, []string{"0123456789"}, "6789", true},
		{"many small", 3, []string{"a", "b", "c", "d", "e"}, "cde", true},
		{"big after small", 4, []string{"a", "wxyz"}, "wxyz", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRing(tc.size)
			var total int64
			for _, w := range tc.writes {
				r.Write([]byte(w))
				total += int64(len(w))
			}
			got, trunc, n := r.Snapshot()
			if string(got) != tc.want || trunc != tc.trunc || n != total {
				t.Errorf("Snapshot() = %q, %v, %d; want %q, %v, %d", got, trunc, n, tc.want, tc.trunc, total)
			}
		})
	}
}

// BenchmarkRingWrite measures capturing output: 32 KiB writes into a 64 KiB
// ring, the size of a pipe read.
func BenchmarkRingWrite(b *testing.B) {
	r := newRing(64 << 10)
	p := bytes.Repeat([]byte("backup output line\n"), 32<<10/19)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r.Write(p)
	}
}
