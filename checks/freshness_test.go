package checks

import (
	"strings"
	"testing"
	"time"

	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestBackupFreshness(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			store := storagetest.Open(t, b)
			t0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
			fc := clock.NewFake(t0)
			cfg := config.Default()
			cfg.Backups.Jobs = []config.BackupJob{{Name: "etc", FreshWithin: config.Duration(26 * time.Hour)}}
			env := Env{Config: cfg, DB: store.DB, Clock: fc}
			c := config.Check{Name: "etc-fresh", Kind: config.KindBackupFreshness, Job: "etc", Timeout: config.Duration(5 * time.Second)}
			if r := run(t, c, env); r.OK || !strings.Contains(r.Error, "never succeeded") {
				t.Errorf("no runs: %+v", r)
			}
			fin := t0.Add(10 * time.Minute)
			for _, st := range []string{storage.BackupSucceeded, storage.BackupFailed} {
				if err := store.DB.Create(&storage.BackupRun{Job: "etc", State: st, Trigger: "schedule", RequestedBy: "schedule",
					Owner: "test", HeartbeatAt: fin, StartedAt: t0, FinishedAt: &fin}).Error; err != nil {
					t.Fatal(err)
				}
			}
			fc.Set(fin.Add(25 * time.Hour))
			if r := run(t, c, env); !r.OK {
				t.Errorf("fresh: %+v", r)
			}
			fc.Set(fin.Add(27 * time.Hour))
			if r := run(t, c, env); r.OK || !strings.Contains(r.Error, "older than fresh_within 26h") {
				t.Errorf("stale: %+v", r)
			}
		})
	}
}
