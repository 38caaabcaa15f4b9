package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// In WAL mode every commit appends its pages to the -wal file, and SQLite's
// default has the connection whose commit takes the WAL past 1,000 pages
// copy them back into the database file and fsync it: a checkpoint, run by
// the single writer while every queued request waits behind it. Under load
// that came every few dozen tickets and, with its fsync, was the writer's
// longest stall (CPU idle and I/O wait beside a saturated writer).
//
// Here commits only note the WAL's size (SQLite's WAL hook), and a goroutine
// of the store's own runs PASSIVE checkpoints on a connection outside the
// write gate. A PASSIVE checkpoint neither waits for nor holds up a writer:
// it copies the frames committed before it began while commits go on.
// SQLite starts the WAL over from its beginning only after a checkpoint that
// copied every frame, which under a steady stream of commits a PASSIVE one
// never does (frames land while it copies); so once the WAL passes walLimit
// pages the checkpointer takes the write gate for one more pass, which only
// has the frames since its last one left to copy, and the next commit starts
// the WAL over. Should the checkpointer fall behind (its connection cannot
// open, a reader holds an old snapshot), the writer checkpoints at walStall
// pages itself, as SQLite would.
const (
	// walWake is how many pages in the WAL wake the checkpointer
	// (SQLite's default autocheckpoint).
	walWake = 1000
	// walLimit is how many pages the WAL may reach before the checkpointer
	// finishes a pass under the write gate so the WAL starts over (32 MiB
	// at 4 KiB pages).
	walLimit = 8000
	// walTail is how many frames may be left to copy when the
	// checkpointer takes the write gate.
	walTail = 256
	// walStall is how many pages make the writer checkpoint itself.
	walStall = 4 * walLimit
	// checkpointPause is the least time between two passes, so that a
	// stream of commits is copied in passes of a few thousand pages
	// rather than a pass after every commit.
	checkpointPause = 50 * time.Millisecond
)

type checkpointer struct {
	path string
	gate *writeGate
	// The thresholds, in pages, and the pause: the constants above, which
	// tests make smaller.
	wakeAt, limit, tail, stall int
	pause                      time.Duration
	wake                       chan struct{}
	stop                       chan struct{}
	done                       chan struct{}

	startOnce sync.Once
	stopOnce  sync.Once

	// For tests and metrics.
	passes  atomic.Int64 // checkpoints run by the checkpointer
	gated   atomic.Int64 // of which under the write gate
	writers atomic.Int64 // checkpoints the writer ran itself (walStall)
}

func newCheckpointer(path string, gate *writeGate) *checkpointer {
	return &checkpointer{path: path, gate: gate,
		wakeAt: walWake, limit: walLimit, tail: walTail, stall: walStall, pause: checkpointPause,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// hook is the WAL hook of every pooled connection: SQLite calls it after
// each commit, once the commit's write lock is released, with how many
// frames the WAL holds. It wakes the checkpointer (starting it the first
// time). It must not fail: the commit has happened.
func (c *checkpointer) hook(db *sqlite3.Conn, schema string, pages int) error {
	switch {
	case pages >= c.stall:
		c.writers.Add(1)
		_, _, _ = db.WALCheckpoint(schema, sqlite3.CHECKPOINT_PASSIVE)
	case pages >= c.wakeAt:
		c.startOnce.Do(func() { go c.run() })
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	var conn *sqlite3.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		if conn == nil {
			var err error
			// Its own connection, not one of the pool's: the pool's are
			// the gate's, and a pass must not hold one of them for its
			// copying and fsync.
			conn, err = openCheckpointConn(c.path)
			if err != nil {
				// The writer's walStall checkpoint keeps the WAL
				// bounded meanwhile; try again on the next wake.
				continue
			}
		}
		c.pass(conn)
		select {
		case <-c.stop:
			return
		case <-time.After(c.pause):
		}
	}
}

// openCheckpointConn opens the checkpointer's connection and has it read
// the database once: until a connection has read it, SQLite does not know
// the file is in WAL mode, and its checkpoints do nothing.
func openCheckpointConn(path string) (*sqlite3.Conn, error) {
	conn, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE)
	if err != nil {
		return nil, err
	}
	if err := conn.Exec("SELECT 1 FROM sqlite_schema LIMIT 1"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// pass runs a PASSIVE checkpoint. When the WAL has grown past the limit,
// more follow at once until few frames are left to copy (at most eight),
// and then one under the write gate, which copies every frame, so the next
// commit starts the WAL over.
func (c *checkpointer) pass(conn *sqlite3.Conn) {
	nLog, nCkpt, err := conn.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
	c.passes.Add(1)
	// Past walLimit, passes follow one another until the frames left
	// are few, so the pass under the gate is short.
	for tries := 0; err == nil && nLog >= c.limit && nLog-nCkpt > c.tail && tries < 8; tries++ {
		nLog, nCkpt, err = conn.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
		c.passes.Add(1)
	}
	if err != nil || nLog < c.limit {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.gate.wait)
	release, err := c.gate.acquire(ctx)
	cancel()
	if err != nil {
		return
	}
	defer release()
	_, _, _ = conn.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
	c.passes.Add(1)
	c.gated.Add(1)
}

// close stops the checkpointer and waits for a pass under way.
func (c *checkpointer) close() {
	c.stopOnce.Do(func() {
		close(c.stop)
		started := true
		c.startOnce.Do(func() { started = false })
		if started {
			<-c.done
		}
	})
}
