package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestDeviceAssignments: a device has at most one holder, a return closes
// the check-out with its condition, and the history keeps every one.
func TestDeviceAssignments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			if _, err := storage.CurrentHolder(ctx, s.DB, "laptop-1"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("holder of unassigned: %v", err)
			}
			a := storage.DeviceAssignment{Device: "laptop-1", Holder: "bob", AssignedBy: "alice", AssignedAt: now}
			if err := storage.AssignDevice(s.DB, &a); err != nil {
				t.Fatal(err)
			}
			again := storage.DeviceAssignment{Device: "laptop-1", Holder: "carol", AssignedBy: "alice", AssignedAt: now}
			if err := storage.AssignDevice(s.DB, &again); !errors.Is(err, storage.ErrDeviceHeld) {
				t.Fatalf("second assign: %v", err)
			}
			// The unique index refuses a second open row even past the check.
			raw := storage.DeviceAssignment{Device: "laptop-1", Holder: "carol", AssignedBy: "alice", AssignedAt: now}
			if err := s.DB.Create(&raw).Error; err == nil {
				t.Fatal("a second open assignment was stored")
			}
			if h, err := storage.CurrentHolder(ctx, s.DB, "laptop-1"); err != nil || h.Holder != "bob" {
				t.Fatalf("holder = %+v, %v", h, err)
			}
			held, err := storage.HeldBy(ctx, s.DB, "bob")
			if err != nil || len(held) != 1 || held[0].Device != "laptop-1" {
				t.Fatalf("held by bob = %+v, %v", held, err)
			}
			r, err := storage.ReturnDevice(s.DB, "laptop-1", "alice", storage.ConditionDamaged, now.Add(time.Hour))
			if err != nil || r.Holder != "bob" || r.Condition != storage.ConditionDamaged {
				t.Fatalf("return = %+v, %v", r, err)
			}
			if _, err := storage.ReturnDevice(s.DB, "laptop-1", "alice", storage.ConditionOK, now); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("second return: %v", err)
			}
			if held, _ := storage.HeldBy(ctx, s.DB, "bob"); len(held) != 0 {
				t.Fatalf("bob still holds %+v", held)
			}
			if err := storage.AssignDevice(s.DB, &again); err != nil {
				t.Fatalf("assign after return: %v", err)
			}
			hist, err := storage.AssignmentHistory(ctx, s.DB, "laptop-1", 10)
			if err != nil || len(hist) != 2 {
				t.Fatalf("history = %+v, %v", hist, err)
			}
			if hist[0].Holder != "carol" || hist[0].ReturnedAt != nil || hist[1].Holder != "bob" ||
				hist[1].ReturnedAt == nil || !hist[1].ReturnedAt.Equal(now.Add(time.Hour)) || hist[1].ReturnedBy != "alice" {
				t.Errorf("history = %+v", hist)
			}
		})
	}
}
