package checks

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
)

// Freshness is how a backup job stands against its fresh_within target.
// The backup-freshness check kind, the backups area (/backup list and
// status) and the status page all read it from BackupFreshness.
type Freshness struct {
	// Target is fresh_within; zero means the job has none.
	Target time.Duration
	// LastSuccess is when the job last succeeded; zero if never.
	LastSuccess time.Time
	// Stale is true when the job has a target and missed it.
	Stale bool
	// Text says it in one line: "stale: last success 30h ago, target 26h".
	Text string
}

// BackupFreshness compares a job's last success with its target at now.
func BackupFreshness(ctx context.Context, db *gorm.DB, job config.BackupJob, now time.Time) (Freshness, error) {
	at, ok, err := storage.LastBackupSuccess(ctx, db, job.Name)
	if err != nil {
		return Freshness{}, err
	}
	f := Freshness{Target: time.Duration(job.FreshWithin), LastSuccess: at}
	target := config.Duration(f.Target).String()
	switch {
	case f.Target <= 0:
		f.Text = "no freshness target"
		if ok {
			f.Text = "last success " + clock.Ago(now, at) + " (no freshness target)"
		}
	case !ok:
		f.Stale, f.Text = true, "stale: never succeeded, target "+target
	case now.Sub(at) > f.Target:
		f.Stale, f.Text = true, fmt.Sprintf("stale: last success %s, target %s", clock.Ago(now, at), target)
	default:
		f.Text = fmt.Sprintf("fresh: last success %s, target %s", clock.Ago(now, at), target)
	}
	return f, nil
}

// freshnessCheck fails when a backup job's newest successful run is older
// than the job's fresh_within.
type freshnessCheck struct {
	job   config.BackupJob
	db    *gorm.DB
	clock clock.Clock
}

func newFreshness(c config.Check, env Env) (Check, error) {
	f := &freshnessCheck{job: config.BackupJob{Name: c.Job}, db: env.DB, clock: env.Clock}
	if f.clock == nil {
		f.clock = clock.Real{}
	}
	if env.Config != nil {
		for _, j := range env.Config.Backups.Jobs {
			if j.Name == c.Job {
				f.job = j
			}
		}
	}
	if f.job.FreshWithin <= 0 {
		return nil, fmt.Errorf("backup job %q has no fresh_within", c.Job)
	}
	return f, nil
}

func (f *freshnessCheck) Run(ctx context.Context) Result {
	start := time.Now()
	if f.db == nil {
		return fail(start, "backup-freshness needs the database")
	}
	now := f.clock.Now()
	fr, err := BackupFreshness(ctx, f.db, f.job, now)
	if err != nil {
		return fail(start, "read last backup of %s: %v", f.job.Name, err)
	}
	if fr.LastSuccess.IsZero() {
		return fail(start, "backup %s never succeeded", f.job.Name)
	}
	if fr.Stale {
		return fail(start, "last good backup of %s is %s old (%s), older than fresh_within %s",
			f.job.Name, now.Sub(fr.LastSuccess).Round(time.Minute), fr.LastSuccess.UTC().Format(time.RFC3339), fr.Target)
	}
	return ok(start)
}
