package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, stderr, code := binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || !strings.Contains(out, "applied 0100_baseline") {
		t.Fatalf("first migrate: exit %d, %q %q", code, out, stderr)
	}
	out, _, code = binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "database is up to date" {
		t.Fatalf("second migrate: exit %d, %q", code, out)
	}
}

// TestMigrateAdoptsLegacyDatabase: `opsbot migrate` on a SQLite file made
// before migrations were frozen adopts it; on one whose schema drifted it
// exits non-zero and lists the differences.
func TestMigrateAdoptsLegacyDatabase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fixture, want string
		code          int
	}{
		{"legacy0090", "applied 0100_baseline (adopted", 0},
		{"drifted0090", "missing: column outbox_messages.uncertain", 1},
	} {
		dir := harness.ExampleConfig(t)
		dump, err := os.ReadFile(filepath.Join("storage", "testdata", c.fixture, "sqlite.sql"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.Connect(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "opsbot.db")})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Exec(string(dump)).Error; err != nil {
			t.Fatal(err)
		}
		st.Close()
		out, stderr, code := binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
		if code != c.code || !strings.Contains(out+stderr, c.want) {
			t.Errorf("%s: exit %d, want %d and %q\nstdout: %s\nstderr: %s", c.fixture, code, c.code, c.want, out, stderr)
		}
	}
}
