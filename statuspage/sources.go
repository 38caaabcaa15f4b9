package statuspage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"opsbot/checks"
	"opsbot/config"
	"opsbot/storage"
)

// StoreSources reads every section from the database and the config.
func StoreSources(cfg *config.Config, db *gorm.DB) Sources {
	return Sources{
		Checks:    &StoreChecks{Config: cfg.Checks, DB: db},
		Incidents: &StoreIncidents{DB: db},
		Backups:   &StoreBackups{Jobs: cfg.Backups.Jobs, DB: db},
		Tickets:   &StoreTickets{DB: db},
		Access:    &StoreAccess{DB: db},
		Changes:   &StoreChanges{DB: db},
	}
}

// StoreChanges reads the runbook runs and port changes in flight.
type StoreChanges struct {
	DB *gorm.DB
}

// Changes returns the runs waiting or running (newest first, at most 50)
// and the ports changed now, soonest revert first.
func (s *StoreChanges) Changes(ctx context.Context, _ time.Time) (Changes, error) {
	out := Changes{Runbooks: []RunbookRun{}, Ports: []PortChange{}}
	runs, err := storage.ListRunbookRuns(ctx, s.DB, 50, storage.RunbookPending, storage.RunbookApproved, storage.RunbookRunning)
	if err != nil {
		return out, err
	}
	for _, r := range runs {
		out.Runbooks = append(out.Runbooks, RunbookRun{ID: r.ID, Runbook: r.Runbook, State: r.State, RequestedBy: r.RequestedBy,
			CreatedAt: r.CreatedAt.UTC(), StartedAt: utc(r.StartedAt)})
	}
	ports, err := storage.ActivePortChanges(ctx, s.DB)
	if err != nil {
		return out, err
	}
	for _, c := range ports {
		pc := PortChange{ID: c.ID, Device: c.Device, Port: c.Port, Action: c.Action, Previous: c.Previous,
			RequestedBy: c.RequestedBy, RevertFailing: c.State == storage.PortRevertFailed}
		if c.ExpiresAt != nil {
			pc.RevertsAt = c.ExpiresAt.UTC()
		}
		out.Ports = append(out.Ports, pc)
	}
	return out, nil
}

// Chart resolution: the last 24 hours in 48 slices of 30 minutes.
const (
	window  = 24 * time.Hour
	slice   = 30 * time.Minute
	nSlices = int(window / slice)
)

// StoreChecks reads the configured checks' state and results.
type StoreChecks struct {
	Config []config.Check
	DB     *gorm.DB
}

// Checks returns every configured check, in config order, with its state
// and its last 24 hours: two queries whatever the number of checks and
// results (the results are summed up by the database).
func (s *StoreChecks) Checks(ctx context.Context, now time.Time) ([]Check, error) {
	states, err := storage.CheckStates(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(s.Config))
	for i, c := range s.Config {
		names[i] = c.Name
	}
	start := now.UTC().Truncate(time.Second).Add(-window)
	sums, err := storage.CheckBuckets(ctx, s.DB, names, start, slice)
	if err != nil {
		return nil, err
	}
	byCheck := map[string][]storage.CheckBucket{}
	for _, b := range sums {
		byCheck[b.Check] = append(byCheck[b.Check], b)
	}
	out := make([]Check, 0, len(s.Config))
	for _, c := range s.Config {
		ch := Check{Name: c.Name, Kind: c.Kind, State: StateUnknown}
		if st, ok := states[c.Name]; ok && st.LastAt != nil {
			ch.State = StateDown
			if st.LastOK {
				ch.State = StateUp
			} else {
				ch.LastError = Redact(st.LastError)
			}
			ch.LastAt, ch.LastOK, ch.LastLatencyMS = utc(st.LastAt), &st.LastOK, &st.LastLatency
			ch.IncidentID = st.IncidentID
		}
		ch.Latency, ch.UptimePercent = chart(start, byCheck[c.Name])
		out = append(out, ch)
	}
	return out, nil
}

// chart spreads a check's sums over the 48 slices and works out uptime.
func chart(start time.Time, sums []storage.CheckBucket) ([]Bucket, *float64) {
	out := make([]Bucket, nSlices)
	sumMS := make([]float64, nSlices)
	var runs, fails int64
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * slice)
	}
	for _, s := range sums {
		// A result at the very end of the window may land one past it.
		i := min(max(s.Bucket, 0), nSlices-1)
		out[i].Runs += s.Runs
		out[i].Failures += s.Failures
		sumMS[i] += s.AvgLatencyMS * float64(s.Runs)
		runs += s.Runs
		fails += s.Failures
	}
	for i := range out {
		if out[i].Runs > 0 {
			ms := int64(sumMS[i]/float64(out[i].Runs) + 0.5)
			out[i].AvgLatencyMS = &ms
		}
	}
	if runs == 0 {
		return out, nil
	}
	up := float64(runs-fails) * 100 / float64(runs)
	return out, &up
}

// timelineShown bounds an incident page; older events are counted.
const timelineShown = 500

// StoreIncidents reads incidents from the database.
type StoreIncidents struct {
	DB *gorm.DB
}

// openShown bounds the open incidents listed on the page.
const openShown = 100

// OpenIncidents returns the unresolved incidents, newest first.
func (s *StoreIncidents) OpenIncidents(ctx context.Context, now time.Time) ([]Incident, error) {
	ins, err := storage.ListIncidents(ctx, s.DB, false, openShown)
	if err != nil {
		return nil, err
	}
	out := make([]Incident, 0, len(ins))
	for _, in := range ins {
		out = append(out, incident(in, now))
	}
	return out, nil
}

// Incident returns one incident and its timeline.
func (s *StoreIncidents) Incident(ctx context.Context, id int64, now time.Time) (IncidentDetail, error) {
	in, err := storage.ReadIncident(ctx, s.DB, id)
	if errors.Is(err, storage.ErrNotFound) {
		return IncidentDetail{}, fmt.Errorf("incident #%d: %w", id, ErrNoIncident)
	}
	if err != nil {
		return IncidentDetail{}, err
	}
	events, total, err := storage.IncidentTimeline(ctx, s.DB, id, timelineShown)
	if err != nil {
		return IncidentDetail{}, err
	}
	d := IncidentDetail{Incident: incident(in, now), Events: make([]Event, 0, len(events)), EarlierEvents: total - int64(len(events))}
	for _, e := range events {
		d.Events = append(d.Events, Event{At: e.At.UTC(), Kind: e.Kind, Actor: e.Actor, Detail: Redact(e.Detail)})
	}
	return d, nil
}

func incident(in storage.Incident, now time.Time) Incident {
	end := now
	if in.ResolvedAt != nil {
		end = *in.ResolvedAt
	}
	return Incident{ID: in.ID, Check: in.Check, State: in.State, OpenedAt: in.OpenedAt.UTC(),
		AgeSeconds: int64(max(end.Sub(in.OpenedAt), 0) / time.Second), AckedBy: in.AckedBy, AckedAt: utc(in.AckedAt),
		ResolvedAt: utc(in.ResolvedAt), ResolvedBy: in.ResolvedBy, Error: Redact(in.Error)}
}

// StoreBackups reads the backup jobs' runs from the database.
type StoreBackups struct {
	Jobs []config.BackupJob
	DB   *gorm.DB
}

// Backups returns every configured job, in config order, with its newest
// run (one query for all jobs) and freshness (checks.BackupFreshness).
func (s *StoreBackups) Backups(ctx context.Context, now time.Time) ([]Backup, error) {
	names := make([]string, len(s.Jobs))
	for i, j := range s.Jobs {
		names[i] = j.Name
	}
	runs, err := storage.LatestBackupRuns(ctx, s.DB, names)
	if err != nil {
		return nil, err
	}
	out := make([]Backup, 0, len(s.Jobs))
	for _, j := range s.Jobs {
		b := Backup{Job: j.Name, Freshness: "none", FreshWithinSeconds: int64(time.Duration(j.FreshWithin) / time.Second)}
		if r, ok := runs[j.Name]; ok {
			b.LastRun = &BackupRun{ID: r.ID, State: r.State, Trigger: r.Trigger, StartedAt: r.StartedAt.UTC(),
				FinishedAt: utc(r.FinishedAt), DurationSeconds: float64(r.DurationMS) / 1000}
			f, err := checks.BackupFreshness(ctx, s.DB, j, now)
			if err != nil {
				return nil, err
			}
			b.FreshnessText = f.Text
			if !f.LastSuccess.IsZero() {
				at := f.LastSuccess.UTC()
				b.LastSuccessAt = &at
			}
			switch {
			case f.Target <= 0:
			case f.Stale:
				b.Freshness = "stale"
			default:
				b.Freshness = "fresh"
			}
		} else {
			// Never ran, so never succeeded: no need to ask.
			if j.FreshWithin > 0 {
				b.Freshness = "stale"
				b.FreshnessText = "stale: never succeeded, target " + j.FreshWithin.String()
			} else {
				b.FreshnessText = "never ran"
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// StoreTickets counts the ticket queue in the database.
type StoreTickets struct {
	DB *gorm.DB
}

// Tickets counts active tickets by priority and SLA risk in one query.
func (s *StoreTickets) Tickets(ctx context.Context, now time.Time) (Tickets, error) {
	rows, err := storage.TicketQueueCounts(ctx, s.DB, now)
	if err != nil {
		return Tickets{}, err
	}
	byName := map[string]storage.TicketCounts{}
	for _, r := range rows {
		byName[r.Priority] = r
	}
	var t Tickets
	// Most urgent first; a priority outside the list (none today) last.
	prios := slices.Clone(config.Priorities)
	slices.Reverse(prios)
	for _, r := range rows {
		if !slices.Contains(prios, r.Priority) {
			prios = append(prios, r.Priority)
		}
	}
	for _, p := range prios {
		r := byName[p]
		t.ByPriority = append(t.ByPriority, PriorityCount{Priority: p, Open: r.Open, AtRisk: r.AtRisk, Breached: r.Breached})
		t.Open += r.Open
		t.AtRisk += r.AtRisk
		t.Breached += r.Breached
	}
	return t, nil
}

// StoreAccess counts access requests in the database.
type StoreAccess struct {
	DB *gorm.DB
}

// Access counts pending and active requests in one query, and open
// checklists in another.
func (s *StoreAccess) Access(ctx context.Context, _ time.Time) (Access, error) {
	n, err := storage.CountAccessByState(ctx, s.DB, storage.AccessPending, storage.AccessActive)
	if err != nil {
		return Access{}, err
	}
	c, err := storage.CountOpenChecklists(ctx, s.DB)
	if err != nil {
		return Access{}, err
	}
	var open int64
	for _, k := range c {
		open += k
	}
	return Access{Pending: n[storage.AccessPending], Active: n[storage.AccessActive], OpenChecklists: open}, nil
}
