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

// TestFinishOutboxClaimsTheLanesNext: recording a sent message also leases
// its lane's next head when that is due, in the same transaction; it claims
// nothing when the outcome was not the caller's to record (its claim was
// lost), when the next head waits for a retry, or when asked for no lane.
func TestFinishOutboxClaimsTheLanesNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	const lease = time.Minute
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			var msgs []storage.OutboxMessage
			for i, next := range []time.Time{now, now, now, now.Add(time.Hour)} {
				msgs = append(msgs, storage.OutboxMessage{Key: fmt.Sprintf("k%d", i), Lane: "slack/c1", Platform: "slack",
					Target: "{}", Body: "{}", NextAttemptAt: next, CreatedAt: now})
			}
			if err := s.Tx(ctx, func(tx *gorm.DB) error { return storage.EnqueueOutbox(tx, msgs...) }); err != nil {
				t.Fatal(err)
			}
			claimed, err := s.ClaimOutbox(ctx, "me", now, lease, 1, storage.OutboxScope{Platforms: []string{"slack"}})
			if err != nil || len(claimed) != 1 || claimed[0].Key != "k0" {
				t.Fatalf("first claim = %v, %v; want k0", claimed, err)
			}
			sent := storage.OutboxOutcome{State: storage.OutboxSent, MessageChannel: "C1", MessageID: "m1", At: now}

			// Someone else's outcome to record: nothing changes, nothing is claimed.
			mine, next, err := s.FinishOutboxClaimNext(ctx, claimed[0].ID, "stranger", sent, "slack/c1", now, lease)
			if err != nil || mine || next != nil {
				t.Fatalf("a stranger's finish = %v, %v, %v; want not mine and no claim", mine, next, err)
			}
			// The owner's: k0 is sent and k1, the lane's next, is leased to it.
			mine, next, err = s.FinishOutboxClaimNext(ctx, claimed[0].ID, "me", sent, "slack/c1", now, lease)
			if err != nil || !mine || next == nil || next.Key != "k1" {
				t.Fatalf("finish k0 = %v, %+v, %v; want mine and k1 claimed", mine, next, err)
			}
			if next.State != storage.OutboxSending || next.ClaimedBy != "me" || next.Attempts != 1 || next.Uncertain {
				t.Fatalf("k1 returned as %+v", next)
			}
			stored, err := s.OutboxByKey(ctx, "k1")
			if err != nil || stored.State != storage.OutboxSending || stored.ClaimedBy != "me" ||
				stored.ClaimedUntil == nil || !stored.ClaimedUntil.Equal(now.Add(lease)) {
				t.Fatalf("k1 stored as %+v, %v", stored, err)
			}
			if k0, _ := s.OutboxByKey(ctx, "k0"); k0.State != storage.OutboxSent || k0.MessageID != "m1" {
				t.Fatalf("k0 stored as %+v", k0)
			}
			// No lane: the outcome alone.
			mine, next, err = s.FinishOutboxClaimNext(ctx, stored.ID, "me", sent, "", now, lease)
			if err != nil || !mine || next != nil {
				t.Fatalf("finish k1 without a lane = %v, %v, %v", mine, next, err)
			}
			if k2, _ := s.OutboxByKey(ctx, "k2"); k2.State != storage.OutboxPending || k2.ClaimedBy != "" {
				t.Fatalf("k2 was claimed without a lane asked for: %+v", k2)
			}
			claimed, err = s.ClaimOutbox(ctx, "me", now, lease, 1, storage.OutboxScope{Platforms: []string{"slack"}})
			if err != nil || len(claimed) != 1 || claimed[0].Key != "k2" {
				t.Fatalf("claim = %v, %v; want k2", claimed, err)
			}
			// k3, the next head, waits an hour for a retry: not claimed.
			mine, next, err = s.FinishOutboxClaimNext(ctx, claimed[0].ID, "me", sent, "slack/c1", now, lease)
			if err != nil || !mine || next != nil {
				t.Fatalf("finish k2 = %v, %+v, %v; want mine and k3 left waiting", mine, next, err)
			}
			if k3, _ := s.OutboxByKey(ctx, "k3"); k3.State != storage.OutboxPending || k3.Attempts != 0 {
				t.Fatalf("k3 stored as %+v", k3)
			}
		})
	}
}
