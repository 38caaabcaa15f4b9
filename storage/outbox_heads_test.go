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
