package report

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
)

// The queries below compare times as the database stores them: PostgreSQL
// as timestamptz, SQLite as UTC text in one layout, which orders like the
// times. Every bound is therefore passed in UTC.

// Ratio is how many runs a check had and how many passed.
type Ratio struct{ Runs, OK int64 }

// Uptime is OK/Runs, NaN without runs.
func (r Ratio) Uptime() float64 {
	if r.Runs == 0 {
		return math.NaN()
	}
	return float64(r.OK) / float64(r.Runs)
}

// CheckUptime is one check's runs in the period and the one before.
type CheckUptime struct {
	Name      string
	Cur, Prev Ratio
}

// Count is a number in the period and in the one before.
type Count struct{ Cur, Prev int64 }

// Mean is a mean duration in the period and the one before; N is how many
// it is the mean of (0: none, the mean means nothing).
type Mean struct {
	Cur, Prev time.Duration
	N, PrevN  int64
}

// Incidents sums up the incidents opened in the period.
type Incidents struct {
	Opened Count
	// MTTA is the mean time from opening to acknowledgement of those
	// acknowledged; MTTR from opening to resolution of those resolved.
	MTTA, MTTR Mean
	// PerDay is how many opened on each day of the period.
	PerDay []int64
}

// SLA is the compliance of one priority's tickets resolved in the period:
// Met of Resolved met every SLA target they had.
type SLA struct {
	Priority              string
	Resolved, Met         int64
	PrevResolved, PrevMet int64
}

// Tickets sums up the tickets of the period.
type Tickets struct {
	Opened, Resolved Count
	// SLA lists the configured priorities, most urgent first.
	SLA []SLA
	// Backlog is how many tickets were open at the end of each day.
	Backlog []int64
}

// Access sums up access requests: asked for, granted, denied, and expired
// (nobody decided in time) in the period.
type Access struct {
	Requested, Granted, Denied, Expired Count
}

// Backup is one job's freshness at the time of the digest.
type Backup struct {
	Job string
	// LastSuccess is the end of its newest successful run; zero if none.
	LastSuccess time.Time
	// Target is fresh_within; zero when the job has none.
	Target time.Duration
	// Stale is true when the job has a target and missed it.
	Stale bool
}

// sums builds "COALESCE(SUM(CASE WHEN cond THEN 1 ELSE 0 END), 0)" for each
// condition.
func sums(conds ...string) string {
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = fmt.Sprintf("COALESCE(SUM(CASE WHEN %s THEN 1 ELSE 0 END), 0)", c)
	}
	return strings.Join(parts, ", ")
}

// in adds "AND col IN ?" for a scope's names; ok is false when the scope
// has none, so the query can be skipped.
func in(all bool, col string, names []string, args []any) (string, []any, bool) {
	if all {
		return "", args, true
	}
	if len(names) == 0 {
		return "", args, false
	}
	return " AND " + col + " IN ?", append(args, names), true
}

func utc(ts ...time.Time) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

// scanInts runs a query that returns one row of integers.
func scanInts(db *gorm.DB, n int, sql string, args ...any) ([]int64, error) {
	out := make([]int64, n)
	ptrs := make([]any, n)
	for i := range out {
		ptrs[i] = &out[i]
	}
	if err := db.Raw(sql, args...).Row().Scan(ptrs...); err != nil {
		return nil, err
	}
	return out, nil
}

// uptimes sums up each check's runs in p and the period before, worst
// first; checks without runs in p are left out. Two aggregates that each
// read an index only: the runs from (check, at), the failures from the
// partial index of failed runs, so no result row is read.
func uptimes(ctx context.Context, db *gorm.DB, s Scope, p Period) ([]CheckUptime, error) {
	prev := p.Prev()
	configured := make(map[string]bool, len(s.Checks))
	for _, c := range s.Checks {
		configured[c] = true
	}
	byName := map[string]*CheckUptime{}
	var order []string
	for _, failed := range []bool{false, true} {
		args := utc(p.Start, p.Start, prev.Start, p.End)
		from, index, cond := "check_results", "idx_check_results_check_at", ""
		if failed {
			index, cond = "idx_check_results_failed", " AND NOT ok"
		}
		// Without statistics SQLite walks the index on at and reads every
		// row, ten times slower at ten thousand checks.
		if db.Dialector.Name() != "postgres" {
			from += " INDEXED BY " + index
		}
		where, args, ok := in(s.all, `"check"`, s.Checks, args)
		if !ok {
			return nil, nil
		}
		rows, err := db.WithContext(ctx).Raw(`SELECT "check", `+sums("at >= ?", "at < ?")+
			` FROM `+from+` WHERE at >= ? AND at < ?`+cond+where+` GROUP BY "check"`, args...).Rows()
		if err != nil {
			return nil, fmt.Errorf("sum up check results: %w", err)
		}
		for rows.Next() {
			var name string
			var cur, before int64
			if err := rows.Scan(&name, &cur, &before); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read check results: %w", err)
			}
			c := byName[name]
			if c == nil {
				if failed {
					continue // a failure without runs: not possible, but not counted
				}
				c = &CheckUptime{Name: name}
				byName[name] = c
				order = append(order, name)
			}
			if failed {
				c.Cur.OK, c.Prev.OK = c.Cur.Runs-cur, c.Prev.Runs-before
			} else {
				c.Cur.Runs, c.Prev.Runs = cur, before
				c.Cur.OK, c.Prev.OK = cur, before
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read check results: %w", err)
		}
	}
	var out []CheckUptime
	for _, name := range order {
		if c := byName[name]; c.Cur.Runs > 0 && configured[name] {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b CheckUptime) int {
		ua, ub := a.Cur.Uptime(), b.Cur.Uptime()
		switch {
		case ua < ub:
			return -1
		case ua > ub:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// heat sums up the runs of a few checks in each slot bounded by bounds:
// cells[i][j] is check i's uptime in slot j.
func heat(ctx context.Context, db *gorm.DB, checks []string, bounds []time.Time) ([][]float64, error) {
	if len(checks) == 0 {
		return nil, nil
	}
	var conds []string
	var args []any
	for j := 0; j+1 < len(bounds); j++ {
		conds = append(conds, "at >= ? AND at < ?", "at >= ? AND at < ? AND ok")
		args = append(args, utc(bounds[j], bounds[j+1], bounds[j], bounds[j+1])...)
	}
	args = append(args, checks, bounds[0].UTC(), bounds[len(bounds)-1].UTC())
	rows, err := db.WithContext(ctx).Raw(`SELECT "check", `+sums(conds...)+
		` FROM check_results WHERE "check" IN ? AND at >= ? AND at < ? GROUP BY "check"`, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("sum up check results by slot: %w", err)
	}
	defer rows.Close()
	m := len(bounds) - 1
	byName := map[string][]float64{}
	for rows.Next() {
		var name string
		vals := make([]int64, 2*m)
		ptrs := []any{&name}
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read check results by slot: %w", err)
		}
		cells := make([]float64, m)
		for j := range cells {
			cells[j] = Ratio{Runs: vals[2*j], OK: vals[2*j+1]}.Uptime()
		}
		byName[name] = cells
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read check results by slot: %w", err)
	}
	out := make([][]float64, len(checks))
	for i, c := range checks {
		out[i] = byName[c]
		if out[i] == nil {
			out[i] = make([]float64, m)
			for j := range out[i] {
				out[i][j] = math.NaN()
			}
		}
	}
	return out, nil
}

// seconds is the SQL for b - a in seconds, as a double.
func seconds(db *gorm.DB, a, b string) string {
	if db.Dialector.Name() == "postgres" {
		return fmt.Sprintf("CAST(EXTRACT(EPOCH FROM (%s - %s)) AS double precision)", b, a)
	}
	// Whole seconds, exactly: julianday's floating point is not.
	return fmt.Sprintf("CAST(CAST(strftime('%%s', %s) AS integer) - CAST(strftime('%%s', %s) AS integer) AS real)", b, a)
}

func incidents(ctx context.Context, db *gorm.DB, s Scope, p Period) (Incidents, error) {
	var out Incidents
	days := p.Days()
	out.PerDay = make([]int64, len(days)-1)
	prev := p.Prev()
	args := utc(p.Start, p.Start, p.Start, p.Start, p.Start, p.Start)
	var conds []string
	for j := 0; j+1 < len(days); j++ {
		conds = append(conds, "opened_at >= ? AND opened_at < ?")
		args = append(args, utc(days[j], days[j+1])...)
	}
	args = append(args, utc(p.Start, p.Start, p.Start, p.Start, prev.Start, p.End)...)
	where, args, ok := in(s.all, `"check"`, s.Checks, args)
	if !ok {
		return out, nil
	}
	ack, res := seconds(db, "opened_at", "acked_at"), seconds(db, "opened_at", "resolved_at")
	sql := `SELECT ` + sums("opened_at >= ?", "opened_at < ?",
		"opened_at >= ? AND acked_at IS NOT NULL", "opened_at < ? AND acked_at IS NOT NULL",
		"opened_at >= ? AND resolved_at IS NOT NULL", "opened_at < ? AND resolved_at IS NOT NULL") +
		", " + sums(conds...) +
		`, COALESCE(SUM(CASE WHEN opened_at >= ? AND acked_at IS NOT NULL THEN ` + ack + ` ELSE 0 END), 0)` +
		`, COALESCE(SUM(CASE WHEN opened_at < ? AND acked_at IS NOT NULL THEN ` + ack + ` ELSE 0 END), 0)` +
		`, COALESCE(SUM(CASE WHEN opened_at >= ? AND resolved_at IS NOT NULL THEN ` + res + ` ELSE 0 END), 0)` +
		`, COALESCE(SUM(CASE WHEN opened_at < ? AND resolved_at IS NOT NULL THEN ` + res + ` ELSE 0 END), 0)` +
		` FROM incidents WHERE opened_at >= ? AND opened_at < ?` + where
	// The counts, then the days, then the duration sums.
	n := 6 + len(out.PerDay)
	ints := make([]int64, n)
	var secs [4]float64
	ptrs := make([]any, 0, n+4)
	for i := range ints {
		ptrs = append(ptrs, &ints[i])
	}
	for i := range secs {
		ptrs = append(ptrs, &secs[i])
	}
	if err := db.WithContext(ctx).Raw(sql, args...).Row().Scan(ptrs...); err != nil {
		return out, fmt.Errorf("sum up incidents: %w", err)
	}
	out.Opened = Count{ints[0], ints[1]}
	out.MTTA = mean(ints[2], ints[3], secs[0], secs[1])
	out.MTTR = mean(ints[4], ints[5], secs[2], secs[3])
	copy(out.PerDay, ints[6:])
	return out, nil
}

func mean(n, pn int64, s, ps float64) Mean {
	m := Mean{N: n, PrevN: pn}
	if n > 0 {
		m.Cur = (time.Duration(s/float64(n)) * time.Second).Round(time.Second)
	}
	if pn > 0 {
		m.Prev = (time.Duration(ps/float64(pn)) * time.Second).Round(time.Second)
	}
	return m
}

// metSQL says a ticket met each SLA target it had, as the ticket's card
// does: done no later than due.
const metSQL = `(resolve_due IS NULL OR resolved_at <= resolve_due) AND
	(first_response_due IS NULL OR (first_response_at IS NOT NULL AND first_response_at <= first_response_due))`

func tickets(ctx context.Context, db *gorm.DB, cfg *config.Config, s Scope, p Period) (Tickets, error) {
	var out Tickets
	prev := p.Prev()
	days := p.Days()
	out.Backlog = make([]int64, len(days)-1)
	for _, pr := range slaOrder(cfg) {
		out.SLA = append(out.SLA, SLA{Priority: pr})
	}
	where, _, ok := in(s.all, "queue", s.Queues, nil)
	if !ok {
		return out, nil
	}
	// scoped appends the scope's queues, the last argument of each query.
	scoped := func(args []any) []any {
		if !s.all {
			args = append(args, s.Queues)
		}
		return args
	}
	db = db.WithContext(ctx)
	args := utc(p.Start, p.End, prev.Start, prev.End, p.Start, p.End, prev.Start, prev.End,
		prev.Start, p.End, prev.Start, p.End)
	c, err := scanInts(db, 4, `SELECT `+sums("created_at >= ? AND created_at < ?", "created_at >= ? AND created_at < ?",
		"resolved_at >= ? AND resolved_at < ?", "resolved_at >= ? AND resolved_at < ?")+
		` FROM tickets WHERE ((created_at >= ? AND created_at < ?) OR (resolved_at >= ? AND resolved_at < ?))`+where,
		scoped(args)...)
	if err != nil {
		return out, fmt.Errorf("count tickets: %w", err)
	}
	out.Opened, out.Resolved = Count{c[0], c[1]}, Count{c[2], c[3]}

	// The backlog at each day's end: filed before it, and not resolved or
	// closed by then.
	const done = "COALESCE(resolved_at, closed_at)"
	var conds []string
	args = nil
	for _, d := range days[1:] {
		conds = append(conds, "created_at < ? AND ("+done+" IS NULL OR "+done+" >= ?)")
		args = append(args, utc(d, d)...)
	}
	args = append(args, utc(p.End, days[1])...)
	b, err := scanInts(db, len(conds), `SELECT `+sums(conds...)+
		` FROM tickets WHERE created_at < ? AND (`+done+` IS NULL OR `+done+` >= ?)`+where, scoped(args)...)
	if err != nil {
		return out, fmt.Errorf("count open tickets by day: %w", err)
	}
	copy(out.Backlog, b)

	if len(out.SLA) == 0 {
		return out, nil
	}
	rows, err := db.Raw(`SELECT priority, `+sums("resolved_at >= ?", "resolved_at >= ? AND "+metSQL, "resolved_at < ?", "resolved_at < ? AND "+metSQL)+
		` FROM tickets WHERE resolved_at >= ? AND resolved_at < ?
		AND (resolve_due IS NOT NULL OR first_response_due IS NOT NULL)`+where+` GROUP BY priority`,
		scoped(utc(p.Start, p.Start, p.Start, p.Start, prev.Start, p.End))...).Rows()
	if err != nil {
		return out, fmt.Errorf("sum up SLAs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pr string
		var v [4]int64
		if err := rows.Scan(&pr, &v[0], &v[1], &v[2], &v[3]); err != nil {
			return out, fmt.Errorf("read SLAs: %w", err)
		}
		for i := range out.SLA {
			if out.SLA[i].Priority == pr {
				out.SLA[i].Resolved, out.SLA[i].Met, out.SLA[i].PrevResolved, out.SLA[i].PrevMet = v[0], v[1], v[2], v[3]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read SLAs: %w", err)
	}
	return out, nil
}

// slaOrder lists the priorities that have an SLA, most urgent first.
func slaOrder(cfg *config.Config) []string {
	var out []string
	for _, pr := range []string{"urgent", "high", "normal", "low"} {
		if _, ok := cfg.Tickets.SLA[pr]; ok {
			out = append(out, pr)
		}
	}
	for _, pr := range slices.Sorted(maps.Keys(cfg.Tickets.SLA)) {
		if !slices.Contains(out, pr) {
			out = append(out, pr)
		}
	}
	return out
}

func access(ctx context.Context, db *gorm.DB, s Scope, p Period) (Access, error) {
	var out Access
	prev := p.Prev()
	where, _, ok := in(s.all, "resource", s.Resources, nil)
	if !ok {
		return out, nil
	}
	const (
		cur  = "%s >= ? AND %s < ?"
		deny = "state = '" + storage.AccessDenied + "' AND "
		exp  = "state = '" + storage.AccessExpired + "' AND "
	)
	r := func(col string) string { return fmt.Sprintf(cur, col, col) }
	var args []any
	for range 4 {
		args = append(args, utc(p.Start, p.End, prev.Start, prev.End)...)
	}
	args = append(args, utc(prev.Start, p.End, prev.Start, p.End, prev.Start, p.End)...)
	if !s.all {
		args = append(args, s.Resources)
	}
	c, err := scanInts(db.WithContext(ctx), 8, `SELECT `+sums(r("created_at"), r("created_at"), r("granted_at"), r("granted_at"),
		deny+r("closed_at"), deny+r("closed_at"), exp+r("closed_at"), exp+r("closed_at"))+
		` FROM access_requests WHERE (`+r("created_at")+` OR `+r("granted_at")+` OR `+r("closed_at")+`)`+where, args...)
	if err != nil {
		return out, fmt.Errorf("count access requests: %w", err)
	}
	out.Requested, out.Granted = Count{c[0], c[1]}, Count{c[2], c[3]}
	out.Denied, out.Expired = Count{c[4], c[5]}, Count{c[6], c[7]}
	return out, nil
}

// backups finds each job's newest successful run (the (job, id) index
// answers the MAX) and compares it with the job's fresh_within at now.
func backups(ctx context.Context, db *gorm.DB, s Scope, now time.Time) ([]Backup, error) {
	if len(s.Jobs) == 0 {
		return nil, nil
	}
	names := make([]string, len(s.Jobs))
	for i, j := range s.Jobs {
		names[i] = j.Name
	}
	db = db.WithContext(ctx)
	latest := db.Model(&storage.BackupRun{}).Select("MAX(id)").
		Where("state = ? AND job IN ?", storage.BackupSucceeded, names).Group("job")
	var runs []storage.BackupRun
	if err := db.Select("id", "job", "finished_at", "started_at").Where("id IN (?)", latest).Find(&runs).Error; err != nil {
		return nil, fmt.Errorf("last successful backups: %w", err)
	}
	last := map[string]time.Time{}
	for _, r := range runs {
		at := r.StartedAt
		if r.FinishedAt != nil {
			at = *r.FinishedAt
		}
		last[r.Job] = at
	}
	out := make([]Backup, len(s.Jobs))
	for i, j := range s.Jobs {
		b := Backup{Job: j.Name, LastSuccess: last[j.Name], Target: time.Duration(j.FreshWithin)}
		b.Stale = b.Target > 0 && (b.LastSuccess.IsZero() || now.Sub(b.LastSuccess) > b.Target)
		out[i] = b
	}
	return out, nil
}
