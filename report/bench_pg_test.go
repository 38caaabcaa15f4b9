package report

import (
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage/storagetest"
)

// seedBenchPostgres fills a PostgreSQL schema with the same data as
// seedBench, with generate_series, and analyzes the tables as autovacuum
// would.
func seedBenchPostgres(b *testing.B, db *gorm.DB) {
	b.Helper()
	week := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix()
	prev := week - 7*86400
	ts := func(expr string) string { return "to_timestamp(" + expr + ")" }
	stmts := []string{
		fmt.Sprintf(`INSERT INTO check_results ("check", at, ok, latency_ms, error, manual)
			SELECT 'check-' || lpad(i::text, 5, '0'), %s, NOT ((i*7 + j*13) %% (50 + i %% 997) = 0), 20, '', false
			FROM generate_series(0, %d) i, generate_series(0, 167) j`, ts(fmt.Sprintf("%d + j*3600 + i %% 3600", week)), benchChecks-1),
		fmt.Sprintf(`INSERT INTO tickets (summary, status, active, priority, queue, requester, filed_by, created_at, updated_at,
				first_response_at, resolved_at, first_response_due, resolve_due)
			SELECT 'ticket ' || i, CASE WHEN i %% 3 = 0 THEN 'open' ELSE 'resolved' END, i %% 3 = 0, pr,
				CASE i %% 2 WHEN 0 THEN 'it' ELSE 'facilities' END, 'erin', 'erin', %s, %s, %s,
				CASE WHEN i %% 3 = 0 THEN NULL ELSE %s END,
				CASE WHEN pr = 'normal' THEN NULL ELSE %s END, CASE WHEN pr = 'normal' THEN NULL ELSE %s END
			FROM (SELECT i, %d - 60*86400 + (i * 5184000 / %d) AS created,
				CASE i %% 4 WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' ELSE 'normal' END AS pr
				FROM generate_series(0::bigint, %d) i) x`,
			ts("created"), ts("created"), ts("created + 600 + i % 3000"), ts("created + 3600 * (1 + i % 30)"),
			ts("created + 1800"), ts("created + 86400"), week+7*86400, benchTickets, benchTickets-1),
		fmt.Sprintf(`INSERT INTO incidents ("check", kind, channel, state, opened_at, failing_since, error, acked_at, resolved_at, rev, escalation_step, reopens, changed_at)
			SELECT 'check-' || lpad((i * 37 %% %d)::text, 5, '0'), 'http', 'ops', 'resolved', %s, %s, '', %s, %s, 0, 0, 0, %s
			FROM generate_series(0, 1999) i`, benchChecks,
			ts(fmt.Sprintf("%d + i * 604.8", prev)), ts(fmt.Sprintf("%d + i * 604.8", prev)),
			ts(fmt.Sprintf("%d + i * 604.8 + 300 + i %% 900", prev)), ts(fmt.Sprintf("%d + i * 604.8 + 3600 + i %% 7200", prev)),
			ts(fmt.Sprintf("%d + i * 604.8", prev))),
		fmt.Sprintf(`INSERT INTO access_requests (resource, role, requester, duration, state, seq, round, approvals_needed, pending_until,
				granted_at, closed_at, attempts, created_at, updated_at)
			SELECT CASE i %% 2 WHEN 0 THEN 'prod-db' ELSE 'wiki' END, 'read', 'erin', 3600000000000,
				CASE i %% 4 WHEN 0 THEN 'denied' WHEN 1 THEN 'expired' ELSE 'revoked' END, 0, 0, 1, %s,
				CASE WHEN i %% 4 >= 2 THEN %s ELSE NULL END, %s, 0, %s, %s FROM generate_series(0, 4999) i`,
			ts(fmt.Sprintf("%d + i * 241.92 + 86400", prev)), ts(fmt.Sprintf("%d + i * 241.92 + 600", prev)),
			ts(fmt.Sprintf("%d + i * 241.92 + 3600", prev)), ts(fmt.Sprintf("%d + i * 241.92", prev)), ts(fmt.Sprintf("%d + i * 241.92", prev))),
		fmt.Sprintf(`INSERT INTO backup_runs (job, state, trigger, requested_by, owner, heartbeat_at, started_at, finished_at)
			SELECT 'job-' || lpad((i %% 50)::text, 2, '0'), CASE WHEN i %% 7 = 0 THEN 'failed' ELSE 'succeeded' END, 'schedule', 'opsbot', 'bench', %s, %s, %s
			FROM generate_series(0, 699) i`,
			ts(fmt.Sprintf("%d + (i / 50) * 86400", prev)), ts(fmt.Sprintf("%d + (i / 50) * 86400", prev)), ts(fmt.Sprintf("%d + (i / 50) * 86400 + 600", prev))),
		"ANALYZE check_results, tickets, incidents, access_requests, backup_runs",
	}
	for _, s := range stmts {
		if err := db.Exec(s).Error; err != nil {
			b.Fatalf("seed: %v\n%s", err, s)
		}
	}
}

// BenchmarkDigestPostgres is BenchmarkDigest, the same sub-benchmarks, on
// PostgreSQL when OPSBOT_TEST_POSTGRES is set.
func BenchmarkDigestPostgres(b *testing.B) {
	cfgDB, ok := storagetest.Postgres(b)
	if !ok {
		b.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	store := storagetest.Open(b, storagetest.Backend{Name: "postgres", Config: cfgDB})
	seedBenchPostgres(b, store.DB)
	benchDigest(b, store.DB, seedCfg())
}
