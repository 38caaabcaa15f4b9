package storage_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestClaimOutboxTakesEachLanesHead: across many lanes with messages in
// every state, ClaimOutbox leases exactly the due heads (the oldest
// pending or sending message of each lane), never a message behind a
// head, whatever state the head is in; finished messages do not count.
func TestClaimOutboxTakesEachLanesHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			later, expired, held := now.Add(time.Hour), now.Add(-time.Minute), now.Add(time.Minute)
			var msgs []storage.OutboxMessage
			add := func(lane, state string, next time.Time, until *time.Time) {
				msgs = append(msgs, storage.OutboxMessage{Key: fmt.Sprintf("k%d", len(msgs)), Lane: lane, Platform: "slack",
					Target: "{}", Body: "{}", State: state, NextAttemptAt: next, ClaimedUntil: until, CreatedAt: now})
			}
			want := map[string]bool{}
			for i := range 40 {
				lane := fmt.Sprintf("slack/c%02d", i)
				switch i % 5 {
				case 0: // finished messages first, then a due head and more behind it
					add(lane, storage.OutboxSent, now, nil)
					add(lane, storage.OutboxFailed, now, nil)
					add(lane, storage.OutboxPending, now, nil)
					want[fmt.Sprintf("k%d", len(msgs)-1)] = true
					add(lane, storage.OutboxPending, now, nil)
				case 1: // the head is being sent under a live lease: nothing
					add(lane, storage.OutboxSending, now, &held)
					add(lane, storage.OutboxPending, now, nil)
				case 2: // the head's lease ran out: it is claimed again
					add(lane, storage.OutboxSending, now, &expired)
					want[fmt.Sprintf("k%d", len(msgs)-1)] = true
					add(lane, storage.OutboxPending, now, nil)
				case 3: // the head waits for a retry: nothing behind it goes
					add(lane, storage.OutboxPending, later, nil)
					add(lane, storage.OutboxPending, now, nil)
				case 4: // nothing queued
					add(lane, storage.OutboxSent, now, nil)
				}
			}
			if err := s.Tx(ctx, func(tx *gorm.DB) error { return storage.EnqueueOutbox(tx, msgs...) }); err != nil {
				t.Fatal(err)
			}
			got, err := s.ClaimOutbox(ctx, "me", now, time.Minute, 100, storage.OutboxScope{Platforms: []string{"slack"}})
			if err != nil {
				t.Fatal(err)
			}
			var keys, wantKeys []string
			for _, m := range got {
				keys = append(keys, m.Key)
			}
			for k := range want {
				wantKeys = append(wantKeys, k)
			}
			sort.Strings(keys)
			sort.Strings(wantKeys)
			if fmt.Sprint(keys) != fmt.Sprint(wantKeys) {
				t.Fatalf("claimed %v, want the due heads %v", keys, wantKeys)
			}
		})
	}
}

// TestFinishOutboxRunClaimsTheLanesNext: recording a run's outcomes also
// leases the next run of its lane, in order, in the same transaction: up
// to the size asked, and never past a message that waits for its retry.
// Nothing is claimed when an outcome was not the caller's to record (its
// claim was lost) or when no lane is asked for.
func TestFinishOutboxRunClaimsTheLanesNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	const lease = time.Minute
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			var msgs []storage.OutboxMessage
			for i := range 6 {
				next := now
				if i == 4 {
					next = now.Add(time.Hour) // k4 waits for a retry
				}
				msgs = append(msgs, storage.OutboxMessage{Key: fmt.Sprintf("k%d", i), Lane: "slack/c1", Platform: "slack",
					Target: "{}", Body: "{}", NextAttemptAt: next, CreatedAt: now})
			}
			// Another lane's messages between them change nothing.
			msgs = append(msgs[:2], append([]storage.OutboxMessage{{Key: "other", Lane: "slack/c2", Platform: "slack",
				Target: "{}", Body: "{}", NextAttemptAt: now, CreatedAt: now}}, msgs[2:]...)...)
			if err := s.Tx(ctx, func(tx *gorm.DB) error { return storage.EnqueueOutbox(tx, msgs...) }); err != nil {
				t.Fatal(err)
			}
			scope := storage.OutboxScope{Platforms: []string{"slack"}}
			claimed, err := s.ClaimOutbox(ctx, "me", now, lease, 1, scope)
			if err != nil || len(claimed) != 1 || claimed[0].Key != "k0" {
				t.Fatalf("first claim = %v, %v; want k0", claimed, err)
			}
			sent := func(ms ...storage.OutboxMessage) []storage.Finished {
				var out []storage.Finished
				for _, m := range ms {
					out = append(out, storage.Finished{ID: m.ID, Outcome: storage.OutboxOutcome{State: storage.OutboxSent,
						MessageChannel: "C1", MessageID: "m-" + m.Key, At: now}})
				}
				return out
			}
			keys := func(ms []storage.OutboxMessage) string {
				var ks []string
				for _, m := range ms {
					ks = append(ks, m.Key)
				}
				return fmt.Sprint(ks)
			}

			// Someone else's outcome to record: nothing changes, nothing is claimed.
			lost, next, err := s.FinishOutboxRun(ctx, "stranger", sent(claimed[0]), "slack/c1", now, lease, 8)
			if err != nil || lost != 1 || next != nil {
				t.Fatalf("a stranger's finish = %d lost, %v, %v; want 1 lost and no claim", lost, keys(next), err)
			}
			// The owner's: k0 is sent and the next two, k1 and k2, are leased to it.
			lost, next, err = s.FinishOutboxRun(ctx, "me", sent(claimed[0]), "slack/c1", now, lease, 2)
			if err != nil || lost != 0 || keys(next) != "[k1 k2]" {
				t.Fatalf("finish k0 = %d lost, %v, %v; want k1 and k2 claimed", lost, keys(next), err)
			}
			for _, m := range next {
				if m.State != storage.OutboxSending || m.ClaimedBy != "me" || m.Attempts != 1 || m.Uncertain {
					t.Fatalf("%s returned as %+v", m.Key, m)
				}
				stored, err := s.OutboxByKey(ctx, m.Key)
				if err != nil || stored.State != storage.OutboxSending || stored.ClaimedBy != "me" || stored.Attempts != 1 ||
					stored.ClaimedUntil == nil || !stored.ClaimedUntil.Equal(now.Add(lease)) {
					t.Fatalf("%s stored as %+v, %v", m.Key, stored, err)
				}
			}
			if k0, _ := s.OutboxByKey(ctx, "k0"); k0.State != storage.OutboxSent || k0.MessageID != "m-k0" {
				t.Fatalf("k0 stored as %+v", k0)
			}
			// k4 waits an hour: the run stops before it, and k5 stays behind it.
			lost, next, err = s.FinishOutboxRun(ctx, "me", sent(next...), "slack/c1", now, lease, 8)
			if err != nil || lost != 0 || keys(next) != "[k3]" {
				t.Fatalf("finish k1, k2 = %d lost, %v, %v; want k3 alone", lost, keys(next), err)
			}
			// No lane: the outcomes alone.
			lost, next, err = s.FinishOutboxRun(ctx, "me", sent(next...), "", now, lease, 8)
			if err != nil || lost != 0 || next != nil {
				t.Fatalf("finish k3 without a lane = %d lost, %v, %v", lost, keys(next), err)
			}
			for _, k := range []string{"k4", "k5", "other"} {
				if m, _ := s.OutboxByKey(ctx, k); m.State != storage.OutboxPending || m.Attempts != 0 || m.ClaimedBy != "" {
					t.Fatalf("%s was touched: %+v", k, m)
				}
			}
		})
	}
}
