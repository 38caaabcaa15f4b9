//go:build unix

package storage

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LockServe makes sure one `opsbot serve` uses a SQLite file at a time: it
// takes an exclusive lock on FILE.lock, held until release. PostgreSQL
// needs none: replicas share it through leader election.
func (s *Store) LockServe() (release func(), err error) {
	if s.driver != "sqlite" || s.path == ":memory:" {
		return func() {}, nil
	}
	name := s.path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(name)
		f.Close()
		who := ""
		if pid, err := strconv.Atoi(strings.TrimSpace(string(owner))); err == nil {
			who = fmt.Sprintf(" (pid %d)", pid)
		}
		return nil, fmt.Errorf("another opsbot serve%s is using %s; SQLite allows one replica — "+
			"stop it, or use PostgreSQL (database.driver: postgres) to run several", who, s.path)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
