package statuspage

import (
	"context"
	"time"
)

var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func at(d time.Duration) *time.Time { return ptr(now.Add(d)) }

// buckets makes 48 half-hour buckets from a latency function (nil: no runs)
// and the failures of each.
func buckets(lat func(i int) *int64, fails func(i int) int64) []Bucket {
	out := make([]Bucket, 48)
	for i := range out {
		out[i].Start = now.Add(-24*time.Hour + time.Duration(i)*30*time.Minute)
		out[i].AvgLatencyMS = lat(i)
		if out[i].AvgLatencyMS != nil {
			out[i].Runs = 60
		}
		out[i].Failures = fails(i)
	}
	return out
}

// fixture is the fixed data set of the golden files.
func fixture() (Sources, *fakeIncidents) {
	checks := []Check{
		{Name: "intranet", Kind: "http", State: StateUp, LastAt: at(-20 * time.Second), LastOK: ptr(true), LastLatencyMS: ptr[int64](84),
			UptimePercent: ptr(99.95), Latency: buckets(func(i int) *int64 { return ptr(int64(60 + (i*37)%50)) }, func(i int) int64 { return 0 })},
		{Name: "db-port", Kind: "tcp", State: StateDown, LastAt: at(-5 * time.Second), LastOK: ptr(false), LastLatencyMS: ptr[int64](5000),
			LastError: "dial tcp 10.0.0.5:5432: i/o timeout <b>", UptimePercent: ptr(87.5), IncidentID: 7,
			Latency: buckets(func(i int) *int64 {
				if i >= 20 && i < 24 {
					return nil
				}
				return ptr(int64(3 + i%4))
			}, func(i int) int64 {
				if i >= 42 {
					return 2
				}
				return 0
			})},
		{Name: "intranet-cert", Kind: "tls", State: StateUnknown, Latency: []Bucket{}},
	}
	inc := &fakeIncidents{
		open: []Incident{
			{ID: 7, Check: "db-port", State: "open", OpenedAt: now.Add(-3*time.Hour - 12*time.Minute), AgeSeconds: 11520,
				Error: "dial tcp 10.0.0.5:5432: i/o timeout"},
			{ID: 5, Check: "intranet", State: "acknowledged", OpenedAt: now.Add(-26 * time.Hour), AgeSeconds: 93600,
				AckedBy: "bob", AckedAt: at(-25 * time.Hour), Error: "GET https://intranet.example.com/health?…: 503"},
		},
		detail: IncidentDetail{
			Incident: Incident{ID: 7, Check: "db-port", State: "acknowledged", OpenedAt: now.Add(-3 * time.Hour), AgeSeconds: 10800,
				AckedBy: "alice", AckedAt: at(-2 * time.Hour), Error: "dial tcp 10.0.0.5:5432: i/o timeout"},
			Events: []Event{
				{At: now.Add(-3*time.Hour - time.Minute), Kind: "failing", Detail: "dial tcp 10.0.0.5:5432: i/o timeout"},
				{At: now.Add(-3 * time.Hour), Kind: "opened", Detail: "2 failures in a row"},
				{At: now.Add(-2 * time.Hour), Kind: "acknowledged", Actor: "alice", Detail: "looking <now>"},
			},
		},
	}
	return Sources{
		Checks:    fakeChecks(checks),
		Incidents: inc,
		Backups: fakeBackups{
			{Job: "etc", LastRun: &BackupRun{ID: 41, State: "succeeded", Trigger: "schedule", StartedAt: now.Add(-10 * time.Hour),
				FinishedAt: at(-10*time.Hour + 95*time.Second), DurationSeconds: 95}, Freshness: "fresh", FreshWithinSeconds: 93600,
				LastSuccessAt: at(-10*time.Hour + 95*time.Second), FreshnessText: "fresh: last success 9h58m ago, target 26h"},
			{Job: "postgres", LastRun: &BackupRun{ID: 40, State: "failed", Trigger: "manual", StartedAt: now.Add(-30 * time.Hour),
				FinishedAt: at(-30*time.Hour + 12*time.Second), DurationSeconds: 12}, Freshness: "stale", FreshWithinSeconds: 93600,
				LastSuccessAt: at(-50 * time.Hour), FreshnessText: "stale: last success 2d2h ago, target 26h"},
			{Job: "wiki", Freshness: "none", FreshnessText: "never ran"},
		},
		Tickets: fakeTickets{Open: 9, AtRisk: 2, Breached: 1, ByPriority: []PriorityCount{
			{Priority: "urgent", Open: 1, Breached: 1}, {Priority: "high", Open: 3, AtRisk: 2}, {Priority: "normal", Open: 4}, {Priority: "low", Open: 1}}},
		Access: fakeAccess{Pending: 3, Active: 2},
		Changes: fakeChanges{
			Runbooks: []RunbookRun{{ID: 7, Runbook: "restart-web", State: "running", RequestedBy: "bob", CreatedAt: now.Add(-5 * time.Minute), StartedAt: at(-4 * time.Minute)},
				{ID: 8, Runbook: "flush-cache", State: "pending", RequestedBy: "carol", CreatedAt: now.Add(-time.Minute)}},
			Ports: []PortChange{{ID: 3, Device: "core-sw-1", Port: "Gi0/7", Action: "down", Previous: "up", RequestedBy: "bob", RevertsAt: now.Add(50 * time.Minute)},
				{ID: 2, Device: "core-sw-1", Port: "Gi0/9", Action: "up", Previous: "down", RequestedBy: "alice", RevertsAt: now.Add(-time.Minute), RevertFailing: true}},
		},
	}, inc
}

type fakeChecks []Check

func (f fakeChecks) Checks(context.Context, time.Time) ([]Check, error) { return f, nil }

type fakeIncidents struct {
	open   []Incident
	detail IncidentDetail
}

func (f *fakeIncidents) OpenIncidents(context.Context, time.Time) ([]Incident, error) {
	return f.open, nil
}

func (f *fakeIncidents) Incident(_ context.Context, id int64, _ time.Time) (IncidentDetail, error) {
	if id != f.detail.ID {
		return IncidentDetail{}, ErrNoIncident
	}
	return f.detail, nil
}

type fakeBackups []Backup

func (f fakeBackups) Backups(context.Context, time.Time) ([]Backup, error) { return f, nil }

type fakeTickets Tickets

func (f fakeTickets) Tickets(context.Context, time.Time) (Tickets, error) { return Tickets(f), nil }

type fakeChanges Changes

func (f fakeChanges) Changes(context.Context, time.Time) (Changes, error) { return Changes(f), nil }

type fakeAccess Access

func (f fakeAccess) Access(context.Context, time.Time) (Access, error) { return Access(f), nil }
