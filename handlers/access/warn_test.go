package access_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestExpiryWarningExtendsThroughApproval: the holder is warned exactly
// warn_before (15m) ahead, the warning's Extend button asks for the granted
// time again, and that extension only counts once an approver says yes.
func TestExpiryWarningExtendsThroughApproval(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 2h --reason "deploy"`, "Requested #1")
		f.expect("bob", `/access approve 1`, "Granted to @dave")
		f.tick()
		f.state(1, storage.AccessActive)

		f.Clock.Advance(time.Hour + 44*time.Minute) // 16 minutes left
		f.tick()
		if n := len(f.outbox("access:1:warn:")); n != 0 {
			t.Fatalf("warned %d times with 16 minutes left", n)
		}
		f.Clock.Advance(time.Minute) // 15 minutes left
		f.tick()
		f.tick()
		warns := f.outbox("access:1:warn:")
		if len(warns) != 1 {
			t.Fatalf("%d warnings at 15 minutes left, want 1", len(warns))
		}
		var r bot.Reply
		if err := json.Unmarshal([]byte(warns[0].Body), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Buttons) != 1 || r.Buttons[0].Command != "/access extend 1 --for 2h" {
			t.Fatalf("warning buttons = %+v", r.Buttons)
		}
		// The click runs the button's command as dave.
		f.expect("dave", r.Buttons[0].Command, "")
		if got := f.request(1).ExpiresAt; !got.Equal(time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)) {
			t.Errorf("expiry moved before approval: %v", got)
		}
		f.expect("bob", `/access approve 1`, "")
		f.tick()
		if got := f.request(1).ExpiresAt; !got.After(time.Date(2026, 3, 2, 12, 59, 0, 0, time.UTC)) {
			t.Errorf("expiry after approved extension = %v, want 2h later", got)
		}
		f.state(1, storage.AccessActive)
	})
}

// TestApproverDigestOncePerDay: approvers get one digest a day listing the
// active grants of their resources.
func TestApproverDigestOncePerDay(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 8h --reason "deploy"`, "Requested #1")
		f.expect("bob", `/access approve 1`, "Granted")
		f.tick()
		f.tick()
		f.Clock.Advance(time.Hour)
		f.tick()
		day := f.outbox("access:digest:2026-03-02:bob")
		if len(day) != 1 || !strings.Contains(day[0].Body, "prod-db") || !strings.Contains(day[0].Body, "#1 @dave (read)") {
			t.Fatalf("bob's digest = %+v", day)
		}
		if len(f.outbox("access:digest:2026-03-02:dave")) != 0 {
			t.Error("a non-approver got a digest")
		}
		f.Clock.Advance(24 * time.Hour)
		f.tick()
		if len(f.outbox("access:digest:2026-03-03:")) != 0 {
			t.Error("digest listed a grant that has ended")
		}
	})
}
