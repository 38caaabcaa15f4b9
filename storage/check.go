package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"opsbot/config"
)

// Check tells whether serve could open the configured database, without
// migrating or creating it: a SQLite file's directory exists and takes new
// files (or the file exists, is writable and is a database); a PostgreSQL
// DSN parses, and with online the server answers. Its errors never show a
// password the DSN holds.
func Check(ctx context.Context, cfg config.DatabaseConfig, online bool) error {
	switch cfg.Driver {
	case "", "sqlite":
		if err := sqliteWritable(cfg.DSN); err != nil {
			return err
		}
		_, path := sqliteDSN(cfg.DSN)
		if _, err := os.Stat(path); err != nil {
			return nil // serve creates it
		}
	case "postgres":
		if _, err := pgconn.ParseConfig(cfg.DSN); err != nil {
			return cfg.RedactErr(fmt.Errorf("database.dsn: %w", err))
		}
		if !online {
			return nil
		}
	}
	s, err := Connect(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Close()
}

// named is " FILE" for a SQLite store, so that its errors say which file.
func (s *Store) named() string {
	if s.path == "" {
		return ""
	}
	return " " + s.path
}

// sqliteWritable says, with the path and the operating system's reason,
// why the SQLite file of dsn could not be opened for writing: its
// directory is missing or not writable, or the file is not writable.
// SQLite itself only says "unable to open database file" then. In-memory
// and read-only DSNs need nothing.
func sqliteWritable(dsn string) error {
	full, path := sqliteDSN(dsn)
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return nil
	}
	if _, query, ok := strings.Cut(full, "?"); ok {
		if q, err := url.ParseQuery(query); err == nil && (q.Get("mode") == "memory" || q.Get("mode") == "ro") {
			return nil
		}
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite file %s: its directory %s does not exist (create it, or point database.dsn elsewhere)", path, dir)
	case err != nil:
		return fmt.Errorf("sqlite file %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("sqlite file %s: %s is not a directory", path, dir)
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("sqlite file %s: it is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("sqlite file %s: cannot write it: %w", path, reason(err))
		}
		return f.Close()
	}
	// SQLite adds its -wal and -shm files beside the database: the
	// directory must take new files.
	f, err := os.CreateTemp(dir, ".opsbot-check-*")
	if err != nil {
		return fmt.Errorf("sqlite file %s: cannot create files in %s: %w", path, dir, reason(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// reason is the operating system's reason alone ("permission denied"),
// without the path a PathError repeats.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
