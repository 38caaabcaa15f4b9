package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestDiscordInteractions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			claim := func(id string, at time.Time) bool {
				t.Helper()
				first, err := s.ClaimDiscordInteraction(ctx, id, at)
				if err != nil {
					t.Fatalf("claim %s: %v", id, err)
				}
				return first
			}
			if !claim("900000000000000001", at) {
				t.Fatal("the first claim was refused")
			}
			if claim("900000000000000001", at.Add(time.Minute)) {
				t.Fatal("a second claim of the same id succeeded")
			}
			if !claim("900000000000000002", at.Add(10*time.Minute)) {
				t.Fatal("another id was refused")
			}

			// Replicas claiming the same id at once: exactly one wins.
			var wg sync.WaitGroup
			wins := make(chan bool, 8)
			for range cap(wins) {
				wg.Go(func() {
					first, err := s.ClaimDiscordInteraction(ctx, "900000000000000003", at)
					if err != nil {
						t.Error(err)
					}
					wins <- first
				})
			}
			wg.Wait()
			close(wins)
			n := 0
			for w := range wins {
				if w {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d concurrent claims of one id won, want 1", n)
			}

			// Pruning forgets rows seen before the cutoff, and only those.
			removed, err := storage.PruneDiscordInteractions(ctx, s.DB, at.Add(5*time.Minute))
			if err != nil || removed != 2 {
				t.Fatalf("prune removed %d, err %v; want 2", removed, err)
			}
			if claim("900000000000000002", at.Add(11*time.Minute)) {
				t.Fatal("pruning forgot an interaction seen after the cutoff")
			}
			if !claim("900000000000000001", at.Add(11*time.Minute)) {
				t.Fatal("a pruned interaction is still remembered")
			}
		})
	}
}
