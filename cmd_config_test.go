package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/harness/fakeslack"
	"opsbot/storage"
)

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "config OK" {
		t.Fatalf("example config: exit %d, %q", code, out)
	}
	bad := `listen: nowhere
database: {driver: oracle}
people:
  - {name: alice, slack_id: U1}
  - {name: alice, slack_id: U2}
checks:
  - {name: web, kind: http, url: "http://127.0.0.1/", intervall: 30s, channel: ops}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = binary.Run(t, dir, "", "config", "check", "--config", "bad.yaml")
	if code != 1 {
		t.Fatalf("bad config: exit %d, %q", code, out)
	}
	for _, want := range []string{"listen:", "database.driver:", "people[1].name:", "checks[0].intervall:"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}

// TestConfigCheckRotation: config check lists rotation mistakes with their
// paths, all at once.
func TestConfigCheckRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	harness.WriteFile(t, filepath.Join(dir, "teams.yaml"), `database: {driver: sqlite, dsn: ops.db}
people:
  - {name: alice, teams: [it]}
  - {name: bob, teams: [it]}
  - {name: carol, teams: [sales]}
channels:
  ops: {slack: C03OPS}
teams:
  it:
    channel: ops
    rotation:
      timezone: Europe/Berln
      layers:
        - {name: primary, members: [alice, bbo, carol]}
        - {name: secondary, members: []}
    escalation:
      - {after: 15m, to: ["oncall:it:tertiary"]}
checks:
  - {name: web, kind: tcp, address: "web:80", every: 30s, team: itt}
`)
	out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "teams.yaml")
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		`teams.it.rotation.timezone: unknown time zone "Europe/Berln"`,
		`teams.it.rotation.layers[0].members[1]: unknown person "bbo" (did you mean "bob"?)`,
		`teams.it.rotation.layers[0].members[2]: carol is not in team it (add it to people[2].teams)`,
		`teams.it.rotation.layers[1].members: empty layer`,
		`teams.it.escalation[0].to[0]: team it has no layer "tertiary"`,
		`checks[0].team: unknown team "itt" (did you mean "it"?)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}

// TestConfigCheckOnline: config check --online names each Slack channel
// opsbot cannot look its messages up in, and what to do about it.
func TestConfigCheckOnline(t *testing.T) {
	t.Parallel()
	const token = "xoxb-online-check"
	fake := fakeslack.New(t, token)
	fake.AddMember("C03OPS")
	dir := t.TempDir()
	cfg := "database: {driver: sqlite, dsn: ops.db}\n" +
		"slack: {enabled: true, mode: http, bot_token: " + token + ", signing_secret: s3cret, api_url: \"" + fake.URL() + "\"}\n" +
		"channels:\n  helpdesk: {slack: C01HELP}\n  ops: {slack: C03OPS}\n"
	harness.WriteFile(t, filepath.Join(dir, "opsbot.yaml"), cfg)
	out, errOut, code := binary.Run(t, dir, "", "config", "check", "--config", "opsbot.yaml", "--online")
	if code != 1 || !strings.Contains(out, "channels.helpdesk: slack C01HELP: ") || !strings.Contains(out, "invite opsbot to #helpdesk") ||
		strings.Contains(out, "channels.ops") {
		t.Fatalf("exit %d; want helpdesk named, ops not\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	fake.AddMember("C01HELP")
	if out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "opsbot.yaml", "--online"); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("with the bot in every channel: exit %d\n%s", code, out)
	}
	if out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "opsbot.yaml"); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("offline: exit %d\n%s", code, out)
	}
}

// TestConfigCheckInactive: config check warns about an offboarded person
// who still has roles in the config, says so when it cannot read the
// database, and creates no database file that is not there.
func TestConfigCheckInactive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	harness.WriteFile(t, filepath.Join(dir, "c.yaml"), `database: {driver: sqlite, dsn: ops.db}
people:
  - {name: alice, roles: [admin]}
  - {name: erin, roles: [helpdesk]}
  - {name: frank}
`)
	out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "c.yaml")
	if code != 0 || strings.TrimSpace(out) != "config OK" {
		t.Fatalf("no database: exit %d, %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ops.db")); err == nil {
		t.Fatal("config check created the database")
	}
	// An empty file is a SQLite database without tables: not migrated.
	if err := os.WriteFile(filepath.Join(dir, "ops.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = binary.Run(t, dir, "", "config", "check", "--config", "c.yaml")
	if code != 0 || !strings.Contains(out, "note: skipped the check for offboarded people") || !strings.Contains(out, "config OK") {
		t.Fatalf("unreadable database: exit %d, %q", code, out)
	}
	os.Remove(filepath.Join(dir, "ops.db"))
	ctx := context.Background()
	s, err := storage.Open(ctx, config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "ops.db")})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"erin", "frank"} {
		if err := storage.SetInactive(s.DB, n, true, "alice", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	out, _, code = binary.Run(t, dir, "", "config", "check", "--config", "c.yaml")
	want := "warning: people[1].roles: erin was offboarded (inactive in the database), so the roles helpdesk do not count; remove them"
	if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "frank") || strings.Contains(out, "alice") {
		t.Fatalf("inactive with roles: exit %d, %q", code, out)
	}
}
