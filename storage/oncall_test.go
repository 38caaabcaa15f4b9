package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestOncallOverrides: only accepted overrides that overlap the window are
// listed, oldest first; a swap counts once accepted.
func TestOncallOverrides(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day := time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			at := day.Add(-time.Hour)
			rows := []storage.OncallOverride{
				{Team: "it", Layer: "primary", Person: "bob", From: day, To: day.Add(72 * time.Hour), Kind: storage.OverrideSet, CreatedBy: "alice", CreatedAt: at, AcceptedAt: &at},
				{Team: "it", Layer: "primary", Person: "carol", From: day.Add(24 * time.Hour), To: day.Add(48 * time.Hour), Kind: storage.OverrideSwap, SwapFrom: "bob", CreatedBy: "bob", CreatedAt: at},
				{Team: "net", Layer: "primary", Person: "dave", From: day, To: day.Add(72 * time.Hour), Kind: storage.OverrideSet, CreatedBy: "alice", CreatedAt: at, AcceptedAt: &at},
				{Team: "it", Layer: "primary", Person: "erin", From: day.Add(-48 * time.Hour), To: day, Kind: storage.OverrideSet, CreatedBy: "alice", CreatedAt: at, AcceptedAt: &at},
			}
			for i := range rows {
				if err := storage.CreateOverride(s.DB, &rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			names := func() string {
				got, err := storage.ListOverrides(ctx, s.DB, "it", day, day.Add(7*24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				out := ""
				for _, o := range got {
					out += o.Person + " "
				}
				return out
			}
			if got := names(); got != "bob " {
				t.Errorf("before the swap is accepted: %s", got)
			}
			if err := storage.AcceptOverride(s.DB, rows[1].ID, day); err != nil {
				t.Fatal(err)
			}
			if got := names(); got != "bob carol " {
				t.Errorf("after: %s", got)
			}
			o, err := storage.GetOverride(s.DB, rows[1].ID)
			if err != nil || o.SwapFrom != "bob" || o.AcceptedAt == nil || !o.From.Equal(day.Add(24*time.Hour)) {
				t.Errorf("get %+v %v", o, err)
			}
			if _, err := storage.GetOverride(s.DB, 99); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("missing: %v", err)
			}
		})
	}
}
