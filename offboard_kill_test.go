package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage"
)

// TestOffboardingSurvivesSIGKILL kills `opsbot serve` while an offboarding's
// revoke and remove command run and starts it again: the offboarding
// completes (each killed command runs a second time once its lease runs
// out) and nothing is doubled or lost — every grant revoked, one return
// ticket per held device, the remove command run, the person inactive.
// The commands' timeouts are long enough that the kill, not a timeout,
// ends each first run, and that a loaded machine cannot time out (and so
// legitimately retry) a second run. The remove command starts first (the
// sweep that adds it runs it) and the revoke up to an access-worker pass
// later (every 10 s, longer on a loaded machine), so the remove's timeout
// is the longer: with 10 s, CI once saw it time out before the revoke
// started, be retried, and that retry be killed before its end was
// recorded, which made three runs.
func TestOffboardingSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Each call is recorded; the first revoke of #1 and the first remove
	// block until killed.
	revoke := filepath.Join(dir, "revoke.sh")
	harness.WriteFile(t, revoke, `#!/bin/sh
echo "revoke $OPSBOT_REQUEST_ID $OPSBOT_USER" >> "$1/revokes.log"
if [ "$OPSBOT_REQUEST_ID" = 1 ] && [ ! -e "$1/once" ]; then touch "$1/once"; exec sleep 120; fi
`)
	remove := filepath.Join(dir, "remove.sh")
	harness.WriteFile(t, remove, `#!/bin/sh
echo "remove $1" >> "$2/removes.log"
if [ ! -e "$2/once-remove" ]; then touch "$2/once-remove"; exec sleep 120; fi
`)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
database: {driver: sqlite, dsn: ops.db}
status_page: {enabled: false}
people:
  - {name: alice, roles: [admin, helpdesk]}
  - {name: carol, roles: [admin]}
  - {name: bob, roles: [approver]}
  - {name: erin, email: erin@example.com}
tickets:
  queues: [{name: it}]
  default_queue: it
devices:
  inventory:
    - {name: laptop-42, address: 192.0.2.42, kind: laptop}
    - {name: phone-7, address: 192.0.2.7, kind: phone}
access:
  resources:
    - {name: prod-db, roles: [read], approvers: [bob], max_duration: 8h, grant: {manual: true},
       revoke: {command: [/bin/sh, %[1]q, %[3]q], timeout: 10s}}
    - {name: vpn, roles: [user], approvers: [bob], max_duration: 8h, grant: {manual: true},
       revoke: {command: [/bin/sh, %[1]q, %[3]q], timeout: 10s}}
provisioning:
  templates:
    engineer:
      commands: [{name: account, create: [/bin/true], remove: [/bin/sh, %[2]q, "{{.Person}}", %[3]q], timeout: 30s}]
`, revoke, remove, dir)
	path := harness.WriteConfig(t, dir, cfg)
	shell := func(user, input, want string) {
		t.Helper()
		out, errOut, code := binary.Run(t, dir, input, "shell", "--config", path, "--user", user)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%s: %q: exit %d, want %q in\n%s\n%s", user, input, code, want, out, errOut)
		}
	}
	// erin holds two grants (manual grants, confirmed done) and two devices.
	shell("erin", "/access request prod-db --for 4h --reason oncall\n/access request vpn --for 4h --reason oncall\n", "#2")
	shell("bob", "/access approve 1\n/access approve 2\n/access done 1\n/access done 2\n", "#2")
	shell("alice", "/device assign laptop-42 @erin\n/device assign phone-7 @erin\n", "phone-7")

	st, err := storage.Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "ops.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var active int64
	st.DB.Model(&storage.AccessRequest{}).Where("requester = ? AND state = ?", "erin", storage.AccessActive).Count(&active)
	if held, err := storage.HeldBy(context.Background(), st.DB, "erin"); err != nil || len(held) != 2 || active != 2 {
		t.Fatalf("before: erin holds %d devices (err %v) and %d active grants; want 2 and 2", len(held), err, active)
	}

	// One admin asks, another confirms: the revokes are now under way.
	shell("alice", "/offboard erin --template engineer\n", "Offboarding #1")
	shell("carol", "/offboard confirm 1\n", "Offboarding #1")

	calls := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	count := func(name, line string) int {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.Count(string(b), line+"\n")
	}
	p := binary.Serve(t, dir, cfg)
	harness.WaitUntil(t, 40*time.Second, "the revoke of #1 and the remove command to start", func() bool {
		return count("revokes.log", "revoke 1 erin") == 1 && count("removes.log", "remove erin") == 1
	})
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done

	tickets := func() (n int64) {
		st.DB.Model(&storage.Ticket{}).Count(&n)
		return
	}
	if n := tickets(); n != 2 {
		t.Fatalf("at the kill: %d tickets, want 2 (one return ticket per device)", n)
	}
	if c, items, err := storage.GetChecklist(context.Background(), st.DB, 1); err != nil || c.State != storage.ChecklistOpen || len(items) != 6 {
		t.Fatalf("at the kill: checklist %s with %d items (err %v), want open with 6", c.State, len(items), err)
	}
	_ = binary.Serve(t, dir, cfg)
	done := func() bool {
		c, _, err := storage.GetChecklist(context.Background(), st.DB, 1)
		return err == nil && c.State == storage.ChecklistDone
	}
	// #1's lease (10 s timeout + 1 min) runs out and the access worker (every
	// 10 s) revokes it again; the remove command's (30 s + 10 s) runs out and
	// an offboarding pass (every 30 s) runs it again and closes the checklist.
	harness.WaitUntil(t, 160*time.Second, "the offboarding to complete after the restart", done)

	if inactive, err := storage.IsInactive(context.Background(), st.DB, "erin"); err != nil || !inactive {
		t.Errorf("erin inactive = %v (err %v), want true", inactive, err)
	}
	var rs []storage.AccessRequest
	if err := st.DB.Order("id").Find(&rs).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		n := count("revokes.log", fmt.Sprintf("revoke %d erin", r.ID))
		if r.State != storage.AccessRevoked || r.ClaimedBy != "" || n < 1 || n > 2 {
			t.Errorf("access #%d: state %s, claimed %q, revoke ran %d times; want revoked, unclaimed, 1 or 2", r.ID, r.State, r.ClaimedBy, n)
		}
	}
	if len(rs) != 2 || count("revokes.log", "revoke 1 erin") != 2 {
		t.Errorf("%d access requests, revoke of #1 ran %d times; want 2 and 2 (killed once, then run again); calls:\n%s",
			len(rs), count("revokes.log", "revoke 1 erin"), calls("revokes.log"))
	}
	if n := count("removes.log", "remove erin"); n != 2 {
		steps, _ := storage.ListAudit(context.Background(), st.DB, storage.AuditFilter{ActionPrefix: "offboard."})
		var trail strings.Builder
		for _, e := range steps {
			fmt.Fprintf(&trail, "%s %s %s\n", e.At.Format(time.RFC3339Nano), e.Action, e.Detail)
		}
		t.Errorf("the remove command ran %d times, want 2 (killed once, then run again); the offboarding's steps:\n%s", n, trail.String())
	}
	var ts []storage.Ticket
	if err := st.DB.Order("id").Find(&ts).Error; err != nil {
		t.Fatal(err)
	}
	returns := map[string]int{}
	for _, tk := range ts {
		for _, d := range []string{"laptop-42", "phone-7"} {
			if strings.HasPrefix(tk.Summary, "Collect "+d+" ") {
				returns[d]++
			}
		}
	}
	if len(ts) != 2 || returns["laptop-42"] != 1 || returns["phone-7"] != 1 {
		t.Errorf("%d tickets, return tickets per device %v; want exactly one for each of laptop-42 and phone-7", len(ts), returns)
	}
	_, items, err := storage.GetChecklist(context.Background(), st.DB, 1)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
		if it.State != storage.ItemDone || it.LeaseUntil != nil {
			t.Errorf("item %s: state %s, lease %v; want done and no lease", it.Step, it.State, it.LeaseUntil)
		}
	}
	if kinds["deactivate"] != 1 || kinds["revoke"] != 2 || kinds["return"] != 2 || kinds["remove"] != 1 || len(items) != 6 {
		t.Errorf("checklist items by kind %v, want deactivate 1, revoke 2, return 2, remove 1", kinds)
	}
}
