package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// TicketCounts is the active ticket queue of one priority, for the status
// page.
type TicketCounts struct {
	Priority string
	// Open counts active tickets (new, open or pending).
	Open int64
	// AtRisk counts active tickets that were warned about, or are within
	// their warning time of, an SLA target they have not missed yet.
	AtRisk int64
	// Breached counts active tickets that missed an SLA target.
	Breached int64
}

// TicketQueueCounts counts the active tickets by priority with their SLA
// risk at now, in one aggregate query over the active tickets only.
func TicketQueueCounts(ctx context.Context, db *gorm.DB, now time.Time) ([]TicketCounts, error) {
	// A breach is recorded by the SLA worker (the *_breached flags) or due
	// and not yet recorded (*_breach_at passed; the columns are cleared
	// once a target no longer applies). A risk is a live target (breach_at
	// still set) that was warned about or whose warning time has come.
	// COALESCE keeps NULL columns from making a whole condition NULL.
	const breached = `(first_response_breached OR resolve_breached
		OR COALESCE(first_response_breach_at <= @now, FALSE) OR COALESCE(resolve_breach_at <= @now, FALSE))`
	const atRisk = `((first_response_breach_at IS NOT NULL AND (first_response_warned OR COALESCE(first_response_warn_at <= @now, FALSE)))
		OR (resolve_breach_at IS NOT NULL AND (resolve_warned OR COALESCE(resolve_warn_at <= @now, FALSE))))`
	var rows []TicketCounts
	err := db.WithContext(ctx).Model(&Ticket{}).
		Select(`priority, COUNT(*) AS open,
			SUM(CASE WHEN `+breached+` THEN 1 ELSE 0 END) AS breached,
			SUM(CASE WHEN NOT `+breached+` AND `+atRisk+` THEN 1 ELSE 0 END) AS at_risk`,
			map[string]any{"now": now.UTC()}).
		Where("active = ?", true).Group("priority").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count tickets by priority: %w", err)
	}
	return rows, nil
}

// CountAccessByState counts the access requests in each of states.
func CountAccessByState(ctx context.Context, db *gorm.DB, states ...string) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	err := db.WithContext(ctx).Model(&AccessRequest{}).Select("state, COUNT(*) AS n").
		Where("state IN ?", states).Group("state").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count access requests: %w", err)
	}
	out := make(map[string]int64, len(states))
	for _, s := range states {
		out[s] = 0
	}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

// LatestBackupRuns returns the newest run of each of jobs, by job; a job
// that never ran is missing. One query, whatever the number of jobs.
func LatestBackupRuns(ctx context.Context, db *gorm.DB, jobs []string) (map[string]BackupRun, error) {
	out := make(map[string]BackupRun, len(jobs))
	if len(jobs) == 0 {
		return out, nil
	}
	latest := db.Model(&BackupRun{}).Select("MAX(id)").Where("job IN ?", jobs).Group("job")
	var runs []BackupRun
	if err := db.WithContext(ctx).Omit("output").Where("id IN (?)", latest).Find(&runs).Error; err != nil {
		return nil, fmt.Errorf("latest backup runs: %w", err)
	}
	for _, r := range runs {
		out[r.Job] = r
	}
	return out, nil
}
