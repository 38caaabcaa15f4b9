package checks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
)

// freshnessCheck fails when a backup job's newest successful run is older
// than the job's fresh_within.
type freshnessCheck struct {
	job    string
	within time.Duration
	db     *gorm.DB
	clock  clock.Clock
}

func newFreshness(c config.Check, env Env) (Check, error) {
	f := &freshnessCheck{job: c.Job, db: env.DB, clock: env.Clock}
	if f.clock == nil {
		f.clock = clock.Real{}
	}
	if env.Config != nil {
		for _, j := range env.Config.Backups.Jobs {
			if j.Name == c.Job {
				f.within = time.Duration(j.FreshWithin)
			}
		}
	}
	if f.within <= 0 {
		return nil, fmt.Errorf("backup job %q has no fresh_within", c.Job)
	}
	return f, nil
}

// lastBackupSuccess reads when a job last finished successfully, from the
// backups area's runs.
func lastBackupSuccess(ctx context.Context, db *gorm.DB, job string) (time.Time, bool, error) {
	r, err := storage.LatestBackupRun(ctx, db, job, storage.BackupSucceeded)
	if errors.Is(err, storage.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	if r.FinishedAt == nil {
		return r.StartedAt.UTC(), true, nil
	}
	return r.FinishedAt.UTC(), true, nil
}

func (f *freshnessCheck) Run(ctx context.Context) Result {
	start := time.Now()
	if f.db == nil {
		return fail(start, "backup-freshness needs the database")
	}
	at, found, err := lastBackupSuccess(ctx, f.db, f.job)
	if err != nil {
		return fail(start, "read last backup of %s: %v", f.job, err)
	}
	if !found {
		return fail(start, "backup %s never succeeded", f.job)
	}
	age := f.clock.Now().Sub(at)
	if age > f.within {
		return fail(start, "last good backup of %s is %s old (%s), older than fresh_within %s",
			f.job, age.Round(time.Minute), at.UTC().Format(time.RFC3339), f.within)
	}
	return ok(start)
}
