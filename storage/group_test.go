package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestGroupCommit: SQLite transactions that queue while one runs are
// committed together, each in a savepoint: a failing or panicking one is
// rolled back alone and gets its error, the others are all written, and
// nobody returns before the commit that holds its writes.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	audit := func(tx *gorm.DB, action string) error {
		return storage.WriteAudit(tx, storage.AuditEntry{At: time.Now(), Actor: "alice", Platform: "shell", Action: action})
	}
	count := func(action string) int64 {
		var n int64
		if err := s.DB.Model(&storage.AuditEntry{}).Where("action = ?", action).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The first transaction holds its group open until the others queue.
	release := holdGroup(s, func(tx *gorm.DB) error { return audit(tx, "first") })
	before := storage.GroupCommits(s)
	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for i := range n {
		wg.Go(func() {
			c := ctx
			if i == 7 {
				c = cancelled
			}
			errs[i] = s.Tx(c, func(tx *gorm.DB) error {
				if err := audit(tx, fmt.Sprintf("job-%d", i)); err != nil {
					return err
				}
				switch i {
				case 3:
					return boom
				case 5:
					panic("a bug in one caller")
				}
				return nil
			})
		})
	}
	// Wait until every job is queued behind the held group, then let it go.
	waitQueued(t, s, n-1, time.Minute, "transactions") // job 7's context is done: it never queues
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		want := int64(1)
		switch i {
		case 3:
			if !errors.Is(err, boom) {
				t.Errorf("job 3: %v, want its own error", err)
			}
			want = 0
		case 5:
			if err == nil || !errors.Is(err, err) || fmt.Sprint(err) != "transaction panicked: a bug in one caller" {
				t.Errorf("job 5: %v, want the panic as its error", err)
			}
			want = 0
		case 7:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("job 7: %v, want context.Canceled", err)
			}
			want = 0
		default:
			if err != nil {
				t.Errorf("job %d: %v", i, err)
			}
		}
		if got := count(fmt.Sprintf("job-%d", i)); got != want {
			t.Errorf("job %d: %d rows, want %d", i, got, want)
		}
	}
	if got := storage.GroupCommits(s) - before; got < 1 || got > 2 {
		t.Errorf("%d transactions for %d queued callers, want them grouped into one or two", got, n-1)
	}
}

// holdGroup starts a transaction that holds its group open, so others
// queue behind it; release lets it run then and commit, and returns its
// error.
func holdGroup(s *storage.Store, then func(tx *gorm.DB) error) (release func() error) {
	hold, held := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Tx(context.Background(), func(tx *gorm.DB) error {
			close(held)
			<-hold
			return then(tx)
		})
	}()
	<-held
	return func() error { close(hold); return <-done }
}

// waitQueued waits until n transactions queue behind the running group.
func waitQueued(t *testing.T, s *storage.Store, n int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for storage.GroupQueued(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d %s queued behind the running group", storage.GroupQueued(s), n, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupOfOne: a transaction alone in its group runs without a
// savepoint; its failure or panic still leaves none of its writes, and the
// next one alone is written.
func TestGroupOfOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	audit := func(tx *gorm.DB, action string) error {
		return storage.WriteAudit(tx, storage.AuditEntry{At: time.Now(), Actor: "alice", Platform: "shell", Action: action})
	}
	boom := errors.New("boom")
	if err := s.Tx(ctx, func(tx *gorm.DB) error {
		if err := audit(tx, "failed"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing transaction: %v, want its error", err)
	}
	if err := s.Tx(ctx, func(tx *gorm.DB) error {
		if err := audit(tx, "panicked"); err != nil {
			return err
		}
		panic("a bug")
	}); err == nil {
		t.Fatal("a panicking transaction returned no error")
	}
	if err := s.Tx(ctx, func(tx *gorm.DB) error { return audit(tx, "kept") }); err != nil {
		t.Fatal(err)
	}
	var actions []string
	if err := s.DB.Model(&storage.AuditEntry{}).Order("id").Pluck("action", &actions).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(actions) != "[kept]" {
		t.Fatalf("stored %q, want only the one that succeeded", actions)
	}
}

// TestRequestRecordsJoinTheGroupCommit: on SQLite the batched request
// records (Slack claims and answers, Discord interactions) are written in
// the group commit's transactions, not each in a commit and a turn at the
// write lock of its own: while a transaction holds the group, they queue
// behind it with the transactions and go into its next commit.
func TestRequestRecordsJoinTheGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	now := time.Now()
	if first, err := s.ClaimSlackRequest(ctx, "answered", now); err != nil || !first {
		t.Fatalf("claim: %v, %v", first, err)
	}
	release := holdGroup(s, func(*gorm.DB) error { return nil })
	before := storage.GroupCommits(s)
	var wg sync.WaitGroup
	var slackFirst, discordFirst bool
	var claimErr, discordErr, replyErr error
	wg.Go(func() { slackFirst, claimErr = s.ClaimSlackRequest(ctx, "new", now) })
	wg.Go(func() { discordFirst, discordErr = s.ClaimDiscordInteraction(ctx, "123", now) })
	wg.Go(func() { replyErr = s.SaveSlackReply(ctx, "answered", "done") })
	waitQueued(t, s, 3, 10*time.Second, "request records")
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if claimErr != nil || discordErr != nil || replyErr != nil || !slackFirst || !discordFirst {
		t.Fatalf("slack claim %v (%v), discord claim %v (%v), answer %v; want both first and no error",
			slackFirst, claimErr, discordFirst, discordErr, replyErr)
	}
	if got := storage.GroupCommits(s) - before; got != 1 {
		t.Errorf("%d commits for the 3 records queued together, want 1", got)
	}
	if reply, err := storage.SlackReply(ctx, s.DB, "answered"); err != nil || reply != "done" {
		t.Errorf("stored answer %q (%v), want %q", reply, err, "done")
	}
	if again, err := s.ClaimSlackRequest(ctx, "new", now); err != nil || again {
		t.Errorf("claiming the key again: first=%v (%v), want false", again, err)
	}
}
