package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestRequestClaimsAcrossReplicas: many claims at once on two stores over
// one database, with every key claimed several times, give each key exactly
// one first claim; answers saved in batches read back per key.
func TestRequestClaimsAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, backend := range storagetest.Backends(t) {
		t.Run(backend.Name, func(t *testing.T) {
			t.Parallel()
			a := storagetest.Open(t, backend)
			b := storagetest.Open(t, backend)
			at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			const keys, tries = 40, 6
			var mu sync.Mutex
			wins := map[string]int{}
			var wg sync.WaitGroup
			for k := range keys {
				for try := range tries {
					s := a
					if try%2 == 1 {
						s = b
					}
					wg.Go(func() {
						key := fmt.Sprintf("trigger-%d", k)
						first, err := s.ClaimSlackRequest(context.Background(), key, at)
						if err != nil {
							t.Error(err)
							return
						}
						if first {
							mu.Lock()
							wins[key]++
							mu.Unlock()
							if err := s.SaveSlackReply(context.Background(), key, "answer to "+key); err != nil {
								t.Error(err)
							}
						}
					})
				}
			}
			wg.Wait()
			if len(wins) != keys {
				t.Fatalf("%d keys had a first claim, want %d", len(wins), keys)
			}
			for key, n := range wins {
				if n != 1 {
					t.Errorf("%s was claimed first %d times", key, n)
				}
				got, err := storage.SlackReply(context.Background(), a.DB, key)
				if err != nil || got != "answer to "+key {
					t.Errorf("reply of %s = %q, %v", key, got, err)
				}
			}
		})
	}
}
