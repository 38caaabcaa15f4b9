package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestResponseURLPastItsLifeGoesByDM: an answer that comes more than 30
// minutes after the command is not posted to the response_url, which Slack
// no longer accepts, but sent to the person directly through the outbox.
func TestResponseURLPastItsLifeGoesByDM(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	h.post("/slack/commands", h.command("U0ALICE", "/slow", "", "T1"), nil)
	h.clock.Advance(31 * time.Minute)
	close(h.release)
	h.a.Wait()
	select {
	case got := <-h.hooks:
		t.Fatalf("posted to an expired response_url: %+v", got)
	default:
	}
	var rows []storage.OutboxMessage
	if err := h.store.DB.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.Contains(rows[0].Target, `"user":"U0ALICE"`) || !strings.Contains(rows[0].Body, "core-sw-1 is up") {
		t.Fatalf("outbox %+v", rows)
	}
}

// TestShutdownCutsShortAfterGrace: a reply still being worked out at the
// end of the shutdown grace period is cut short, and the person is told so
// through the response_url instead of being left with the acknowledgement.
func TestShutdownCutsShortAfterGrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	h.a.grace = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.a.Run(ctx) }()
	h.post("/slack/commands", h.command("U0ALICE", "/slow", "", "T1"), nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	got := h.hook()
	if !strings.Contains(got.Text, "opsbot was stopping and cut `/slow` short") || got.ResponseType != "ephemeral" {
		t.Fatalf("delivered %+v", got)
	}
	if !strings.Contains(h.logs.String(), "cutting them short") {
		t.Errorf("the log does not say the replies were cut short:\n%s", h.logs)
	}
}
