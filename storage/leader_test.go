package storage_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage/storagetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor polls cond until it holds or the deadline passes: leadership moves
// on real connections, so the test waits on the outcome, not on a sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestElectorPostgresFailover(t *testing.T) {
	t.Parallel()
	cfg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	b := storagetest.Backend{Name: "postgres", Config: cfg}
	a, c := storagetest.Open(t, b), storagetest.Open(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ea := a.NewElector("test", 100*time.Millisecond, quiet(), time.Now)
	ec := c.NewElector("test", 100*time.Millisecond, quiet(), time.Now)
	var aWorking, cWorking atomic.Int32
	work := func(n *atomic.Int32) func(context.Context) error {
		return func(ctx context.Context) error {
			n.Add(1)
			defer n.Add(-1)
			<-ctx.Done()
			return ctx.Err()
		}
	}
	// a runs under a context of its own: once its lock connection is
	// killed, its host is taken as gone for good (else a, retrying, could
	// win the lock back before c, as it may in production).
	actx, aGone := context.WithCancel(ctx)
	defer aGone()
	go ea.Run(actx, work(&aWorking))
	waitFor(t, "a to lead", ea.Leading)
	go ec.Run(ctx, work(&cWorking))
	// c keeps trying but must not lead while a holds the lock.
	time.Sleep(300 * time.Millisecond)
	if ec.Leading() || cWorking.Load() != 0 {
		t.Fatal("two leaders at once")
	}
	// Kill a's lock connection from the outside, as a dead network would.
	if err := c.DB.Exec(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = (hashtext(current_schema() || ':opsbot-leader'))::oid AND granted`).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to step down", func() bool { return aWorking.Load() == 0 })
	aGone()
	waitFor(t, "c to take over", func() bool { return ec.Leading() && cWorking.Load() == 1 })
	if aWorking.Load() != 0 {
		t.Fatalf("a still working after c took over")
	}
	reps, err := c.Replicas(context.Background(), time.Now().Add(-time.Minute))
	if err != nil || len(reps) != 2 {
		t.Fatalf("replicas %+v, err %v", reps, err)
	}
	waitFor(t, "the replica list to show c leading", func() bool {
		reps, _ := c.Replicas(context.Background(), time.Now().Add(-time.Minute))
		return len(reps) == 2 && reps[0].ID == ec.ID() && reps[0].Leader && !reps[1].Leader
	})
}

func TestElectorSQLiteAlwaysLeads(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	e := s.NewElector("test", time.Second, quiet(), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan bool, 1)
	go func() {
		_ = e.Run(ctx, func(ctx context.Context) error { ran <- e.Leading(); <-ctx.Done(); return ctx.Err() })
	}()
	if !<-ran {
		t.Fatal("the SQLite replica must lead")
	}
	cancel()
}

func TestLockServeRefusesSecondSQLiteServer(t *testing.T) {
	t.Parallel()
	cfg := storagetest.SQLite(t)
	a := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: cfg})
	b := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: cfg})
	release, err := a.LockServe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.LockServe(); err == nil || !strings.Contains(err.Error(), "SQLite allows one replica") {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release2, err := b.LockServe()
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}

// TestSlowLockCheckKeepsLeader: the database answers the leader's lock
// check late (all its traffic held at a proxy for longer than the old 5 s
// limit of a check) but the connection and the lock survive: the leader
// keeps leading through it, its work is not cancelled, and no new term
// begins.
func TestSlowLockCheckKeepsLeader(t *testing.T) {
	t.Parallel()
	cfg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	proxy := harness.NewProxy(t, cfg.DSN)
	slow := storagetest.Backend{Name: "postgres", Config: config.DatabaseConfig{Driver: "postgres", DSN: proxy.DSN(cfg.DSN)}}
	s := storagetest.Open(t, slow)
	direct := storagetest.Open(t, storagetest.Backend{Name: "postgres", Config: cfg})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := s.NewElector("test", 200*time.Millisecond, quiet(), time.Now)
	var stopped atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- e.Run(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			stopped.Add(1)
			return ctx.Err()
		})
	}()
	waitFor(t, "the replica to lead", e.Leading)
	term := func() int64 {
		var n int64
		if err := direct.DB.Raw("SELECT term FROM leader_terms WHERE id = 1").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := term()
	proxy.Pause()
	for range 7 { // 7 s: past a 5 s check timeout, 35 intervals
		time.Sleep(time.Second)
		if !e.Leading() || stopped.Load() != 0 {
			proxy.Resume()
			t.Fatal("a slow lock check demoted a leader that still holds its lock")
		}
	}
	proxy.Resume()
	time.Sleep(time.Second) // a few checks answer in time again
	if !e.Leading() || stopped.Load() != 0 || term() != before {
		t.Fatalf("after the slow spell: leading %v, work stopped %d times, term %d then %d", e.Leading(), stopped.Load(), before, term())
	}
	// The lock really was held throughout: nobody else could take it.
	var held int64
	if err := direct.DB.Raw(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = (hashtext(current_schema() || ':opsbot-leader'))::oid AND granted`).Scan(&held).Error; err != nil || held != 1 {
		t.Fatalf("leader locks held: %d (err %v)", held, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
