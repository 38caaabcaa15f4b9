package statuspage

import (
	"context"
	"testing"
	"time"

	"opsbot/checks"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestFreshnessAgreesWithCheck stores backup runs once and reads them
// through the backup-freshness check kind and through the status page: at
// every moment, around the target and across runs that failed after the last
// success or never succeeded, the check fails exactly when the page says
// stale, and both name the same last success.
func TestFreshnessAgreesWithCheck(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	within := 26 * time.Hour
	cfg := config.Default()
	cfg.Backups.Jobs = []config.BackupJob{
		{Name: "etc", FreshWithin: config.Duration(within)},
		{Name: "wiki", FreshWithin: config.Duration(within)},        // only failed runs
		{Name: "home", FreshWithin: config.Duration(within)},        // a success with no finish time
		{Name: "logs", FreshWithin: config.Duration(2 * time.Hour)}, // succeeded, then failed later
	}
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ctx := context.Background()
			add := func(job, state string, started time.Time, finished *time.Time) {
				t.Helper()
				if err := s.DB.Create(&storage.BackupRun{Job: job, State: state, Trigger: "schedule", RequestedBy: "schedule",
					Owner: "test", HeartbeatAt: started, StartedAt: started, FinishedAt: finished}).Error; err != nil {
					t.Fatal(err)
				}
			}
			at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
			add("etc", storage.BackupSucceeded, t0, at(10*time.Minute))
			add("etc", storage.BackupFailed, t0.Add(time.Hour), at(time.Hour+time.Minute))
			add("wiki", storage.BackupFailed, t0, at(time.Minute))
			add("home", storage.BackupSucceeded, t0.Add(30*time.Minute), nil)
			add("logs", storage.BackupSucceeded, t0, at(5*time.Minute))
			add("logs", storage.BackupFailed, t0.Add(3*time.Hour), at(3*time.Hour+time.Minute))

			src := StoreSources(cfg, s.DB)
			fc := clock.NewFake(t0)
			for _, now := range []time.Time{t0.Add(time.Hour), t0.Add(10*time.Minute + within), t0.Add(10*time.Minute + within + time.Second),
				t0.Add(30*time.Minute + within), t0.Add(30*time.Minute + within + time.Minute), t0.Add(3 * within)} {
				fc.Set(now)
				st := Collect(ctx, src, now, quiet())
				if len(st.Unavailable) != 0 || len(st.Backups) != len(cfg.Backups.Jobs) {
					t.Fatalf("at %s: unavailable %v, backups %+v", now, st.Unavailable, st.Backups)
				}
				for i, job := range cfg.Backups.Jobs {
					c, err := checks.New(config.Check{Name: job.Name + "-fresh", Kind: config.KindBackupFreshness, Job: job.Name,
						Timeout: config.Duration(5 * time.Second)}, checks.Env{Config: cfg, DB: s.DB, Clock: fc})
					if err != nil {
						t.Fatal(err)
					}
					r := c.Run(ctx)
					page := st.Backups[i]
					if page.Job != job.Name {
						t.Fatalf("page row %d is %s, want %s", i, page.Job, job.Name)
					}
					if stale := page.Freshness == "stale"; stale == r.OK {
						t.Errorf("at +%s, %s: the check says ok=%v (%s) but the page says %q (%s)",
							now.Sub(t0), job.Name, r.OK, r.Error, page.Freshness, page.FreshnessText)
					}
					f, err := checks.BackupFreshness(ctx, s.DB, job, now)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case f.LastSuccess.IsZero() != (page.LastSuccessAt == nil):
						t.Errorf("%s: last success %v, page %v", job.Name, f.LastSuccess, page.LastSuccessAt)
					case page.LastSuccessAt != nil && !page.LastSuccessAt.Equal(f.LastSuccess):
						t.Errorf("%s: last success %v, page %v", job.Name, f.LastSuccess, page.LastSuccessAt)
					}
				}
			}
		})
	}
}
