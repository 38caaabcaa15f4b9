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

// TestOnboardingSurvivesSIGKILL kills `opsbot serve` while an onboarding's
// account command runs, after its access request was made, and starts it
// again: the onboarding completes (the command runs a second time once its
// lease runs out) and nothing is doubled — one access request, one ticket.
func TestOnboardingSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The first run blocks until killed; later runs succeed.
	script := filepath.Join(dir, "mkuser.sh")
	harness.WriteFile(t, script, `#!/bin/sh
echo "run $1" >> "$2/runs.log"
if [ ! -e "$2/once" ]; then touch "$2/once"; exec sleep 120; fi
`)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
database: {driver: sqlite, dsn: ops.db}
status_page: {enabled: false}
people:
  - {name: alice, roles: [admin]}
  - {name: bob, roles: [approver]}
  - {name: erin, email: erin@example.com}
tickets:
  queues: [{name: it}]
  default_queue: it
access:
  resources:
    - {name: prod-db, roles: [read], approvers: [bob], max_duration: 8h, grant: {manual: true}}
provisioning:
  templates:
    engineer:
      access: [{resource: prod-db, role: read, duration: 8h}]
      commands: [{name: account, create: [/bin/sh, %q, "{{.Person}}", %q], timeout: 3s}]
      tickets: [{summary: "Desk for {{.Person}}"}]
`, script, dir)
	path := harness.WriteConfig(t, dir, cfg)
	out, errOut, code := binary.Run(t, dir, "/onboard erin --template engineer\n", "shell", "--config", path, "--user", "alice")
	if code != 0 || !strings.Contains(out, "Onboarding #1") {
		t.Fatalf("onboard: exit %d\n%s\n%s", code, out, errOut)
	}
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "runs.log"))
		return strings.Count(string(b), "run erin")
	}
	p := binary.Serve(t, dir, cfg)
	harness.WaitUntil(t, 40*time.Second, "the account command to start", func() bool { return runs() == 1 })
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done

	st, err := storage.Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "ops.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts := func() (requests, tickets int64) {
		st.DB.Model(&storage.AccessRequest{}).Count(&requests)
		st.DB.Model(&storage.Ticket{}).Count(&tickets)
		return
	}
	if rq, tk := counts(); rq != 1 || tk != 1 {
		t.Fatalf("at the kill: %d access requests, %d tickets; want 1 and 1", rq, tk)
	}
	_ = binary.Serve(t, dir, cfg)
	done := func() bool {
		c, _, err := storage.GetChecklist(context.Background(), st.DB, 1)
		return err == nil && c.State == storage.ChecklistDone
	}
	// The lease (3 s timeout + 10 s) runs out, and the next pass (every
	// 30 s) runs the command again.
	harness.WaitUntil(t, 90*time.Second, "the onboarding to complete after the restart", done)
	if rq, tk := counts(); rq != 1 || tk != 1 || runs() != 2 {
		t.Errorf("after the restart: %d access requests, %d tickets, %d command runs; want 1, 1 and 2", rq, tk, runs())
	}
}
