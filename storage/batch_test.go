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

// TestClaimBatchesDoNotDeadlockOnPostgres: two replicas' batches holding
// the same keys in different orders wait for each other's uncommitted
// inserts on PostgreSQL; they must take the keys in one order, or each ends
// up holding a key the other waits for and PostgreSQL aborts one with
// "deadlock detected", failing every request in that batch.
func TestClaimBatchesDoNotDeadlockOnPostgres(t *testing.T) {
	t.Parallel()
	cfg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES is not set")
	}
	s := storagetest.Open(t, storagetest.Backend{Name: "postgres", Config: cfg})
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	// Another writer's uncommitted claim of "kx" holds back the first
	// batch after it has inserted "k1".
	other := s.DB.WithContext(ctx).Begin()
	if other.Error != nil {
		t.Fatal(other.Error)
	}
	defer other.Rollback()
	var otherPID int
	if err := other.Raw("SELECT pg_backend_pid()").Scan(&otherPID).Error; err != nil {
		t.Fatal(err)
	}
	if err := other.Exec(`INSERT INTO slack_requests ("key", seen_at) VALUES ('kx', ?)`, at).Error; err != nil {
		t.Fatal(err)
	}
	blockedBy := func(pid int) int {
		var waiter int
		err := s.DB.WithContext(ctx).Raw("SELECT pid FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))", pid).Scan(&waiter).Error
		if err != nil {
			t.Errorf("read lock waits: %v", err)
		}
		return waiter
	}
	type result struct {
		oks []bool
		err error
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() {
		oks, err := storage.ClaimSlackBatch(ctx, s, []string{"k1", "kx", "k2"}, at)
		first <- result{oks, err}
	}()
	var firstPID int
	waitFor(t, "the first batch to wait for the other writer", func() bool { firstPID = blockedBy(otherPID); return firstPID != 0 })
	go func() {
		oks, err := storage.ClaimSlackBatch(ctx, s, []string{"k2", "k1"}, at)
		second <- result{oks, err}
	}()
	waitFor(t, "the second batch to wait for the first", func() bool { return blockedBy(firstPID) != 0 })
	if err := other.Rollback().Error; err != nil {
		t.Fatal(err)
	}

	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatalf("first batch: %v; second batch: %v", r1.err, r2.err)
	}
	claimed := map[string]int{}
	for i, k := range []string{"k1", "kx", "k2"} {
		if r1.oks[i] {
			claimed[k]++
		}
	}
	for i, k := range []string{"k2", "k1"} {
		if r2.oks[i] {
			claimed[k]++
		}
	}
	if claimed["k1"] != 1 || claimed["k2"] != 1 || claimed["kx"] != 1 {
		t.Errorf("first claims %v, want each key claimed once", claimed)
	}
}
