package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
)

// A chat request is recorded as handled in the same transaction as its
// first write, not in a transaction of its own before it runs: a request
// that writes nothing (/help, lists, shows) writes nothing at all, and one
// that does commits its effects and its idempotency record together, so a
// retry or a replay either finds the record and runs nothing, or finds no
// effect either and runs as the first attempt would have.

// ErrDuplicateRequest is returned by a transaction of a request that was
// handled already (its record exists): nothing of this attempt is written.
var ErrDuplicateRequest error = duplicateRequest{}

type duplicateRequest struct{}

func (duplicateRequest) Error() string { return "this request was handled already" }

// DuplicateRequest marks the error for code that cannot import storage
// (the router logs it as a retry, not as a failure).
func (duplicateRequest) DuplicateRequest() bool { return true }

// RequestKind names where a platform's handled requests are recorded.
type RequestKind int

// Request kinds.
const (
	SlackRequests RequestKind = iota
	DiscordInteractions
)

type requestKey struct{}

// Request is one chat request's idempotency record, carried by the
// request's context until its first transaction writes it.
type Request struct {
	kind RequestKind
	key  string
	at   time.Time

	mu        sync.Mutex
	claimed   bool
	duplicate bool
}

// Context returns ctx carrying r, for work of the same request that runs
// under another context (a goroutine with its own deadline).
func (r *Request) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// Duplicate reports whether a transaction of this attempt found the
// request handled already (and so wrote nothing).
func (r *Request) Duplicate() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.duplicate
}

// WithRequest returns a context whose first transaction through Store.Tx
// also records the request with key as handled, and the record.
func WithRequest(ctx context.Context, kind RequestKind, key string, at time.Time) (context.Context, *Request) {
	r := &Request{kind: kind, key: key, at: at.UTC()}
	return context.WithValue(ctx, requestKey{}, r), r
}

// Claimed reports whether the request's record was written (by a
// committed transaction of this attempt).
func (r *Request) Claimed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.claimed
}

// pendingRequest returns ctx's request when it is not recorded yet.
func pendingRequest(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	if r == nil || r.Claimed() {
		return nil
	}
	return r
}

// claimIn writes r's record in tx, or returns ErrDuplicateRequest.
func (r *Request) claimIn(tx *gorm.DB) error {
	into := `slack_requests ("key", seen_at)`
	if r.kind == DiscordInteractions {
		into = "discord_interactions (id, seen_at)"
	}
	q := newRawSQL(tx, 2).sql("INSERT INTO "+into+" VALUES ").row(true, r.key, r.at)
	n, err := q.sql(" ON CONFLICT DO NOTHING").affected(tx)
	if err != nil {
		return fmt.Errorf("record request: %w", err)
	}
	if n == 0 {
		r.mu.Lock()
		r.duplicate = true
		r.mu.Unlock()
		return ErrDuplicateRequest
	}
	return nil
}

// Claim records the request as handled in a transaction of its own (for
// work that starts outside the database, such as a slow command that is
// acknowledged before it runs), unless it is recorded already; it returns
// ErrDuplicateRequest when another attempt recorded it first.
func (s *Store) Claim(ctx context.Context, r *Request) error {
	if r.Claimed() {
		return nil
	}
	claim := s.ClaimSlackRequest
	if r.kind == DiscordInteractions {
		claim = s.ClaimDiscordInteraction
	}
	first, err := claim(ctx, r.key, r.at)
	if err == nil && !first {
		err = ErrDuplicateRequest
	}
	if err == nil {
		r.mu.Lock()
		r.claimed = true
		r.mu.Unlock()
	}
	return err
}
