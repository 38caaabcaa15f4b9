package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Backup run states. A run is running until it ends in one of the others;
// lost means the opsbot process that ran it died.
const (
	BackupRunning   = "running"
	BackupSucceeded = "succeeded"
	BackupFailed    = "failed"
	BackupTimedOut  = "timed_out"
	BackupCancelled = "cancelled"
	BackupLost      = "lost"
)

// BackupRun is one run of a backup job. At most one run per job is running:
// a unique partial index on (job) WHERE state = 'running' holds that across
// replicas sharing one database.
type BackupRun struct {
	ID  int64  `gorm:"primaryKey;index:idx_backup_runs_job_id,priority:2"`
	Job string `gorm:"size:128;not null;index:idx_backup_runs_job_id,priority:1"`
	// State is running, succeeded, failed, timed_out, cancelled or lost.
	State string `gorm:"size:16;not null;index"`
	// Trigger is "manual" or "schedule".
	Trigger string `gorm:"size:16;not null"`
	// RequestedBy is the person who started it, or "schedule".
	RequestedBy string `gorm:"size:128;not null"`
	// Owner is the process running it: hostname:pid:nonce.
	Owner string `gorm:"size:255;not null"`
	// HeartbeatAt is refreshed by the owner while the run lasts; a run whose
	// heartbeat is too old is marked lost.
	HeartbeatAt time.Time `gorm:"not null"`
	Pid         int
	StartedAt   time.Time `gorm:"not null"`
	FinishedAt  *time.Time
	// DurationMS is the run's wall time as the owner measured it.
	DurationMS int64
	ExitCode   *int
	// Error says why a run did not succeed, beyond its exit code.
	Error string `gorm:"type:text"`
	// Output is the masked tail of stdout and stderr.
	Output string `gorm:"type:text"`
	// OutputBytes is how many bytes the command wrote in all.
	OutputBytes int64
	// CancelBy, when set on a running run, asks its owner to stop it.
	CancelBy string `gorm:"size:128"`
	// Missed counts the scheduled runs skipped while no replica ran, for a
	// scheduled run that stands in for them.
	Missed int
}

// BackupSchedule is where a job's schedule stands: the last fire time that
// was handled, so a restart neither fires twice nor skips silently.
type BackupSchedule struct {
	Job string `gorm:"primaryKey;size:128"`
	// LastAt is the last scheduled time handled (fired, or skipped because
	// the job was running).
	LastAt time.Time `gorm:"not null"`
	// Version makes advancing LastAt a compare-and-swap between replicas.
	Version int64 `gorm:"not null"`
}

// StartBackupRun inserts r as running unless the job already has a running
// run; then it returns that run and started is false.
func StartBackupRun(tx *gorm.DB, r *BackupRun) (started bool, running BackupRun, err error) {
	r.State = BackupRunning
	r.StartedAt = r.StartedAt.UTC()
	r.HeartbeatAt = r.HeartbeatAt.UTC()
	res := tx.Clauses(clause.OnConflict{
		Columns:     []clause.Column{{Name: "job"}},
		TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "state = 'running'"}}},
		DoNothing:   true,
	}).Create(r)
	if res.Error != nil {
		return false, BackupRun{}, fmt.Errorf("start backup run of %s: %w", r.Job, res.Error)
	}
	if res.RowsAffected == 1 && r.ID != 0 {
		return true, BackupRun{}, nil
	}
	err = tx.Where("job = ? AND state = ?", r.Job, BackupRunning).Take(&running).Error
	if err != nil {
		return false, BackupRun{}, fmt.Errorf("find running backup of %s: %w", r.Job, notFound(err))
	}
	return false, running, nil
}

// GetBackupRun returns run id.
func GetBackupRun(ctx context.Context, db *gorm.DB, id int64) (BackupRun, error) {
	var r BackupRun
	if err := db.WithContext(ctx).Take(&r, id).Error; err != nil {
		return BackupRun{}, fmt.Errorf("get backup run %d: %w", id, notFound(err))
	}
	return r, nil
}

// ListBackupRuns returns a job's newest runs, newest first.
func ListBackupRuns(ctx context.Context, db *gorm.DB, job string, limit int) ([]BackupRun, error) {
	var out []BackupRun
	q := db.WithContext(ctx).Where("job = ?", job).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	if err := q.Omit("output").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list backup runs of %s: %w", job, err)
	}
	return out, nil
}

// LatestBackupRun returns a job's newest run in one of states (any state
// when none are given).
func LatestBackupRun(ctx context.Context, db *gorm.DB, job string, states ...string) (BackupRun, error) {
	var r BackupRun
	q := db.WithContext(ctx).Where("job = ?", job)
	if len(states) > 0 {
		q = q.Where("state IN ?", states)
	}
	if err := q.Omit("output").Order("id DESC").Take(&r).Error; err != nil {
		return BackupRun{}, fmt.Errorf("latest backup run of %s: %w", job, notFound(err))
	}
	return r, nil
}

// LastBackupSuccess returns when a job last succeeded (its newest
// successful run's finish, or its start if it has none); ok is false when it
// never has. The backups area, the backup-freshness check kind and the
// status page all read it.
func LastBackupSuccess(ctx context.Context, db *gorm.DB, job string) (at time.Time, ok bool, err error) {
	r, err := LatestBackupRun(ctx, db, job, BackupSucceeded)
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	if r.FinishedAt != nil {
		return *r.FinishedAt, true, nil
	}
	return r.StartedAt, true, nil
}

// BackupHeartbeat refreshes a running run's heartbeat and live output, and
// returns who asked to cancel it, if anyone did.
func BackupHeartbeat(ctx context.Context, db *gorm.DB, id int64, owner string, at time.Time, output string, bytes int64) (cancelBy string, err error) {
	err = db.WithContext(ctx).Model(&BackupRun{}).
		Where("id = ? AND owner = ? AND state = ?", id, owner, BackupRunning).
		Updates(map[string]any{"heartbeat_at": at.UTC(), "output": output, "output_bytes": bytes}).Error
	if err != nil {
		return "", fmt.Errorf("heartbeat backup run %d: %w", id, err)
	}
	var r BackupRun
	if err := db.WithContext(ctx).Select("cancel_by").Take(&r, id).Error; err != nil {
		return "", fmt.Errorf("heartbeat backup run %d: %w", id, notFound(err))
	}
	return r.CancelBy, nil
}

// RequestBackupCancel records that person asked to stop a running run; ok
// is false when the run is no longer running.
func RequestBackupCancel(tx *gorm.DB, id int64, person string) (ok bool, err error) {
	res := tx.Model(&BackupRun{}).Where("id = ? AND state = ?", id, BackupRunning).Update("cancel_by", person)
	if res.Error != nil {
		return false, fmt.Errorf("cancel backup run %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// FinishBackupRun records how a run ended. Only its owner finishes it; a
// run wrongly marked lost while its owner still ran it gets its real end.
func FinishBackupRun(tx *gorm.DB, r BackupRun) (ok bool, err error) {
	res := tx.Model(&BackupRun{}).
		Where("id = ? AND owner = ? AND state IN ?", r.ID, r.Owner, []string{BackupRunning, BackupLost}).
		Updates(map[string]any{"state": r.State, "finished_at": r.FinishedAt, "duration_ms": r.DurationMS,
			"exit_code": r.ExitCode, "error": r.Error, "output": r.Output, "output_bytes": r.OutputBytes,
			"heartbeat_at": r.HeartbeatAt.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("finish backup run %d: %w", r.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RunningBackupRuns lists every running run.
func RunningBackupRuns(ctx context.Context, db *gorm.DB) ([]BackupRun, error) {
	var out []BackupRun
	if err := db.WithContext(ctx).Omit("output").Where("state = ?", BackupRunning).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list running backups: %w", err)
	}
	return out, nil
}

// MarkBackupLost marks a running run lost, if it still belongs to the same
// owner and, when staleBefore is not zero, its heartbeat is still older than
// that; ok says whether this call marked it.
func MarkBackupLost(tx *gorm.DB, r BackupRun, staleBefore, at time.Time, why string) (ok bool, err error) {
	q := tx.Model(&BackupRun{}).Where("id = ? AND state = ? AND owner = ?", r.ID, BackupRunning, r.Owner)
	if !staleBefore.IsZero() {
		q = q.Where("heartbeat_at < ?", staleBefore.UTC())
	}
	res := q.Updates(map[string]any{"state": BackupLost, "finished_at": at.UTC(), "error": why})
	if res.Error != nil {
		return false, fmt.Errorf("mark backup run %d lost: %w", r.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// GetBackupSchedule returns where a job's schedule stands.
func GetBackupSchedule(ctx context.Context, db *gorm.DB, job string) (BackupSchedule, error) {
	var s BackupSchedule
	if err := db.WithContext(ctx).Take(&s, "job = ?", job).Error; err != nil {
		return BackupSchedule{}, fmt.Errorf("get schedule of %s: %w", job, notFound(err))
	}
	return s, nil
}

// InitBackupSchedule records a job's schedule as standing at at, unless it
// is already recorded.
func InitBackupSchedule(ctx context.Context, db *gorm.DB, job string, at time.Time) error {
	err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&BackupSchedule{Job: job, LastAt: at.UTC()}).Error
	if err != nil {
		return fmt.Errorf("init schedule of %s: %w", job, err)
	}
	return nil
}

// AdvanceBackupSchedule moves a job's schedule from s to at; ok is false
// when another process moved it first.
func AdvanceBackupSchedule(tx *gorm.DB, s BackupSchedule, at time.Time) (ok bool, err error) {
	res := tx.Model(&BackupSchedule{}).Where("job = ? AND version = ?", s.Job, s.Version).
		Updates(map[string]any{"last_at": at.UTC(), "version": s.Version + 1})
	if res.Error != nil {
		return false, fmt.Errorf("advance schedule of %s: %w", s.Job, res.Error)
	}
	return res.RowsAffected == 1, nil
}
