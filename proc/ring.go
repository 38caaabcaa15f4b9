package proc

import "sync"

// ring keeps the last n bytes written to it, so a command that prints
// gigabytes costs n bytes of memory. It is safe for concurrent use.
type ring struct {
	mu    sync.Mutex
	buf   []byte
	next  int // where the next byte goes
	full  bool
	total int64
}

// newRing returns a ring that keeps the last n bytes (n >= 1).
func newRing(n int) *ring { return &ring{buf: make([]byte, max(n, 1))} }

// Write keeps the tail of p; it never fails.
func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	r.total += int64(n)
	if len(p) >= len(r.buf) {
		copy(r.buf, p[len(p)-len(r.buf):])
		r.next, r.full = 0, true
		return n, nil
	}
	c := copy(r.buf[r.next:], p)
	if c < len(p) {
		copy(r.buf, p[c:])
		r.full = true
	}
	r.next = (r.next + len(p)) % len(r.buf)
	if r.next == 0 && len(p) > 0 {
		r.full = true
	}
	return n, nil
}

// Snapshot copies the kept bytes, oldest first, and says whether earlier
// bytes were dropped and how many were written in all.
func (r *ring) Snapshot() (tail []byte, truncated bool, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]byte(nil), r.buf[:r.next]...), false, r.total
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	out = append(out, r.buf[:r.next]...)
	return out, r.total > int64(len(r.buf)), r.total
}
