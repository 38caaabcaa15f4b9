package storage

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// SQLite commits whole transactions in groups. The write gate already lets
// one of this process's transactions write at a time; under load the others
// queue behind it, each to pay for its own BEGIN and COMMIT (the commit
// writes every page it dirtied to the WAL, and consecutive requests dirty
// the same index and table pages). Store.Tx therefore queues its function,
// and whoever finds no group running starts one: it opens one transaction,
// runs every queued function in a savepoint of its own (a failing one is
// rolled back alone and gets its error), commits once and hands each caller
// its result. Nobody's Tx returns before the commit that holds its writes.

// maxGroup bounds how many transactions one commit carries, so a caller at
// the back of a long queue waits for a few commits, not for all.
const maxGroup = 64

type txJob struct {
	ctx  context.Context
	fn   func(tx *gorm.DB) error
	done chan error
}

type txGroup struct {
	db      *gorm.DB
	mu      sync.Mutex
	queue   []*txJob
	running bool
	commits atomic.Int64 // transactions opened, for tests and metrics
}

// do runs fn in a savepoint of the next group's transaction (alone in it,
// without one) and returns once that transaction has committed (or fn's
// error).
func (g *txGroup) do(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	job := &txJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, job)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	return <-job.done
}

// lead commits one group; when more callers queued meanwhile, a new leader
// goroutine takes them, so this caller returns with its own group.
func (g *txGroup) lead() {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	g.commit(batch)
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.lead()
}

// commit runs batch in one transaction.
func (g *txGroup) commit(batch []*txJob) {
	errs := make([]error, len(batch))
	finish := func(all error) {
		for i, j := range batch {
			if errs[i] == nil {
				errs[i] = all
			}
			j.done <- errs[i]
		}
	}
	g.commits.Add(1)
	tx := g.db.Session(&gorm.Session{NewDB: true, Context: context.Background()}).Begin()
	if tx.Error != nil {
		finish(tx.Error)
		return
	}
	if len(batch) == 1 {
		// Alone, the function needs no savepoint: its failure rolls back
		// the transaction, which holds nothing else. (A savepoint is not
		// free on SQLite: every page it changes is first copied to a
		// statement journal, which cost a write-behind flush a third of
		// its time.)
		j := batch[0]
		err := j.ctx.Err()
		if err == nil {
			err = run(j, tx.WithContext(j.ctx))
		}
		if err != nil {
			tx.Rollback()
			finish(err)
			return
		}
		finish(tx.Commit().Error)
		return
	}
	// The savepoints go straight to the connection: through gorm each
	// statement cost a fresh statement object and its callbacks.
	exec := func(q string) error {
		_, err := tx.Statement.ConnPool.ExecContext(context.Background(), q)
		return err
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		sp := "opsbot_g" + strconv.Itoa(i)
		if err := exec("SAVEPOINT " + sp); err != nil {
			tx.Rollback()
			finish(fmt.Errorf("group commit: %w", err))
			return
		}
		err := run(j, tx.WithContext(j.ctx))
		if err != nil {
			errs[i] = err
			if rerr := exec("ROLLBACK TO " + sp); rerr != nil {
				// The transaction is in no state to go on: none of it
				// is kept.
				tx.Rollback()
				finish(fmt.Errorf("group commit: roll back a failed transaction: %w", rerr))
				return
			}
		}
		if err := exec("RELEASE " + sp); err != nil {
			tx.Rollback()
			finish(fmt.Errorf("group commit: %w", err))
			return
		}
	}
	finish(tx.Commit().Error)
}

// run calls the job's function, turning a panic into its error so one
// caller's bug fails its own transaction, not the group's.
func run(j *txJob, tx *gorm.DB) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("transaction panicked: %v", p)
		}
	}()
	return j.fn(tx)
}
