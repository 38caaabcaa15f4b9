package storage

import (
	"context"
	"io/fs"
	"time"
)

// ClaimSlackBatch writes keys as one batch of Slack claims, as the batcher
// does, and says for each whether this write stored it.
func ClaimSlackBatch(ctx context.Context, s *Store, keys []string, at time.Time) ([]bool, error) {
	items := make([]requestClaim, len(keys))
	for i, k := range keys {
		items[i] = requestClaim{key: k, at: at}
	}
	return s.slackClaims.write(ctx, items)
}

// MigrateTo applies the migrations up to and including version.
func MigrateTo(ctx context.Context, s *Store, version int) ([]string, error) {
	return s.migrateTo(ctx, version)
}

// DescribeSchema describes the store's schema, one line per column, index,
// constraint and sequence.
func DescribeSchema(ctx context.Context, s *Store) (map[string]bool, error) {
	return describeSchema(s.DB.WithContext(ctx), s.driver)
}

// DiffSchemas lists the differences between two descriptions.
func DiffSchemas(want, got map[string]bool) []string { return diffSchemas(want, got) }

// MigrationVersions lists the dialect's frozen migrations, in order.
func MigrationVersions(dialect string) ([]int, []string, error) {
	ms, err := loadMigrations(dialect)
	if err != nil {
		return nil, nil, err
	}
	var vs []int
	var names []string
	for _, m := range ms {
		vs = append(vs, m.Version)
		names = append(names, m.Name)
	}
	return vs, names, nil
}

// ReadMigrations reads frozen migrations from dir of fsys.
func ReadMigrations(fsys fs.FS, dir string) error {
	_, err := readMigrations(fsys, dir)
	return err
}

// UserTables lists the tables of the store's schema.
func UserTables(ctx context.Context, s *Store) ([]string, error) {
	return userTables(s.DB.WithContext(ctx), s.driver)
}

// GroupCommits is how many transactions the SQLite group commit opened.
func GroupCommits(s *Store) int64 { return s.group.commits.Load() }

// GroupQueued is how many transactions wait for the next group commit.
func GroupQueued(s *Store) int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}
