package storage

import (
	"context"
	"fmt"
	"slices"
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

// CheckBucket sums up one check's results in one time slice.
type CheckBucket struct {
	Check string
	// Bucket is the slice's index from start: 0 is the oldest.
	Bucket   int
	Runs     int64
	Failures int64
	// AvgLatencyMS is the mean latency of the runs.
	AvgLatencyMS float64
}

// CheckBuckets sums up the results of checks from start on, in slices of
// width, aggregated by the database (the (check, at) index bounds the
// scan): what the status page's latency charts and uptime need, without
// reading each result.
func CheckBuckets(ctx context.Context, db *gorm.DB, checks []string, start time.Time, width time.Duration) ([]CheckBucket, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	// Whole seconds: SQLite's date functions are exact to the second only.
	start = start.UTC().Truncate(time.Second)
	var bucket string
	var args []any
	switch db.Dialector.Name() {
	case "postgres":
		bucket = fmt.Sprintf("CAST(FLOOR(EXTRACT(EPOCH FROM (at - CAST(@start AS timestamptz))) / %d) AS integer)", int64(width/time.Second))
		args = append(args, map[string]any{"start": start})
	default:
		// SQLite stores times as text that strftime reads, rounded to the
		// millisecond; %s truncates to the second, which floors since
		// at >= start. A result at the very end may land in one slice
		// past the last: callers clamp.
		bucket = fmt.Sprintf("((CAST(strftime('%%s', at) AS integer) - %d) / %d)", start.Unix(), int64(width/time.Second))
	}
	var out []CheckBucket
	err := db.WithContext(ctx).Model(&CheckResult{}).
		Select(`"check", `+bucket+` AS bucket, COUNT(*) AS runs,
			SUM(CASE WHEN ok THEN 0 ELSE 1 END) AS failures, AVG(latency_ms) AS avg_latency_ms`, args...).
		Where(`"check" IN ? AND at >= ?`, checks, start).
		Group(`"check", bucket`).Order(`"check", bucket`).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("sum up check results: %w", err)
	}
	return out, nil
}

// ReadIncident reads one incident without locking it; ErrNotFound when
// there is none.
func ReadIncident(ctx context.Context, db *gorm.DB, id int64) (Incident, error) {
	var in Incident
	if err := db.WithContext(ctx).Take(&in, id).Error; err != nil {
		return Incident{}, fmt.Errorf("read incident #%d: %w", id, notFound(err))
	}
	return in, nil
}

// IncidentTimeline returns the newest limit events of an incident, oldest
// first, and how many there are in all.
func IncidentTimeline(ctx context.Context, db *gorm.DB, id int64, limit int) ([]IncidentEvent, int64, error) {
	var total int64
	if err := db.WithContext(ctx).Model(&IncidentEvent{}).Where("incident_id = ?", id).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count timeline of incident #%d: %w", id, err)
	}
	var out []IncidentEvent
	if err := db.WithContext(ctx).Where("incident_id = ?", id).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("read timeline of incident #%d: %w", id, err)
	}
	slices.Reverse(out)
	return out, total, nil
}
