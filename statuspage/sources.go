package statuspage

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/handlers/backups"
	"opsbot/storage"
)

// StoreSources reads the sections from the database and the config. The
// checks section lists the configured checks; until check results are
// stored it shows them as not run yet, and incidents are unavailable.
func StoreSources(cfg *config.Config, db *gorm.DB) Sources {
	return Sources{
		Checks:  ConfiguredChecks{Config: cfg.Checks},
		Backups: &StoreBackups{Jobs: cfg.Backups.Jobs, DB: db},
		Tickets: &StoreTickets{DB: db},
		Access:  &StoreAccess{DB: db},
	}
}

// ConfiguredChecks lists the configured checks with no results: the
// fallback while no CheckSource reads results from storage.
type ConfiguredChecks struct {
	Config []config.Check
}

// Checks returns each configured check in the unknown state.
func (c ConfiguredChecks) Checks(_ context.Context, _ time.Time) ([]Check, error) {
	out := make([]Check, 0, len(c.Config))
	for _, ch := range c.Config {
		out = append(out, Check{Name: ch.Name, Kind: ch.Kind, State: StateUnknown, Latency: []Bucket{}})
	}
	return out, nil
}

// StoreBackups reads the backup jobs' runs from the database.
type StoreBackups struct {
	Jobs []config.BackupJob
	DB   *gorm.DB
}

// Backups returns every configured job, in config order, with its newest
// run (one query for all jobs) and freshness (backups.CheckFreshness).
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
			f, err := backups.CheckFreshness(ctx, s.DB, j, now)
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

// Access counts pending and active requests in one query.
func (s *StoreAccess) Access(ctx context.Context, _ time.Time) (Access, error) {
	n, err := storage.CountAccessByState(ctx, s.DB, storage.AccessPending, storage.AccessActive)
	if err != nil {
		return Access{}, err
	}
	return Access{Pending: n[storage.AccessPending], Active: n[storage.AccessActive]}, nil
}
