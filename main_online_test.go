package main

import (
	"path/filepath"
	"strings"
	"testing"

	"opsbot/harness/fakeslack"
)

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
	writeFile(t, filepath.Join(dir, "opsbot.yaml"), cfg)
	out, errOut, code := opsbot(t, dir, "", "config", "check", "--config", "opsbot.yaml", "--online")
	if code != 1 || !strings.Contains(out, "channels.helpdesk: slack C01HELP: ") || !strings.Contains(out, "invite opsbot to #helpdesk") ||
		strings.Contains(out, "channels.ops") {
		t.Fatalf("exit %d; want helpdesk named, ops not\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	fake.AddMember("C01HELP")
	if out, _, code := opsbot(t, dir, "", "config", "check", "--config", "opsbot.yaml", "--online"); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("with the bot in every channel: exit %d\n%s", code, out)
	}
	if out, _, code := opsbot(t, dir, "", "config", "check", "--config", "opsbot.yaml"); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("offline: exit %d\n%s", code, out)
	}
}
