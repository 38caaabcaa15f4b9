package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Scheduled work is fenced by leadership term. On PostgreSQL the leader
// bumps leader_terms.term in the session that holds the advisory lock, and
// the work it runs carries that term in its context. Every transaction
// opened through Store.Tx with such a context first reads the term row FOR
// SHARE: a write started under an older term is refused by the database
// (ErrFenced), and because the row is share-locked until the transaction
// ends, a new leader's bump waits for writes in flight, so an old term's
// write can never commit after a new term began. SQLite has one serving
// process (serve holds a file lock), so nothing is fenced there.

// ErrFenced is returned for a write of scheduled work started under a
// leadership term that has since ended.
var ErrFenced = errors.New("refused: written under a leadership term that has ended")

type termKey struct{}

// term is the leadership term a context's work runs under.
type term struct {
	n int64
	// lost is called when a write is refused, so the work steps down at
	// once instead of at the next lock check.
	lost func()
}

// WithTerm returns a context whose transactions are fenced by term n; lost
// is called (once or more) when one of them is refused.
func WithTerm(ctx context.Context, n int64, lost func()) context.Context {
	return context.WithValue(ctx, termKey{}, &term{n: n, lost: lost})
}

// TermOf returns the term ctx's work runs under, 0 when it is not fenced.
func TermOf(ctx context.Context) int64 {
	if t, _ := ctx.Value(termKey{}).(*term); t != nil {
		return t.n
	}
	return 0
}

// fence checks, inside tx, that ctx's term is still the current one.
func (s *Store) fence(ctx context.Context, tx *gorm.DB) error {
	t, _ := ctx.Value(termKey{}).(*term)
	if t == nil || s.driver != "postgres" {
		return nil
	}
	var current int64
	if err := tx.Raw("SELECT term FROM leader_terms WHERE id = 1 FOR SHARE").Row().Scan(&current); err != nil {
		return fmt.Errorf("read leadership term: %w", err)
	}
	if current != t.n {
		if t.lost != nil {
			t.lost()
		}
		return fmt.Errorf("%w (term %d, now %d)", ErrFenced, t.n, current)
	}
	return nil
}

// beginTerm starts a new leadership term over conn, the connection that
// holds the leader lock, and returns its number.
func beginTerm(ctx context.Context, conn *sql.Conn, holder string) (int64, error) {
	var n int64
	err := conn.QueryRowContext(ctx,
		"UPDATE leader_terms SET term = term + 1, holder = $1, started_at = now() WHERE id = 1 RETURNING term", holder).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("begin leadership term: %w", err)
	}
	return n, nil
}
