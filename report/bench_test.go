package report

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage/storagetest"
)

// The benchmark's scale: the 10,000 checks and 100,000 tickets.
const (
	benchChecks  = 10000
	benchTickets = 100000
)

// benchNow is Monday 9 March 2026 10:00 UTC; the week is 2–8 March.
var benchNow = time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)

// sqliteTime is how the store keeps a time in SQLite, as SQL over a Unix
// time expression.
func sqliteTime(expr string) string {
	return "strftime('%Y-%m-%d %H:%M:%S', " + expr + ", 'unixepoch') || '+00:00'"
}

// seedBench fills a SQLite file, in SQL so that seeding takes seconds:
// every check ran once an hour through the week (1.68 million results, the
// default retention of 7 days keeps no more), 100,000 tickets filed over
// 60 days (two thirds resolved, urgent and high with SLA targets), 2,000
// incidents, 5,000 access requests and 50 backup jobs' runs.
func seedBench(b *testing.B, db *gorm.DB) *config.Config {
	b.Helper()
	week := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix()
	stmts := []string{
		fmt.Sprintf(`INSERT INTO check_results ("check", at, ok, latency_ms, error, manual)
			WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < %d),
			h(j) AS (SELECT 0 UNION ALL SELECT j+1 FROM h WHERE j < 167)
			SELECT printf('check-%%05d', i), %s, CASE WHEN (i*7 + j*13) %% (50 + i %% 997) = 0 THEN 0 ELSE 1 END, 20, '', 0
			FROM c, h`, benchChecks-1, sqliteTime(fmt.Sprintf("%d + j*3600 + i %% 3600", week))),
		fmt.Sprintf(`INSERT INTO tickets (summary, status, active, priority, queue, requester, filed_by, created_at, updated_at,
				first_response_at, resolved_at, first_response_due, resolve_due)
			WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM t WHERE i < %d),
			x(i, created, pr) AS (SELECT i, %d - 60*86400 + (i * 5184000 / %d), CASE i %% 4 WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' ELSE 'normal' END FROM t)
			SELECT 'ticket ' || i, CASE WHEN i %% 3 = 0 THEN 'open' ELSE 'resolved' END, CASE WHEN i %% 3 = 0 THEN 1 ELSE 0 END, pr,
				CASE i %% 2 WHEN 0 THEN 'it' ELSE 'facilities' END, 'erin', 'erin', %s, %s,
				%s, CASE WHEN i %% 3 = 0 THEN NULL ELSE %s END,
				CASE WHEN pr = 'normal' THEN NULL ELSE %s END, CASE WHEN pr = 'normal' THEN NULL ELSE %s END
			FROM x`, benchTickets-1, week+7*86400, benchTickets,
			sqliteTime("created"), sqliteTime("created"), sqliteTime("created + 600 + i % 3000"),
			sqliteTime("created + 3600 * (1 + i % 30)"), sqliteTime("created + 1800"), sqliteTime("created + 86400")),
		fmt.Sprintf(`INSERT INTO incidents ("check", kind, channel, state, opened_at, failing_since, error, acked_at, resolved_at, rev, escalation_step, reopens, changed_at)
			WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM t WHERE i < 1999)
			SELECT printf('check-%%05d', i * 37 %% %d), 'http', 'ops', 'resolved', %s, %s, '', %s, %s, 0, 0, 0, %s FROM t`,
			benchChecks, sqliteTime(fmt.Sprintf("%d + i * 604.8", week-7*86400)), sqliteTime(fmt.Sprintf("%d + i * 604.8", week-7*86400)),
			sqliteTime(fmt.Sprintf("%d + i * 604.8 + 300 + i %% 900", week-7*86400)), sqliteTime(fmt.Sprintf("%d + i * 604.8 + 3600 + i %% 7200", week-7*86400)),
			sqliteTime(fmt.Sprintf("%d + i * 604.8", week-7*86400))),
		fmt.Sprintf(`INSERT INTO access_requests (resource, role, requester, duration, state, seq, round, approvals_needed, pending_until,
				granted_at, closed_at, attempts, created_at, updated_at)
			WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM t WHERE i < 4999)
			SELECT CASE i %% 2 WHEN 0 THEN 'prod-db' ELSE 'wiki' END, 'read', 'erin', 3600000000000,
				CASE i %% 4 WHEN 0 THEN 'denied' WHEN 1 THEN 'expired' ELSE 'revoked' END, 0, 0, 1, %s,
				CASE WHEN i %% 4 >= 2 THEN %s ELSE NULL END, %s, 0, %s, %s FROM t`,
			sqliteTime(fmt.Sprintf("%d + i * 241.92 + 86400", week-7*86400)), sqliteTime(fmt.Sprintf("%d + i * 241.92 + 600", week-7*86400)),
			sqliteTime(fmt.Sprintf("%d + i * 241.92 + 3600", week-7*86400)), sqliteTime(fmt.Sprintf("%d + i * 241.92", week-7*86400)),
			sqliteTime(fmt.Sprintf("%d + i * 241.92", week-7*86400))),
		fmt.Sprintf(`INSERT INTO backup_runs (job, state, trigger, requested_by, owner, heartbeat_at, started_at, finished_at)
			WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM t WHERE i < 699)
			SELECT printf('job-%%02d', i %% 50), CASE WHEN i %% 7 = 0 THEN 'failed' ELSE 'succeeded' END, 'schedule', 'opsbot', 'bench', %s, %s, %s FROM t`,
			sqliteTime(fmt.Sprintf("%d + (i / 50) * 86400", week-7*86400)), sqliteTime(fmt.Sprintf("%d + (i / 50) * 86400", week-7*86400)),
			sqliteTime(fmt.Sprintf("%d + (i / 50) * 86400 + 600", week-7*86400))),
	}
	for _, s := range stmts {
		if err := db.Exec(s).Error; err != nil {
			b.Fatalf("seed: %v\n%s", err, s)
		}
	}
	return seedCfg()
}

// seedCfg is the configuration of the seeded data.
func seedCfg() *config.Config {
	cfg := config.Default()
	for i := range benchChecks {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("check-%05d", i), Team: []string{"it", "ops"}[i%2]})
	}
	cfg.Tickets.Queues = []config.Queue{{Name: "it", Team: "it"}, {Name: "facilities", Team: "ops"}}
	cfg.Tickets.SLA = map[string]config.SLA{"urgent": {}, "high": {}}
	cfg.Access.Resources = []config.Resource{{Name: "prod-db", Team: "it"}, {Name: "wiki", Team: "ops"}}
	for i := range 50 {
		cfg.Backups.Jobs = append(cfg.Backups.Jobs, config.BackupJob{Name: fmt.Sprintf("job-%02d", i), FreshWithin: config.Duration(26 * time.Hour)})
	}
	return cfg
}

// BenchmarkDigest times a week's digest over 10,000 checks and 100,000
// tickets in a real SQLite file: computing it (compute), drawing its three
// charts (render), and both, as /report does (total). Seeding is outside
// the timed part. Run with go test ./report -run '^$' -bench Digest
// -benchtime 5x.
func BenchmarkDigest(b *testing.B) {
	store := storagetest.Open(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)})
	start := time.Now()
	cfg := seedBench(b, store.DB)
	b.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	benchDigest(b, store.DB, cfg)
}

// benchDigest checks that the digest sees the seeded data, then times it
// on db: computing it (for everyone and for one team), drawing its charts,
// and both.
func benchDigest(b *testing.B, db *gorm.DB, cfg *config.Config) {
	ctx := context.Background()
	p, err := NewPeriod(Week, benchNow, time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	d, err := Compute(ctx, db, cfg, p, "", benchNow)
	if err != nil {
		b.Fatal(err)
	}
	if len(d.Checks) != benchChecks || d.Tickets.Opened.Cur == 0 || d.Incidents.Opened.Cur == 0 {
		b.Fatalf("seeded data not seen: %d checks, %+v tickets, %+v incidents", len(d.Checks), d.Tickets.Opened, d.Incidents.Opened)
	}
	b.Run("compute", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compute(ctx, db, cfg, p, "", benchNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compute-team", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compute(ctx, db, cfg, p, "it", benchNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("render", func(b *testing.B) {
		size := 0
		for b.Loop() {
			imgs, err := d.Images()
			if err != nil {
				b.Fatal(err)
			}
			size = 0
			for _, img := range imgs {
				size += len(img.Data)
			}
		}
		b.ReportMetric(float64(size), "png-bytes")
	})
	b.Run("total", func(b *testing.B) {
		for b.Loop() {
			d, err := Compute(ctx, db, cfg, p, "", benchNow)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.Reply(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
