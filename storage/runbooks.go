package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Runbook run states. A run waits in pending for its approvals, in approved
// for a free slot, then runs once and ends in one of the final states.
const (
	RunbookPending   = "pending"
	RunbookApproved  = "approved"
	RunbookRunning   = "running"
	RunbookSucceeded = "succeeded"
	RunbookFailed    = "failed"
	RunbookTimedOut  = "timed_out"
	RunbookCancelled = "cancelled"
	RunbookDenied    = "denied"
	RunbookLost      = "lost"
)

// RunbookRun is one /run request of a configured runbook.
type RunbookRun struct {
	ID          int64  `gorm:"primaryKey"`
	Runbook     string `gorm:"size:128;not null"`
	State       string `gorm:"size:16;not null"`
	RequestedBy string `gorm:"size:128;not null"`
	// Params is the validated parameters as JSON.
	Params string `gorm:"type:text;not null"`
	// ApprovedBy is the comma-separated names of those who approved.
	ApprovedBy string `gorm:"type:text;not null"`
	// DecidedBy is who denied or cancelled it.
	DecidedBy string `gorm:"size:128;not null"`
	// Owner is the process that runs it, hostname:pid:nonce; the claim that
	// sets it is what makes a run run once across replicas.
	Owner       string `gorm:"size:255;not null"`
	HeartbeatAt *time.Time
	CreatedAt   time.Time `gorm:"not null"`
	StartedAt   *time.Time
	FinishedAt  *time.Time
	ExitCode    *int
	Error       string `gorm:"type:text;not null"`
	// Output is the masked tail of stdout and stderr.
	Output      string `gorm:"type:text;not null"`
	OutputBytes int64  `gorm:"not null"`
	// CancelBy, set on a running run, asks its owner to stop it.
	CancelBy string `gorm:"size:128;not null"`
}

// Approvers returns the names in ApprovedBy.
func (r RunbookRun) Approvers() []string {
	if r.ApprovedBy == "" {
		return nil
	}
	return strings.Split(r.ApprovedBy, ",")
}

// Final reports whether the run has ended.
func (r RunbookRun) Final() bool {
	switch r.State {
	case RunbookPending, RunbookApproved, RunbookRunning:
		return false
	}
	return true
}

// CreateRunbookRun inserts r; pass the transaction that audits it.
func CreateRunbookRun(tx *gorm.DB, r *RunbookRun) error {
	r.CreatedAt = r.CreatedAt.UTC()
	if err := tx.Create(r).Error; err != nil {
		return fmt.Errorf("create runbook run: %w", err)
	}
	return nil
}

// GetRunbookRun reads one run; ErrNotFound when there is none.
func GetRunbookRun(ctx context.Context, db *gorm.DB, id int64) (RunbookRun, error) {
	var r RunbookRun
	err := db.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("get runbook run %d: %w", id, err)
	}
	return r, nil
}

// ListRunbookRuns returns the runs in the given states (all when none),
// newest first, at most limit.
func ListRunbookRuns(ctx context.Context, db *gorm.DB, limit int, states ...string) ([]RunbookRun, error) {
	var out []RunbookRun
	q := db.WithContext(ctx).Order("id DESC").Limit(limit)
	if len(states) > 0 {
		q = q.Where("state IN ?", states)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list runbook runs: %w", err)
	}
	return out, nil
}

// UpdateRunbookRun writes the given columns of run id if it is still in
// state from; it reports whether it was.
func UpdateRunbookRun(tx *gorm.DB, id int64, from string, cols map[string]any) (bool, error) {
	res := tx.Model(&RunbookRun{}).Where("id = ? AND state = ?", id, from).Updates(cols)
	if res.Error != nil {
		return false, fmt.Errorf("update runbook run %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ClaimRunbookRun moves an approved run to running for owner when fewer
// than limit runs of its runbook are running; it reports whether this
// caller won the run. Replicas racing for one run: exactly one wins.
func ClaimRunbookRun(tx *gorm.DB, r RunbookRun, limit int, owner string, now time.Time) (bool, error) {
	if tx.Dialector.Name() == "postgres" {
		// Counting and claiming must not interleave between replicas.
		h := fnv.New64a()
		h.Write([]byte("runbook:" + r.Runbook))
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error; err != nil {
			return false, fmt.Errorf("lock runbook %s: %w", r.Runbook, err)
		}
	}
	var running int64
	if err := tx.Model(&RunbookRun{}).Where("runbook = ? AND state = ?", r.Runbook, RunbookRunning).Count(&running).Error; err != nil {
		return false, fmt.Errorf("count running runs of %s: %w", r.Runbook, err)
	}
	if running >= int64(limit) {
		return false, nil
	}
	now = now.UTC()
	return UpdateRunbookRun(tx, r.ID, RunbookApproved, map[string]any{"state": RunbookRunning, "owner": owner,
		"started_at": &now, "heartbeat_at": &now})
}

// RunbookHeartbeat stores a running run's output and heartbeat for its
// owner and returns who asked to cancel it, if anyone did.
func RunbookHeartbeat(ctx context.Context, db *gorm.DB, id int64, owner string, now time.Time, output string, total int64) (string, error) {
	now = now.UTC()
	err := db.WithContext(ctx).Model(&RunbookRun{}).Where("id = ? AND owner = ? AND state = ?", id, owner, RunbookRunning).
		Updates(map[string]any{"heartbeat_at": &now, "output": output, "output_bytes": total}).Error
	if err != nil {
		return "", fmt.Errorf("runbook heartbeat %d: %w", id, err)
	}
	r, err := GetRunbookRun(ctx, db, id)
	if err != nil {
		return "", err
	}
	return r.CancelBy, nil
}
