package checks

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"opsbot/clock"
	"opsbot/config"
)

// freshnessCheck reads the newest successful run of a backup job from the
// backups area's table. Until that area's table exists the check fails
// with a message that says so.
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

// lastBackupSuccess reads when a job last finished successfully from the
// backups area's backup_runs table (migration 0040_backups). It reads the
// table by name so that checks do not depend on the backups package.
func lastBackupSuccess(ctx context.Context, db *gorm.DB, job string) (time.Time, bool, error) {
	db = db.WithContext(ctx)
	if !db.Migrator().HasTable("backup_runs") {
		return time.Time{}, false, fmt.Errorf("no backup_runs table: the backups area is not installed")
	}
	var rows []struct{ FinishedAt *time.Time }
	err := db.Table("backup_runs").Select("finished_at").
		Where("job = ? AND state = ? AND finished_at IS NOT NULL", job, "succeeded").
		Order("finished_at DESC").Limit(1).Scan(&rows).Error
	if err != nil {
		return time.Time{}, false, err
	}
	if len(rows) == 0 || rows[0].FinishedAt == nil {
		return time.Time{}, false, nil
	}
	return rows[0].FinishedAt.UTC(), true, nil
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
