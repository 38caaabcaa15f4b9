package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentAcked    = "acknowledged"
	IncidentResolved = "resolved"
)

// CheckResult is the outcome of one run of a check, kept for the
// configured retention and then pruned.
type CheckResult struct {
	ID    int64     `gorm:"primaryKey"`
	Check string    `gorm:"size:100;not null;index:idx_check_results_check_at,priority:1"`
	At    time.Time `gorm:"not null;index:idx_check_results_check_at,priority:2;index"`
	// OK is false for a failed run; failed runs are also indexed by check
	// and time (idx_check_results_failed, migration 0109).
	OK bool `gorm:"not null"`
	// LatencyMS is how long the run took, in milliseconds.
	LatencyMS int64  `gorm:"not null"`
	Error     string `gorm:"type:text"`
	// Manual is true for runs started with /check run.
	Manual bool `gorm:"not null;default:false"`
	// Slot is the run's scheduled slot (or a manual run's own key): at most
	// one result per check and slot is kept (migration 0102).
	Slot *string `gorm:"size:64"`
}

// CheckState is what the incident state machine remembers about one check
// between runs.
type CheckState struct {
	Check string `gorm:"primaryKey;size:100"`
	// Failures and Successes count the latest run of one outcome.
	Failures  int `gorm:"not null;default:0"`
	Successes int `gorm:"not null;default:0"`
	// FailingSince is when the current run of failures began.
	FailingSince *time.Time
	LastAt       *time.Time
	LastOK       bool   `gorm:"not null;default:false"`
	LastError    string `gorm:"type:text"`
	LastLatency  int64  `gorm:"not null;default:0"`
	// IncidentID is the open incident, 0 when none.
	IncidentID int64 `gorm:"not null;default:0"`
	// LastIncidentID is the most recent incident, open or not, for flap
	// damping.
	LastIncidentID int64 `gorm:"not null;default:0"`
	SilencedUntil  *time.Time
	SilencedBy     string `gorm:"size:100"`
}

// Incident is a check that failed long enough to tell people. At most one
// incident per check is not resolved (a partial unique index enforces it).
type Incident struct {
	ID           int64     `gorm:"primaryKey"`
	Check        string    `gorm:"size:100;not null;index"`
	Kind         string    `gorm:"size:32;not null"`
	Channel      string    `gorm:"size:100;not null"`
	State        string    `gorm:"size:16;not null;index"`
	OpenedAt     time.Time `gorm:"not null;index"`
	FailingSince time.Time `gorm:"not null"`
	// Error is the latest failure's message.
	Error      string `gorm:"type:text"`
	AckedBy    string `gorm:"size:100"`
	AckedAt    *time.Time
	ResolvedAt *time.Time
	ResolvedBy string `gorm:"size:100"`
	Note       string `gorm:"type:text"`
	// Rev counts edits of the incident's post; each edit's outbox key
	// carries it, so an edit is queued once.
	Rev            int `gorm:"not null;default:0"`
	LastReminderAt *time.Time
	// EscalationStep is how many escalation targets were notified.
	EscalationStep int `gorm:"not null;default:0"`
	Reopens        int `gorm:"not null;default:0"`
	// ChangedAt is when the incident last changed (from the injected clock).
	ChangedAt time.Time
}

// IncidentEvent is one line of an incident's timeline.
type IncidentEvent struct {
	ID         int64     `gorm:"primaryKey"`
	IncidentID int64     `gorm:"not null;index"`
	At         time.Time `gorm:"not null"`
	Kind       string    `gorm:"size:32;not null"`
	Actor      string    `gorm:"size:100"`
	Detail     string    `gorm:"type:text"`
}

// LockCheckState reads a check's state for update inside tx (a new,
// zero state when the check never ran). On PostgreSQL the row is locked so
// two writers serialise; SQLite write transactions are already exclusive.
func LockCheckState(tx *gorm.DB, check string) (CheckState, error) {
	states, err := LockCheckStates(tx, []string{check})
	if err != nil {
		return CheckState{}, err
	}
	return *states[check], nil
}

// LockCheckStates is LockCheckState for many checks in a few statements:
// the rows that do not exist yet are created, then all are read (and, on
// PostgreSQL, locked, in name order so two writers never wait on each
// other in a circle).
func LockCheckStates(tx *gorm.DB, checks []string) (map[string]*CheckState, error) {
	out := make(map[string]*CheckState, len(checks))
	names := make([]string, 0, len(checks))
	for _, c := range checks {
		if _, dup := out[c]; !dup {
			out[c] = nil
			names = append(names, c)
		}
	}
	read := func(names []string) error {
		for chunk := range slices.Chunk(names, 500) {
			q := newRawSQL(tx, len(chunk)).sql(`SELECT ` + checkStateColumns + ` FROM check_states WHERE "check" IN `).
				in(chunk).sql(` ORDER BY "check"`)
			if q.pg {
				q.sql(" FOR UPDATE")
			}
			if err := scanCheckStates(q, tx, out); err != nil {
				return fmt.Errorf("read the state of %d checks: %w", len(chunk), err)
			}
		}
		return nil
	}
	if err := read(names); err != nil {
		return nil, err
	}
	var missing [][]any // rows of one column, the check's name
	for _, n := range names {
		if out[n] == nil {
			missing = append(missing, []any{n})
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	// First runs: create the rows (another writer may race us to them),
	// then lock them.
	for chunk := range slices.Chunk(missing, 500) {
		q := newRawSQL(tx, len(chunk)).sql(`INSERT INTO check_states ("check") `).values(1, chunk)
		if err := q.sql(` ON CONFLICT ("check") DO NOTHING`).exec(tx); err != nil {
			return nil, fmt.Errorf("create the state of %d checks: %w", len(chunk), err)
		}
	}
	again := make([]string, len(missing))
	for i, m := range missing {
		again[i] = m[0].(string)
	}
	if err := read(again); err != nil {
		return nil, err
	}
	for _, n := range again {
		if out[n] == nil {
			return nil, fmt.Errorf("read state of check %s: %w", n, gorm.ErrRecordNotFound)
		}
	}
	return out, nil
}

// SaveCheckStates writes the states in multi-row statements, each row
// whole, as SaveCheckState does one.
func SaveCheckStates(tx *gorm.DB, sts []*CheckState) error {
	const cols = 12
	// cols variables a row, far below PostgreSQL's limit (SQLite binds
	// one JSON argument).
	for chunk := range slices.Chunk(sts, 400) {
		rows := make([][]any, len(chunk))
		for i, st := range chunk {
			rows[i] = []any{st.Check, st.Failures, st.Successes, utcPtr(st.FailingSince), utcPtr(st.LastAt), st.LastOK,
				st.LastError, st.LastLatency, st.IncidentID, st.LastIncidentID, utcPtr(st.SilencedUntil), st.SilencedBy}
		}
		q := newRawSQL(tx, cols*len(chunk)).sql(`INSERT INTO check_states (`+checkStateColumns+`) `).values(cols, rows)
		q.sql(` ON CONFLICT ("check") DO UPDATE SET failures = excluded.failures, successes = excluded.successes,` +
			` failing_since = excluded.failing_since, last_at = excluded.last_at, last_ok = excluded.last_ok,` +
			` last_error = excluded.last_error, last_latency = excluded.last_latency, incident_id = excluded.incident_id,` +
			` last_incident_id = excluded.last_incident_id, silenced_until = excluded.silenced_until,` +
			` silenced_by = excluded.silenced_by`)
		if err := q.exec(tx); err != nil {
			return fmt.Errorf("save the state of %d checks: %w", len(chunk), err)
		}
	}
	return nil
}

// checkStateColumns are check_states' columns in the order
// scanCheckStates reads them and SaveCheckStates writes them.
const checkStateColumns = `"check", failures, successes, failing_since, last_at, last_ok, last_error, last_latency,` +
	` incident_id, last_incident_id, silenced_until, silenced_by`

// scanCheckStates runs q, which selects checkStateColumns, and adds each
// row to out by name.
func scanCheckStates(q *rawSQL, tx *gorm.DB, out map[string]*CheckState) error {
	rows, err := q.query(tx)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var st CheckState
		var failing, last, silenced sql.NullTime
		var lastErr, silencedBy sql.NullString
		if err := rows.Scan(&st.Check, &st.Failures, &st.Successes, &failing, &last, &st.LastOK, &lastErr, &st.LastLatency,
			&st.IncidentID, &st.LastIncidentID, &silenced, &silencedBy); err != nil {
			return err
		}
		st.FailingSince, st.LastAt, st.SilencedUntil = timePtr(failing), timePtr(last), timePtr(silenced)
		st.LastError, st.SilencedBy = lastErr.String, silencedBy.String
		out[st.Check] = &st
	}
	return rows.Err()
}

// timePtr is t's time, nil when it is NULL.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// utcPtr is t in UTC, nil for nil, as gorm stores times.
func utcPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// SaveCheckState writes a check's state, its times in UTC (as every time
// is stored, so they compare as text on SQLite).
func SaveCheckState(tx *gorm.DB, st *CheckState) error {
	for _, t := range []**time.Time{&st.FailingSince, &st.LastAt, &st.SilencedUntil} {
		if *t != nil && (*t).Location() != time.UTC {
			u := (*t).UTC()
			*t = &u
		}
	}
	if err := tx.Save(st).Error; err != nil {
		return fmt.Errorf("save state of check %s: %w", st.Check, err)
	}
	return nil
}

// CheckStates returns the state of every check that ever ran, by name.
func CheckStates(ctx context.Context, db *gorm.DB) (map[string]CheckState, error) {
	var rows []CheckState
	if err := db.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list check states: %w", err)
	}
	out := make(map[string]CheckState, len(rows))
	for _, r := range rows {
		out[r.Check] = r
	}
	return out, nil
}

// AddCheckResult records one run. (The scheduler's results go through
// AddCheckResults, which skips a slot recorded already.)
func AddCheckResult(tx *gorm.DB, r *CheckResult) error {
	r.At = r.At.UTC()
	if err := tx.Create(r).Error; err != nil {
		return fmt.Errorf("record result of check %s: %w", r.Check, err)
	}
	return nil
}

// AddCheckResults writes results in multi-row statements (the write-behind
// batches) and reports which were stored, by SlotKey; a result whose check
// and slot are recorded already is skipped. Results without a slot are all
// stored.
func AddCheckResults(tx *gorm.DB, rs []CheckResult) (map[string]bool, error) {
	stored := make(map[string]bool, len(rs))
	// 7 variables a row, far below PostgreSQL's limit (SQLite binds one
	// JSON argument).
	for chunk := range slices.Chunk(rs, 500) {
		vals := make([][]any, len(chunk))
		for i, r := range chunk {
			vals[i] = []any{r.Check, r.At.UTC(), r.OK, r.LatencyMS, r.Error, r.Manual, r.Slot}
		}
		q := newRawSQL(tx, 7*len(chunk)).sql(`INSERT INTO check_results ("check", at, ok, latency_ms, error, manual, slot) `).values(7, vals)
		rows, err := q.sql(` ON CONFLICT ("check", slot) DO NOTHING RETURNING "check", slot`).query(tx)
		if err != nil {
			return nil, fmt.Errorf("record %d check results: %w", len(chunk), err)
		}
		for rows.Next() {
			var check string
			var slot sql.NullString
			if err := rows.Scan(&check, &slot); err != nil {
				rows.Close()
				return nil, fmt.Errorf("record check results: %w", err)
			}
			stored[SlotKey(check, slot.String)] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("record check results: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("record check results: %w", err)
		}
	}
	return stored, nil
}

// SlotKey names a check's slot in AddCheckResults' answer.
func SlotKey(check, slot string) string { return check + "\x00" + slot }

// ScheduledSlot names a scheduled run's slot.
func ScheduledSlot(at time.Time) *string {
	s := at.UTC().Format(time.RFC3339Nano)
	return &s
}

// PruneCheckResults deletes results older than before, at most limit rows
// per call so one pass never holds the database for long; it returns how
// many it deleted.
func PruneCheckResults(ctx context.Context, db *gorm.DB, before time.Time, limit int) (int64, error) {
	sub := db.Model(&CheckResult{}).Select("id").Where("at < ?", before.UTC()).Order("id").Limit(limit)
	res := db.WithContext(ctx).Where("id IN (?)", sub).Delete(&CheckResult{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune check results: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// CountCheckResults counts the stored results of a check ("" for all).
func CountCheckResults(ctx context.Context, db *gorm.DB, check string) (int64, error) {
	var n int64
	q := db.WithContext(ctx).Model(&CheckResult{})
	if check != "" {
		q = q.Where("\"check\" = ?", check)
	}
	if err := q.Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count check results: %w", err)
	}
	return n, nil
}

// CreateIncident inserts a new incident.
func CreateIncident(tx *gorm.DB, in *Incident) error {
	if err := tx.Create(in).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("open incident for check %s: one is already open: %w", in.Check, err)
		}
		return fmt.Errorf("open incident for check %s: %w", in.Check, err)
	}
	return nil
}

// SaveIncident writes an incident.
func SaveIncident(tx *gorm.DB, in *Incident) error {
	if err := tx.Save(in).Error; err != nil {
		return fmt.Errorf("save incident #%d: %w", in.ID, err)
	}
	return nil
}

// GetIncident reads one incident; ErrNotFound when there is none. Inside a
// PostgreSQL transaction the row is locked.
func GetIncident(tx *gorm.DB, id int64) (Incident, error) {
	var in Incident
	q := tx
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.First(&in, id).Error; err != nil {
		return Incident{}, notFound(err)
	}
	return in, nil
}

// ListIncidents returns incidents, newest first: only unresolved ones, or
// all, at most limit.
func ListIncidents(ctx context.Context, db *gorm.DB, all bool, limit int) ([]Incident, error) {
	var out []Incident
	q := db.WithContext(ctx).Order("id DESC").Limit(limit)
	if !all {
		q = q.Where("state <> ?", IncidentResolved)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// CountOpenIncidents counts incidents that are not resolved.
func CountOpenIncidents(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	if err := db.WithContext(ctx).Model(&Incident{}).Where("state <> ?", IncidentResolved).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count open incidents: %w", err)
	}
	return n, nil
}

// AddIncidentEvent appends to an incident's timeline.
func AddIncidentEvent(tx *gorm.DB, e *IncidentEvent) error {
	e.At = e.At.UTC()
	if err := tx.Create(e).Error; err != nil {
		return fmt.Errorf("add event to incident #%d: %w", e.IncidentID, err)
	}
	return nil
}

// IncidentEvents returns an incident's timeline, oldest first.
func IncidentEvents(ctx context.Context, db *gorm.DB, id int64) ([]IncidentEvent, error) {
	var out []IncidentEvent
	if err := db.WithContext(ctx).Where("incident_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read timeline of incident #%d: %w", id, err)
	}
	return out, nil
}
