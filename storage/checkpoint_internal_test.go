package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
)

// openFile opens a migrated store on a SQLite file of its own, closed when
// the test ends, and returns it with the file's path.
func openFile(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "opsbot.db")
	s, err := Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// openCheckpointed opens a store as openFile does, whose checkpointer
// works at small sizes: woken at 40 pages, the WAL started over past 300,
// the writer's own checkpoint at 1,200.
func openCheckpointed(t *testing.T) (*Store, string) {
	t.Helper()
	s, path := openFile(t)
	if s.ckpt == nil {
		t.Fatal("a SQLite file has no checkpointer")
	}
	s.ckpt.wakeAt, s.ckpt.limit, s.ckpt.tail, s.ckpt.stall, s.ckpt.pause = 40, 300, 16, 1200, time.Millisecond
	return s, path
}

// fill commits n transactions of a 2 KiB audit entry each, from 8
// goroutines at once, as a busy chat does.
func fill(t *testing.T, s *Store, n int) {
	t.Helper()
	text := strings.Repeat("x", 2048)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				errs <- s.Tx(context.Background(), func(tx *gorm.DB) error {
					return WriteAudit(tx, AuditEntry{At: time.Now(), Actor: "tester", Platform: "shell", Action: "test.fill", Subject: "row", Detail: text})
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func walPages(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size() / 4096
}

// TestCheckpointerKeepsTheWALBounded: under a stream of commits the
// checkpointer, not the writer, copies the WAL back, and the WAL starts
// over instead of growing; every row is there after.
func TestCheckpointerKeepsTheWALBounded(t *testing.T) {
	t.Parallel()
	s, path := openCheckpointed(t)
	// The writer never checkpoints here: whatever keeps the WAL small is
	// the checkpointer's doing.
	s.ckpt.stall = 1 << 30
	const n = 3000 // each commit at least one page: 3,000 pages or more
	fill(t, s, n)
	c := s.ckpt
	if c.passes.Load() == 0 {
		t.Fatal("the checkpointer never ran a pass")
	}
	if c.gated.Load() == 0 {
		t.Error("the checkpointer never finished a pass under the write gate, so the WAL never started over")
	}
	// The file keeps the largest size the WAL reached: a fraction of
	// what was written, as it started over again and again.
	p, written := walPages(t, path), c.frames.Load()
	t.Logf("WAL at most %d pages; %d frames written; %d passes, %d under the gate", p, written, c.passes.Load(), c.gated.Load())
	if written < n || p > written/2 {
		t.Errorf("the WAL reached %d pages of the %d written; it did not start over", p, written)
	}
	var count int64
	if err := s.DB.Model(&AuditEntry{}).Where("action = ?", "test.fill").Count(&count).Error; err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("%d rows stored, want %d", count, n)
	}
}

// TestCheckpointPassesOutsideTheGate: a pass copies the WAL while a writer
// holds the write gate: the writer's turn does not wait on it, nor it on
// the writer.
func TestCheckpointPassesOutsideTheGate(t *testing.T) {
	t.Parallel()
	s, _ := openCheckpointed(t)
	// This test runs the pass itself, on a WAL under the limit.
	s.ckpt.wakeAt, s.ckpt.limit = 1<<30, 1<<30
	fill(t, s, 100)
	release, err := s.ckpt.gate.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	done := make(chan struct{})
	go func() { s.ckpt.pass(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pass waited for the write gate")
	}
	conn, err := s.ckpt.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nLog, nCkpt, err := s.ckpt.checkpoint(conn)
	if err != nil {
		t.Fatal(err)
	}
	if nLog <= 0 || nCkpt != nLog {
		t.Fatalf("after the pass the WAL has %d frames, %d copied; want all copied", nLog, nCkpt)
	}
	if s.ckpt.gated.Load() != 0 {
		t.Fatal("a WAL under the limit was checkpointed under the gate")
	}
}

// TestWriterCheckpointsWhenTheCheckpointerCannot: with the checkpointer
// never running (as when it cannot keep up), the writer checkpoints at the
// stall size, as SQLite would, and the WAL stays bounded.
func TestWriterCheckpointsWhenTheCheckpointerCannot(t *testing.T) {
	t.Parallel()
	s, path := openCheckpointed(t)
	s.ckpt.wakeAt = 1 << 30
	fill(t, s, 3000)
	if w := s.ckpt.writers.Load(); w == 0 {
		t.Fatal("the writer never checkpointed, yet the checkpointer could not")
	}
	// The writer checkpoints when a commit leaves the WAL past the stall
	// size, and the WAL starts over at the next commit once nothing
	// reads its old frames: a few commits past the stall at most.
	if p := walPages(t, path); p > int64(2*s.ckpt.stall) {
		t.Errorf("the WAL reached %d pages; the writer checkpoints at %d", p, s.ckpt.stall)
	}
}

// TestCheckpointerStopsWithTheStore: Close waits for the checkpointer, and
// the database is whole when opened again.
func TestCheckpointerStopsWithTheStore(t *testing.T) {
	t.Parallel()
	s, path := openCheckpointed(t)
	fill(t, s, 500)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ckpt.done:
	default:
		t.Fatal("Close returned with the checkpointer still running")
	}
	s2, err := Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var count int64
	if err := s2.DB.Model(&AuditEntry{}).Where("action = ?", "test.fill").Count(&count).Error; err != nil {
		t.Fatal(err)
	}
	if count != 500 {
		t.Fatalf("%d rows after reopening, want 500", count)
	}
}
