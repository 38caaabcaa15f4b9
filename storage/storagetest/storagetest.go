// Package storagetest gives tests a fresh, migrated store on every backend:
// SQLite in a temporary directory always, and PostgreSQL when
// OPSBOT_TEST_POSTGRES holds a DSN. Each PostgreSQL store lives in its own
// schema, so tests run in parallel without seeing each other's rows.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"opsbot/config"
	"opsbot/storage"
)

// Backend is one database a test runs against.
type Backend struct {
	Name   string
	Config config.DatabaseConfig
}

// Backends returns SQLite and, when configured, PostgreSQL. Under CI=true a
// missing OPSBOT_TEST_POSTGRES fails the test instead of skipping it.
func Backends(t testing.TB) []Backend {
	t.Helper()
	out := []Backend{{Name: "sqlite", Config: SQLite(t)}}
	if cfg, ok := Postgres(t); ok {
		out = append(out, Backend{Name: "postgres", Config: cfg})
	}
	return out
}

// SQLite returns the config of a new SQLite file in a temporary directory.
func SQLite(t testing.TB) config.DatabaseConfig {
	t.Helper()
	return config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "opsbot.db")}
}

// Postgres returns the config of a new, empty schema on the test PostgreSQL,
// dropped when the test ends. ok is false when PostgreSQL is not configured.
func Postgres(t testing.TB) (config.DatabaseConfig, bool) {
	t.Helper()
	dsn := os.Getenv("OPSBOT_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but OPSBOT_TEST_POSTGRES is not set: storage tests must run on PostgreSQL in CI")
		}
		return config.DatabaseConfig{}, false
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to OPSBOT_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return config.DatabaseConfig{Driver: "postgres", DSN: WithSearchPath(dsn, schema)}, true
}

// WithSearchPath adds search_path=schema to a key=value or URL DSN.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

// Open returns a migrated store on the backend, closed when the test ends.
func Open(t testing.TB, b Backend) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), b.Config)
	if err != nil {
		t.Fatalf("open %s store: %v", b.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
