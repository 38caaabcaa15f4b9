package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestChecklists: one open checklist per person and kind, steps keyed so
// that adding them again adds nothing, claims lease an item to one worker
// (and free it when the lease runs out), and a checklist closes when every
// item is finished.
func TestChecklists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			c := storage.Checklist{Kind: storage.ChecklistOnboard, Person: "erin", Template: "engineer", StartsOn: now.Add(48 * time.Hour),
				RequestedBy: "alice", State: storage.ChecklistOpen, CreatedAt: now, UpdatedAt: now}
			items := []storage.ChecklistItem{{Step: "ticket:0", Kind: "ticket", Label: "desk", UpdatedAt: now},
				{Step: "command:account", Kind: "command", Label: "account", UpdatedAt: now}}
			if err := storage.CreateChecklist(s.DB, &c, items); err != nil {
				t.Fatal(err)
			}
			dup := c
			dup.ID = 0
			if err := storage.CreateChecklist(s.DB, &dup, nil); !errors.Is(err, storage.ErrChecklistOpen) {
				t.Fatalf("second open checklist: %v", err)
			}
			again := []storage.ChecklistItem{{Step: "ticket:0", Kind: "ticket", Label: "changed", UpdatedAt: now},
				{Step: "device:0", Kind: "device", Label: "laptop", UpdatedAt: now}}
			if err := storage.AddChecklistItems(s.DB, c.ID, again); err != nil {
				t.Fatal(err)
			}
			_, got, err := storage.GetChecklist(ctx, s.DB, c.ID)
			if err != nil || len(got) != 3 || got[0].Label != "desk" || got[0].State != storage.ItemPending {
				t.Fatalf("items = %+v, %v", got, err)
			}
			if due, _ := storage.DueItems(ctx, s.DB, []string{"command"}, now, 10); len(due) != 0 {
				t.Fatalf("due before the start date: %+v", due)
			}
			start := now.Add(48 * time.Hour)
			due, err := storage.DueItems(ctx, s.DB, []string{"command"}, start, 10)
			if err != nil || len(due) != 1 || due[0].Step != "command:account" {
				t.Fatalf("due = %+v, %v", due, err)
			}
			id := due[0].ID
			if ok, err := storage.ClaimItem(s.DB, id, start, start.Add(time.Minute)); !ok || err != nil {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if ok, _ := storage.ClaimItem(s.DB, id, start, start.Add(time.Minute)); ok {
				t.Fatal("claimed twice within the lease")
			}
			if due, _ := storage.DueItems(ctx, s.DB, []string{"command"}, start.Add(30*time.Second), 10); len(due) != 0 {
				t.Fatalf("leased item due: %+v", due)
			}
			// The worker died: after the lease the item is due again.
			later := start.Add(2 * time.Minute)
			if due, _ := storage.DueItems(ctx, s.DB, []string{"command"}, later, 10); len(due) != 1 {
				t.Fatalf("expired lease not due: %+v", due)
			}
			if ok, _ := storage.ClaimItem(s.DB, id, later, later.Add(time.Minute)); !ok {
				t.Fatal("expired lease not claimable")
			}
			if err := storage.FinishItem(s.DB, id, storage.ItemDone, "", "exit 0", later); err != nil {
				t.Fatal(err)
			}
			if n, _ := storage.CountOpenChecklists(ctx, s.DB); n[storage.ChecklistOnboard] != 1 {
				t.Fatalf("open = %v", n)
			}
			if closed, err := storage.CloseIfFinished(s.DB, c.ID, later); closed || err != nil {
				t.Fatalf("closed with items left: %v %v", closed, err)
			}
			for _, it := range got {
				if it.ID != id {
					_ = storage.FinishItem(s.DB, it.ID, storage.ItemTicket, "ticket #1", "", later)
				}
			}
			if closed, err := storage.CloseIfFinished(s.DB, c.ID, later); !closed || err != nil {
				t.Fatalf("not closed: %v %v", closed, err)
			}
			_, items2, _ := storage.GetChecklist(ctx, s.DB, c.ID)
			if items2[1].Attempts != 2 || items2[1].LeaseUntil != nil {
				t.Errorf("command item = %+v", items2[1])
			}
			if n, _ := storage.CountOpenChecklists(ctx, s.DB); n[storage.ChecklistOnboard] != 0 {
				t.Fatalf("open after close = %v", n)
			}
			// A closed checklist does not block a new one.
			dup.ID = 0
			if err := storage.CreateChecklist(s.DB, &dup, nil); err != nil {
				t.Fatalf("new checklist after close: %v", err)
			}
			// Free devices: not held by anyone.
			for _, n := range []string{"laptop-1", "laptop-2"} {
				d := storage.Device{Name: n, Address: "192.0.2.1", Kind: "laptop", Source: storage.DeviceFromChat, CreatedAt: now, UpdatedAt: now}
				if err := storage.CreateDevice(s.DB, &d); err != nil {
					t.Fatal(err)
				}
			}
			a := storage.DeviceAssignment{Device: "laptop-1", Holder: "bob", AssignedBy: "alice", AssignedAt: now}
			_ = storage.AssignDevice(s.DB, &a)
			free, err := storage.FreeDevices(s.DB, "laptop", 5)
			if err != nil || len(free) != 1 || free[0].Name != "laptop-2" {
				t.Errorf("free = %+v, %v", free, err)
			}
		})
	}
}
