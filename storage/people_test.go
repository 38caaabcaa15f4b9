package storage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestPersonStates: marking someone inactive, and active again, is stored
// once per person and read back by every reader.
func TestPersonStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			active := storage.ActiveFunc(s.DB, time.Second)
			if !active("erin") {
				t.Fatal("erin inactive before any change")
			}
			for _, n := range []string{"erin", "frank", "erin"} {
				if err := storage.SetInactive(s.DB, n, true, "alice", now); err != nil {
					t.Fatal(err)
				}
			}
			if err := storage.SetInactive(s.DB, "frank", false, "alice", now); err != nil {
				t.Fatal(err)
			}
			names, err := storage.InactivePeople(ctx, s.DB)
			if err != nil || strings.Join(names, ",") != "erin" {
				t.Fatalf("inactive = %v, %v", names, err)
			}
			if in, _ := storage.IsInactive(ctx, s.DB, "erin"); !in || active("erin") || !active("frank") {
				t.Errorf("erin inactive %v, active(erin) %v, active(frank) %v", in, active("erin"), active("frank"))
			}
		})
	}
}
