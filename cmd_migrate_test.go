package main

import (
	"strings"
	"testing"

	"opsbot/harness"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, stderr, code := binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || !strings.Contains(out, "applied 0001_core") {
		t.Fatalf("first migrate: exit %d, %q %q", code, out, stderr)
	}
	out, _, code = binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "database is up to date" {
		t.Fatalf("second migrate: exit %d, %q", code, out)
	}
}
