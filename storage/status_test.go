package storage_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestStatusAggregates seeds tickets, access requests and backup runs and
// checks the status page's counts on every backend.
func TestStatusAggregates(t *testing.T) {
	t.Parallel()
	now := t0
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	tickets := []storage.Ticket{
		// urgent: one breached by flag, one breached by time not yet recorded,
		// one warned, one whose warning time has come, one calm.
		{Priority: "urgent", Status: storage.TicketOpen, ResolveBreached: true},
		{Priority: "urgent", Status: storage.TicketNew, FirstResponseBreachAt: at(-time.Minute)},
		{Priority: "urgent", Status: storage.TicketNew, FirstResponseWarned: true, FirstResponseBreachAt: at(time.Minute)},
		{Priority: "urgent", Status: storage.TicketOpen, ResolveWarnAt: at(-time.Second), ResolveBreachAt: at(time.Hour)},
		{Priority: "urgent", Status: storage.TicketOpen, ResolveWarnAt: at(time.Hour), ResolveBreachAt: at(2 * time.Hour)},
		// high: warned, but the target was met (breach_at cleared): calm.
		{Priority: "high", Status: storage.TicketPending, FirstResponseWarned: true},
		// closed tickets are not counted at all.
		{Priority: "high", Status: storage.TicketClosed, ResolveBreached: true},
		{Priority: "low", Status: storage.TicketResolved},
	}
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ctx := context.Background()
			err := s.Tx(ctx, func(tx *gorm.DB) error {
				for _, tk := range tickets {
					tk.Summary, tk.Requester, tk.FiledBy, tk.CreatedAt, tk.UpdatedAt = "x", "dave", "dave", now, now
					if err := storage.CreateTicket(tx, &tk); err != nil {
						return err
					}
				}
				for i, st := range []string{storage.AccessPending, storage.AccessPending, storage.AccessActive, storage.AccessRevoked} {
					r := storage.AccessRequest{Resource: "prod-db", Role: "read", Requester: "dave", State: st,
						ApprovalsNeeded: 1, PendingUntil: now, CreatedAt: now.Add(time.Duration(i)), UpdatedAt: now}
					if err := storage.CreateAccessRequest(tx, &r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			counts, err := storage.TicketQueueCounts(ctx, s.DB, now)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]storage.TicketCounts{}
			for _, c := range counts {
				got[c.Priority] = c
			}
			want := map[string]storage.TicketCounts{
				"urgent": {Priority: "urgent", Open: 5, Breached: 2, AtRisk: 2},
				"high":   {Priority: "high", Open: 1},
			}
			if len(got) != len(want) {
				t.Errorf("priorities %v, want %v", got, want)
			}
			for p, w := range want {
				if got[p] != w {
					t.Errorf("%s: got %+v, want %+v", p, got[p], w)
				}
			}

			acc, err := storage.CountAccessByState(ctx, s.DB, storage.AccessPending, storage.AccessActive, storage.AccessGranting)
			if err != nil {
				t.Fatal(err)
			}
			if acc[storage.AccessPending] != 2 || acc[storage.AccessActive] != 1 || acc[storage.AccessGranting] != 0 {
				t.Errorf("access counts %v", acc)
			}

			start(t, s, "etc", "a")
			_, second, _ := start(t, s, "db", "a")
			runs, err := storage.LatestBackupRuns(ctx, s.DB, []string{"etc", "db", "never"})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs["db"].ID != second.ID || runs["etc"].Job != "etc" {
				t.Errorf("latest runs %+v", runs)
			}
		})
	}
}

func TestCheckBuckets(t *testing.T) {
	t.Parallel()
	start := t0.Add(-24 * time.Hour)
	results := []storage.CheckResult{
		{Check: "web", At: start.Add(-time.Second), OK: false, LatencyMS: 999}, // before the window
		{Check: "web", At: start, OK: true, LatencyMS: 10},
		{Check: "web", At: start.Add(29*time.Minute + 59*time.Second + 999*time.Millisecond), OK: false, LatencyMS: 30},
		{Check: "web", At: start.Add(30 * time.Minute), OK: true, LatencyMS: 7},
		{Check: "web", At: t0.Add(-time.Millisecond), OK: true, LatencyMS: 5}, // SQLite times are exact to the ms
		{Check: "db", At: t0.Add(-time.Hour + 123456789), OK: false, LatencyMS: 2},
		{Check: "other", At: t0.Add(-time.Hour), OK: true, LatencyMS: 1}, // not asked for
	}
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ctx := context.Background()
			err := s.Tx(ctx, func(tx *gorm.DB) error {
				for _, r := range results {
					if err := storage.AddCheckResult(tx, &r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := storage.CheckBuckets(ctx, s.DB, []string{"web", "db"}, start, 30*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			want := []storage.CheckBucket{
				{Check: "db", Bucket: 46, Runs: 1, Failures: 1, AvgLatencyMS: 2},
				{Check: "web", Bucket: 0, Runs: 2, Failures: 1, AvgLatencyMS: 20},
				{Check: "web", Bucket: 1, Runs: 1, AvgLatencyMS: 7},
				{Check: "web", Bucket: 47, Runs: 1, AvgLatencyMS: 5},
			}
			if len(got) != len(want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("bucket %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}
