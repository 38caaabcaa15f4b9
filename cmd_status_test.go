package main

import (
	"strings"
	"testing"
)

func TestSecondSQLiteServerRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\n"
	first := binary.Serve(t, dir, cfg)
	out, stderr, code := binary.Run(t, dir, "", "serve", "--config", "opsbot.yaml")
	if code != 1 || !strings.Contains(stderr, "SQLite allows one replica") {
		t.Fatalf("second serve: exit %d\n%s%s", code, out, stderr)
	}
	if code, body := first.Get(t, "/readyz"); code != 200 || !strings.Contains(body, "leader: yes") {
		t.Errorf("/readyz of the only replica: %d %q", code, body)
	}
	out, _, code = binary.Run(t, dir, "", "status", "--config", "opsbot.yaml")
	if code != 0 || !strings.Contains(out, "REPLICA") || !strings.Contains(out, " yes ") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}
