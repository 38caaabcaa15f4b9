package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestLeaderOverlapIsFenced forces two leaders at once on PostgreSQL: replica
// A leads with a slow lock check (leader.interval 3s), its lock connection
// is terminated from outside, and replica B (interval 200ms) takes the lock
// while A, not yet aware, still runs its 50 checks every second. A's writes
// under its old term must be refused by the database, no check slot may be
// recorded twice, the failing check (failures: 2) must count each slot once
// and open exactly one incident with one post, and the passing checks none.
func TestLeaderOverlapIsFenced(t *testing.T) {
	pg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	// Each replica checks its own copy of the services, so the test can see
	// that A really ran checks while B led.
	type target struct {
		srv  *httptest.Server
		hits atomic.Int64
	}
	targets := [2]*target{{}, {}}
	// web-00 starts failing the moment the overlap begins, so its first
	// failing slot is one both leaders run.
	var broken atomic.Bool
	for _, tg := range targets {
		tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tg.hits.Add(1)
			if broken.Load() && strings.HasSuffix(r.URL.Path, "/00") {
				http.Error(w, "down", http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(tg.srv.Close)
	}
	conf := func(interval string, tg *target) string {
		var b strings.Builder
		fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndatabase: {driver: postgres, dsn: %q}\nleader: {interval: %s}\n", pg.DSN, interval)
		b.WriteString("channels:\n  ops: {slack: C03OPS}\ncheck_settings: {workers: 64}\nchecks:\n")
		for i := range replicaChecks {
			fmt.Fprintf(&b, "  - {name: web-%02d, kind: http, url: %q, every: 1s, timeout: 1s, channel: ops, failures: 2, successes: 1}\n",
				i, fmt.Sprintf("%s/svc/%02d", tg.srv.URL, i))
		}
		return b.String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type replica struct {
		c       *core
		elector *storage.Elector
		done    chan error
	}
	start := func(interval string, tg *target) *replica {
		cfg, err := config.Load(harness.WriteConfig(t, t.TempDir(), conf(interval, tg)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := build(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		r := &replica{c: c, elector: c.store.NewElector("test", time.Duration(cfg.Leader.Interval), log, time.Now), done: make(chan error, 1)}
		go func() {
			r.done <- r.elector.Run(ctx, func(ctx context.Context) error {
				g, gctx := errgroup.WithContext(ctx)
				for _, w := range c.scheduled {
					g.Go(func() error { return w(gctx) })
				}
				return g.Wait()
			})
		}()
		return r
	}
	a := start("3s", targets[0])
	harness.WaitUntil(t, 10*time.Second, "A to lead", a.elector.Leading)
	b := start("200ms", targets[1])
	harness.WaitUntil(t, 10*time.Second, "A's checks to run", func() bool { return targets[0].hits.Load() >= replicaChecks })

	// A's lock connection dies; B takes the lock within its 200ms while A
	// only looks again at its next 3s tick.
	began := time.Now()
	broken.Store(true)
	if err := a.c.store.DB.Exec(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = (hashtext(current_schema() || ':opsbot-leader'))::oid AND granted`).Error; err != nil {
		t.Fatal(err)
	}
	harness.WaitUntil(t, 10*time.Second, "B to lead", b.elector.Leading)
	aRan := targets[0].hits.Load()
	overlap := time.Now()
	harness.WaitUntil(t, 10*time.Second, "A to run checks while B leads, or step down", func() bool {
		return targets[0].hits.Load() > aRan || !a.elector.Leading()
	})
	ranDuringOverlap := targets[0].hits.Load() - aRan
	harness.WaitUntil(t, 10*time.Second, "A to step down", func() bool { return !a.elector.Leading() })
	stepDown := time.Since(overlap)
	// Let B run a few more slots on its own.
	bRan := targets[1].hits.Load()
	harness.WaitUntil(t, 10*time.Second, "B's checks to run", func() bool { return targets[1].hits.Load() >= bRan+3*replicaChecks })
	cancel()
	for _, r := range []*replica{a, b} {
		if err := <-r.done; err != nil {
			t.Fatalf("elector: %v", err)
		}
	}
	fmt.Printf("fencing: A ran %d checks while B led; A stepped down %s after B took the lock\n", ranDuringOverlap, stepDown.Round(time.Millisecond))

	db := b.c.store.DB
	var dups []struct {
		Check string
		Slot  string
		N     int
	}
	if err := db.Raw(`SELECT "check", slot, count(*) AS n FROM check_results GROUP BY "check", slot HAVING count(*) > 1`).Scan(&dups).Error; err != nil {
		t.Fatal(err)
	}
	if len(dups) > 0 {
		t.Errorf("slots recorded twice: %+v", dups)
	}
	var incidents []storage.Incident
	if err := db.Order("id").Find(&incidents).Error; err != nil {
		t.Fatal(err)
	}
	if len(incidents) != 1 || incidents[0].Check != "web-00" {
		t.Fatalf("incidents %+v, want exactly one, for web-00", incidents)
	}
	var posts int64
	if err := db.Model(&storage.OutboxMessage{}).Where("key LIKE ?", fmt.Sprintf("incident:%d:open%%", incidents[0].ID)).Count(&posts).Error; err != nil {
		t.Fatal(err)
	}
	if posts != 1 {
		t.Errorf("%d posts of the incident's opening, want 1", posts)
	}
	// The failing check counted every slot once: its failure count is the
	// number of distinct failing slots recorded since it began failing.
	var st storage.CheckState
	if err := db.Where(`"check" = ?`, "web-00").Take(&st).Error; err != nil {
		t.Fatal(err)
	}
	var failing int64
	if err := db.Model(&storage.CheckResult{}).Where(`"check" = ? AND NOT ok AND at >= ?`, "web-00", st.FailingSince).
		Distinct("slot").Count(&failing).Error; err != nil {
		t.Fatal(err)
	}
	if int64(st.Failures) != failing {
		t.Errorf("web-00 counts %d failures for %d failing slots: a slot counted twice", st.Failures, failing)
	}
	var opened int64
	if err := db.Model(&storage.CheckResult{}).Where(`"check" = ? AND NOT ok AND at <= ?`, "web-00", incidents[0].OpenedAt).
		Distinct("slot").Count(&opened).Error; err != nil {
		t.Fatal(err)
	}
	if opened < 2 {
		t.Errorf("the incident opened after %d failing slots, want at least 2 (failures: 2)", opened)
	}
	// Slots are a second apart and the first failing one is not before
	// began: counted once each, the second failure cannot come sooner.
	if in := incidents[0]; in.OpenedAt.Before(began.Add(time.Second)) {
		t.Errorf("the incident opened %s after web-00 began failing: one failing slot was counted twice (failures: 2, every: 1s)",
			in.OpenedAt.Sub(began).Round(time.Millisecond))
	}
}
