package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
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
	harness.WriteFile(t, cfg, "database: {driver: sqlite, dsn: ops.db}\n")
	run := func(args ...string) (string, string, int) {
		return binary.Run(t, dir, "", append([]string{"outbox"}, append(args, "--config", cfg)...)...)
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
		_, stderr, code := binary.Run(t, dir, "", "outbox", sub, "--help")
		if code != 0 || !strings.Contains(stderr, "Usage: opsbot outbox "+sub) {
			t.Errorf("outbox %s --help: exit %d, %q", sub, code, stderr)
		}
	}
	if out, _, code := binary.Run(t, dir, "", "outbox", "--help"); code != 0 || !strings.Contains(out, "opsbot outbox list") {
		t.Errorf("outbox --help: exit %d, %q", code, out)
	}
}
