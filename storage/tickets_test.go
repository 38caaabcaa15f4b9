package storage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestSLAIndexesArePartial: the SLA due columns' indexes leave out NULLs, so
// a ticket without SLA targets writes none of them, and the SLA worker's
// scan still finds due tickets through them.
func TestSLAIndexesArePartial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			for _, col := range []string{"first_response_warn_at", "first_response_breach_at", "resolve_warn_at", "resolve_breach_at"} {
				var def string
				q := "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
				if s.Driver() == "postgres" {
					q = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?"
				}
				if err := s.DB.Raw(q, "idx_tickets_"+col).Scan(&def).Error; err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(strings.ToLower(def), "where") || !strings.Contains(strings.ToLower(def), "is not null") {
					t.Errorf("index on %s: %q, want a partial index WHERE %s IS NOT NULL", col, def, col)
				}
			}
			if s.Driver() == "sqlite" {
				var plan []struct{ Detail string }
				err := s.DB.Raw("EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE resolve_breach_at <= ? ORDER BY resolve_breach_at, id LIMIT 10", now).
					Scan(&plan).Error
				if err != nil {
					t.Fatal(err)
				}
				if len(plan) == 0 || !strings.Contains(plan[0].Detail, "idx_tickets_resolve_breach_at") {
					t.Errorf("the due scan's plan %+v does not use the partial index", plan)
				}
			}

			due := now.Add(-time.Minute)
			withSLA := storage.Ticket{Summary: "with", Status: storage.TicketNew, Priority: "urgent", Requester: "a", FiledBy: "a",
				CreatedAt: now, UpdatedAt: now, ResolveBreachAt: &due}
			without := storage.Ticket{Summary: "without", Status: storage.TicketNew, Priority: "normal", Requester: "a", FiledBy: "a",
				CreatedAt: now, UpdatedAt: now}
			for _, tk := range []*storage.Ticket{&withSLA, &without} {
				if err := storage.CreateTicket(s.DB, tk); err != nil {
					t.Fatal(err)
				}
			}
			ids, err := storage.DueSLA(ctx, s.DB, storage.TargetResolve, storage.SLABreach, now, 10)
			if err != nil || len(ids) != 1 || ids[0] != withSLA.ID {
				t.Fatalf("due for resolve breach: %v, %v; want [%d]", ids, err, withSLA.ID)
			}
		})
	}
}
