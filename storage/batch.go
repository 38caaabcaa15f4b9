package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// batcher groups small writes that arrive together into one transaction
// (group commit). Every chat request records itself (a Slack retry key, a
// Discord interaction id) before it runs and its answer after; one commit
// each costs a WAL write and, on SQLite, a turn at the single write lock.
// Under load those turns are most of a request's time, so whoever arrives
// while a batch is being written waits for it and goes into the next one.
// On SQLite a batch is itself one transaction of the group commit
// (group.go), so it also shares a commit with the requests' own writes.
//
// There is no background goroutine: the caller that finds the batcher idle
// writes the batch, then hands the lead to the first caller that queued
// meanwhile. Nobody waits on a timer, so a lone request is written at once.
type batcher[T any] struct {
	mu    sync.Mutex
	queue []*pending[T]
	busy  bool
	max   int
	// write stores items in one transaction and says, for each, whether
	// this write was the one that stored it.
	write func(ctx context.Context, items []T) ([]bool, error)
}

type pending[T any] struct {
	item T
	ok   bool
	err  error
	done chan struct{} // closed when ok and err are set
	lead chan struct{} // closed when this caller is to write the next batch
}

// batchTimeout bounds one batch's transaction. It is not taken from the
// callers' contexts: one caller giving up must not fail the others.
const batchTimeout = 15 * time.Second

// do writes item in the next batch and returns its result. A caller whose
// ctx has ended, or ends while it is still queued, returns ctx's error, its
// item unwritten; once its batch is being written it waits for the
// outcome, so that an error never hides a write that happened.
func (b *batcher[T]) do(ctx context.Context, item T) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p := &pending[T]{item: item, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.busy {
		b.mu.Unlock()
		select {
		case <-p.done:
			return p.ok, p.err
		case <-p.lead:
		case <-ctx.Done():
			if b.leave(p) {
				return false, ctx.Err()
			}
			// Already in a batch being written: only queued callers are
			// ever handed the lead, so its outcome is what comes.
			<-p.done
			return p.ok, p.err
		}
		b.mu.Lock()
	}
	// This caller leads. The queue is empty when the batcher is idle and a
	// lead is handed to the queue's head, so p is first in line.
	b.busy = true
	n := min(len(b.queue), b.max)
	batch := append([]*pending[T](nil), b.queue[:n]...)
	b.queue = append([]*pending[T](nil), b.queue[n:]...)
	b.mu.Unlock()

	items := make([]T, len(batch))
	for i, q := range batch {
		items[i] = q.item
	}
	oks, err := b.run(items)
	for i, q := range batch {
		q.err = err
		if err == nil {
			q.ok = oks[i]
		}
		if q != p {
			close(q.done)
		}
	}

	b.mu.Lock()
	b.passLead()
	b.mu.Unlock()
	return p.ok, p.err
}

// leave takes p out of the queue if no batch has taken it yet, passing on
// the lead if it had just been handed to p; false means p is in a batch.
func (b *batcher[T]) leave(p *pending[T]) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.queue, p)
	if i < 0 {
		return false
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	select {
	case <-p.lead:
		b.passLead()
	default:
	}
	return true
}

// passLead hands the lead to the queue's head, or marks the batcher idle
// when nobody is queued. b.mu is held.
func (b *batcher[T]) passLead() {
	if len(b.queue) > 0 {
		close(b.queue[0].lead)
	} else {
		b.busy = false
	}
}

// run writes one batch. A panic in write becomes the batch's error: every
// caller in the batch must get an answer and the lead must pass on, or all
// later callers would wait forever.
func (b *batcher[T]) run(items []T) (oks []bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			oks, err = nil, fmt.Errorf("write batch of %d: panic: %v", len(items), r)
		}
	}()
	oks, err = b.write(ctx, items)
	if err == nil && len(oks) != len(items) {
		return nil, fmt.Errorf("write batch of %d: %d results", len(items), len(oks))
	}
	return oks, err
}

// requestClaim is one request to record as handled.
type requestClaim struct {
	key string
	at  time.Time
}

// claimBatch returns a batcher that inserts keys into column of table in
// one statement; the caller whose key the statement stored is first. A key
// twice in one batch is first only for its earlier caller.
//
// The keys go in sorted: on PostgreSQL an insert that meets another
// transaction's uncommitted row of the same key waits for it, so two
// replicas' batches taking shared keys in different orders could each hold
// a key the other waits for, and one would fail with "deadlock detected".
func claimBatch(w writer, table, column string) *batcher[requestClaim] {
	return &batcher[requestClaim]{max: maxBatch, write: func(ctx context.Context, items []requestClaim) (oks []bool, err error) {
		firstAt := make(map[string]int, len(items))
		order := make([]int, 0, len(items)) // items to insert, by key
		for i, c := range items {
			if _, dup := firstAt[c.key]; !dup {
				firstAt[c.key] = i
				order = append(order, i)
			}
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(items[a].key, items[b].key) })
		var sql strings.Builder
		args := make([]any, 0, 2*len(order))
		fmt.Fprintf(&sql, `INSERT INTO %s (%q, seen_at) VALUES `, table, column)
		for n, i := range order {
			if n > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?)")
			args = append(args, items[i].key, items[i].at.UTC())
		}
		fmt.Fprintf(&sql, ` ON CONFLICT (%q) DO NOTHING RETURNING %q`, column, column)
		err = w(ctx, func(db *gorm.DB) error {
			// Rows and Scan straight from database/sql: gorm's Scan parses
			// the destination again for every row.
			rows, err := db.Raw(sql.String(), args...).Rows()
			if err != nil {
				return err
			}
			defer rows.Close()
			oks = make([]bool, len(items))
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				i, ok := firstAt[k]
				if !ok {
					return fmt.Errorf("claim batch: %s returned key %q, which it was not given", table, k)
				}
				oks[i] = true
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
		return oks, nil
	}}
}

// writer runs a batch's statement: on SQLite in a transaction of the
// group commit (so a batch shares its commit, and its turn at the write
// lock, with the requests' transactions written at the same moment), on
// PostgreSQL on its own.
type writer func(ctx context.Context, fn func(db *gorm.DB) error) error

// maxBatch keeps a batch's statement well under every driver's limit on
// bound parameters.
const maxBatch = 256

// reply is one answer to record against a claimed Slack request.
type reply struct {
	key, text string
}

// replyBatch returns a batcher that records answers to Slack requests in one
// UPDATE; for a key given twice the first answer stands.
func replyBatch(w writer) *batcher[reply] {
	return &batcher[reply]{max: maxBatch, write: func(ctx context.Context, items []reply) ([]bool, error) {
		var sql strings.Builder
		args := make([]any, 0, 3*len(items))
		sql.WriteString(`UPDATE slack_requests SET reply = CASE "key"`)
		for _, r := range items {
			sql.WriteString(" WHEN ? THEN ?")
			args = append(args, r.key, r.text)
		}
		sql.WriteString(` ELSE reply END WHERE "key" IN (`)
		for i, r := range items {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("?")
			args = append(args, r.key)
		}
		sql.WriteString(")")
		if err := w(ctx, func(db *gorm.DB) error { return db.Exec(sql.String(), args...).Error }); err != nil {
			return nil, err
		}
		oks := make([]bool, len(items))
		for i := range oks {
			oks[i] = true
		}
		return oks, nil
	}}
}
