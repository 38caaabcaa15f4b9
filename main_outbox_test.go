package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/storage"
)

// seedOutbox writes notifications straight into the SQLite file, as a
// handler's transaction would.
func seedOutbox(t *testing.T, dsn string, msgs ...storage.OutboxMessage) []int64 {
	t.Helper()
	store, err := storage.Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := storage.EnqueueOutbox(store.DB, msgs...); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range msgs {
		got, err := store.OutboxByKey(context.Background(), m.Key)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
	}
	return ids
}

func logMessage(key, state string) storage.OutboxMessage {
	now := time.Now().UTC()
	return storage.OutboxMessage{Key: key + "@log", Lane: "log:#helpdesk", Platform: "log", State: state,
		Target: `{"platform":"log","name":"#helpdesk"}`, Body: `{"title":"Ticket #1","text":"VPN drops"}`,
		NextAttemptAt: now, CreatedAt: now, LastError: "boom\nsecond line"}
}

func TestOutboxCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "opsbot.yaml")
	writeFile(t, cfg, "database: {driver: sqlite, dsn: ops.db}\n")
	run := func(args ...string) (string, string, int) {
		return opsbot(t, dir, "", append([]string{"outbox"}, append(args, "--config", cfg)...)...)
	}
	if out, _, code := run("list"); code != 0 || !strings.Contains(out, "no notifications") {
		t.Fatalf("empty list: %d %q", code, out)
	}
	held := logMessage("t:4", storage.OutboxHeld)
	held.Uncertain = true
	held.LastError = "held: the last send may have reached slack but it cannot be checked: slack conversations.history @alice: missing_scope; " +
		"to fix: add the im:history scope to the Slack app (docs/slack-app-manifest.yaml has it) and reinstall the app; then run opsbot outbox retry 4 to post it"
	ids := seedOutbox(t, filepath.Join(dir, "ops.db"), logMessage("t:1", storage.OutboxFailed), logMessage("t:2", storage.OutboxPending),
		logMessage("t:3", storage.OutboxSent), held)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"list"}, 0, "t:2@log"},
		{[]string{"list", "--state", "failed"}, 0, "boom second line"},
		{[]string{"list", "--state", "nope"}, 2, `unknown state "nope"`},
		{[]string{"list", "--limit", "0"}, 2, "out of range"},
		{[]string{"retry"}, 2, "which notification?"},
		{[]string{"retry", "abc"}, 2, `"abc" is not a notification ID`},
		{[]string{"retry", "-1"}, 2, `"-1" is not a notification ID`},
		{[]string{"drop", "--config", "opsbot.yaml", "-7"}, 2, `"-7" is not a notification ID`},
		{[]string{"retry", fmt.Sprint(ids[2])}, 1, "was already sent; there is nothing to retry"},
		{[]string{"drop", fmt.Sprint(ids[2])}, 1, "was already sent; there is nothing to drop"},
		{[]string{"retry", "1", "2"}, 2, "one ID at a time"},
		{[]string{"retry", "99"}, 1, "no notification 99"},
		{[]string{"retry", "--failed", "1"}, 2, "not both"},
		{[]string{"retry", fmt.Sprint(ids[0])}, 0, "pending again"},
		{[]string{"list", "--state", "failed"}, 0, "no notifications"},
		{[]string{"drop", "#" + fmt.Sprint(ids[1])}, 0, "dropped"},
		{[]string{"drop", fmt.Sprint(ids[1])}, 1, "already dropped"},
		{[]string{"retry", "--failed"}, 0, "0 failed notifications are pending again"},
		{[]string{"list", "--state", "held"}, 0, "held " + fmt.Sprint(ids[3]) + " (t:4@log): held: the last send may have reached slack but it cannot be checked: slack conversations.history @alice: missing_scope; to fix: add the im:history scope"},
		{[]string{"retry", fmt.Sprint(ids[3])}, 0, "pending again"},
		{[]string{"list", "--state", "held"}, 0, "no notifications"},
		{[]string{"frob"}, 2, "unknown subcommand"},
	}
	for _, tt := range tests {
		out, errOut, code := run(tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("outbox %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}
	for _, sub := range []string{"list", "retry", "drop"} {
		_, stderr, code := opsbot(t, dir, "", "outbox", sub, "--help")
		if code != 0 || !strings.Contains(stderr, "Usage: opsbot outbox "+sub) {
			t.Errorf("outbox %s --help: exit %d, %q", sub, code, stderr)
		}
	}
	if out, _, code := opsbot(t, dir, "", "outbox", "--help"); code != 0 || !strings.Contains(out, "opsbot outbox list") {
		t.Errorf("outbox --help: exit %d, %q", code, out)
	}
}

// TestServeLogsNotifications: with no platform configured, serve delivers
// its own notifications as log lines (a failing check opens an incident),
// and leaves another process's log sink messages alone.
func TestServeLogsNotifications(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A closed port: the check fails at once and opens an incident.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	writeFile(t, filepath.Join(dir, "seed.yaml"), "database: {driver: sqlite, dsn: ops.db}\n")
	if out, errOut, code := opsbot(t, dir, "", "migrate", "--config", "seed.yaml"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	foreign := logMessage("t:9", storage.OutboxPending)
	foreign.Lane = "log/another-process:#helpdesk"
	seedOutbox(t, filepath.Join(dir, "ops.db"), foreign)
	s := serve(t, dir, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\noutbox: {poll: 100ms}\n"+
		"channels: {ops: {slack: C0OPS}}\nchecks:\n  - {name: db-port, kind: tcp, address: \""+closed+"\", every: 1s, timeout: 1s, channel: ops, failures: 1}\n")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.logs.String(), `msg=notification to=#ops key=incident:`) {
		if time.Now().After(deadline) {
			t.Fatalf("no notification log line:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The log line comes from inside the send; the count follows its commit.
	for {
		_, body := s.get(t, "/metrics")
		if strings.Contains(body, `opsbot_outbox_sent_total{platform="log"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack the sent notification:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.logs.String(), "t:9@log") {
		t.Errorf("serve delivered another process's log sink message:\n%s", s.logs)
	}
	out, _, _ := opsbot(t, dir, "", "outbox", "list", "--config", "opsbot.yaml", "--state", "pending")
	if !strings.Contains(out, "t:9@log") {
		t.Errorf("another process's log sink message is no longer pending:\n%s", out)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestShellPrintsNotifications: with no platform enabled, the shell prints
// the notifications its own commands queued, at once, and never those of
// another process.
func TestShellPrintsNotifications(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	out, stderr, code := opsbot(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, stderr)
	}
	cfg, err := config.Load(filepath.Join(dir, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dsn := cfg.Database.DSN
	if !filepath.IsAbs(dsn) {
		dsn = filepath.Join(dir, dsn)
	}
	foreign := logMessage("t:5", storage.OutboxPending)
	foreign.Lane = "log/another-process:#helpdesk"
	seedOutbox(t, dsn, foreign)
	out, stderr, code = opsbot(t, dir, "/ticket new \"VPN drops\"\n/help\n", "shell", "--config", "config.example.yaml", "--user", "alice")
	card := strings.Index(out, "→ #helpdesk\n    #1 VPN drops")
	if code != 0 || card < 0 || card > strings.Index(out, "opsbot commands") {
		t.Fatalf("want the card before the next command's reply; exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if strings.Contains(out, "Ticket #1\n    VPN drops") || strings.Contains(out, "queued for") {
		t.Errorf("the shell printed another process's message or queued one for a platform:\n%s", out)
	}
	out, _, _ = opsbot(t, dir, "", "outbox", "list", "--config", "config.example.yaml")
	if !regexp.MustCompile(`pending +log #helpdesk +t:5@log`).MatchString(out) {
		t.Errorf("another process's log sink message is no longer pending:\n%s", out)
	}
}
