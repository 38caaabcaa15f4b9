package storage

import (
	"context"
	"database/sql"
	"fmt"
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
// Here commits only note the WAL's size (SQLite's WAL hook), and a
// goroutine of the store's own runs PASSIVE checkpoints on a connection of
// the pool, without the write gate. A PASSIVE checkpoint neither waits for
// nor holds up a writer: it copies the frames committed before it began
// while commits go on. SQLite starts the WAL over from its beginning only
// after a checkpoint that copied every frame, which under a steady stream
// of commits a PASSIVE one never does (frames land while it copies); so
// once the WAL passes walLimit pages the checkpointer takes the write gate
// for one more pass, which only has the frames since its last one left to
// copy, and the next commit starts the WAL over. Should the checkpointer
// fall behind (it cannot get a connection, a reader holds an old
// snapshot), the writer checkpoints at walStall pages itself, as SQLite
// would.
//
// (A connection of its own would have cost the checkpointer 1.5 MB: each
// connection is an instance of SQLite with its own memory.)
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
	db   *sql.DB // the pool; set once it is open
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
	frames  atomic.Int64 // frames committed to the WAL
	last    atomic.Int64 // the WAL's frames after the last commit
}

func newCheckpointer(gate *writeGate) *checkpointer {
	return &checkpointer{gate: gate,
		wakeAt: walWake, limit: walLimit, tail: walTail, stall: walStall, pause: checkpointPause,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// hook is the WAL hook of every pooled connection: SQLite calls it after
// each commit, once the commit's write lock is released, with how many
// frames the WAL holds. It wakes the checkpointer (starting it the first
// time). It must not fail: the commit has happened.
func (c *checkpointer) hook(db *sqlite3.Conn, schema string, pages int) error {
	if prev := c.last.Swap(int64(pages)); int64(pages) >= prev {
		c.frames.Add(int64(pages) - prev)
	} else {
		c.frames.Add(int64(pages)) // the WAL started over
	}
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
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.pass()
		select {
		case <-c.stop:
			return
		case <-time.After(c.pause):
		}
	}
}

// checkpoint runs one PASSIVE checkpoint on conn, a connection of the
// pool, counts it, and returns the WAL's frames and how many of them are
// copied.
func (c *checkpointer) checkpoint(conn *sql.Conn) (nLog, nCkpt int, err error) {
	c.passes.Add(1)
	err = conn.Raw(func(dc any) error {
		g, ok := dc.(*gatedConn)
		if !ok || g.raw == nil {
			return fmt.Errorf("checkpoint: a connection without its SQLite connection (%T)", dc)
		}
		var err error
		nLog, nCkpt, err = g.raw.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
		return err
	})
	return nLog, nCkpt, err
}

// pass runs a PASSIVE checkpoint on a connection of the pool, which it
// takes without the write gate. When the WAL has grown past the limit,
// more follow at once until few frames are left to copy (at most eight),
// and then one under the write gate, which copies every frame, so the next
// commit starts the WAL over.
func (c *checkpointer) pass() {
	ctx, cancel := context.WithTimeout(context.Background(), c.gate.wait)
	defer cancel()
	// The connection first, then the gate, as every writer takes them:
	// writers waiting for the gate hold connections.
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	nLog, nCkpt, err := c.checkpoint(conn)
	for tries := 0; err == nil && nLog >= c.limit && nLog-nCkpt > c.tail && tries < 8; tries++ {
		nLog, nCkpt, err = c.checkpoint(conn)
	}
	if err != nil || nLog < c.limit {
		return
	}
	release, err := c.gate.acquire(ctx)
	if err != nil {
		return
	}
	defer release()
	_, _, _ = c.checkpoint(conn)
	c.gated.Add(1)
}

// close stops the checkpointer and waits for a pass under way; a store
// without one (nil) has nothing to stop.
func (c *checkpointer) close() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() {
		close(c.stop)
		started := true
		c.startOnce.Do(func() { started = false })
		if started {
			<-c.done
		}
	})
}
