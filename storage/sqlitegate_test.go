package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
)

// TestSQLiteWritersQueueInProcess: with SQLite's own busy wait turned off
// (busy_timeout 0), concurrent writers of one process would fail with
// "database is locked" at once; the write gate queues them instead, for
// autocommit writes, INSERT … RETURNING and transactions alike, while reads
// go on beside an open write transaction.
func TestSQLiteWritersQueueInProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "gate.db") + "?_pragma=busy_timeout(0)"
	s, err := storage.Open(ctx, config.DatabaseConfig{Driver: "sqlite", DSN: dsn, MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				var err error
				switch i % 3 {
				case 0: // autocommit INSERT … RETURNING (gorm's Create)
					err = s.DB.WithContext(ctx).Create(&storage.AuditEntry{Actor: key, Action: "test.gate", At: time.Now()}).Error
				case 1: // autocommit UPDATE
					err = s.DB.WithContext(ctx).Exec("UPDATE audit_entries SET detail = ? WHERE actor = ?", key, key).Error
				default: // a transaction of several writes and a read
					err = s.Tx(ctx, func(tx *gorm.DB) error {
						if err := tx.Create(&storage.AuditEntry{Actor: key, Action: "test.gate", At: time.Now()}).Error; err != nil {
							return err
						}
						var n int64
						if err := tx.Model(&storage.AuditEntry{}).Where("actor = ?", key).Count(&n).Error; err != nil {
							return err
						}
						return tx.Create(&storage.AuditEntry{Actor: key, Action: "test.gate.second", At: time.Now()}).Error
					})
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int64
	if err := s.DB.Model(&storage.AuditEntry{}).Where("action LIKE ?", "test.gate%").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	// Per writer: 14 single inserts (i%3==0) and 13 transactions of two.
	if want := int64(writers * (14 + 2*13)); n != want {
		t.Errorf("%d rows written, want %d", n, want)
	}

	// A read runs while a write transaction is open; a write waiting behind
	// it gives up when its context ends instead of hanging.
	holding, done := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.Tx(ctx, func(tx *gorm.DB) error {
			close(holding)
			<-done
			return nil
		})
	}()
	<-holding
	if err := s.DB.WithContext(ctx).Model(&storage.AuditEntry{}).Count(&n).Error; err != nil {
		t.Errorf("a read behind an open write transaction: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = s.DB.WithContext(short).Create(&storage.AuditEntry{Actor: "late", Action: "test.gate", At: time.Now()}).Error
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a write behind an open transaction with a 50ms context: %v, want the deadline error", err)
	}
	close(done)
}

// TestSQLiteFailedCommitLeavesNoTransactionOpen: when COMMIT fails SQLite
// may keep the transaction open (here a deferred foreign key is still
// violated; a busy or full disk does the same), while database/sql counts
// it finished and the gate is released. The connection must not be reused
// inside it: a later write on it would join a transaction nobody commits,
// and writers on other connections would wait on its lock.
func TestSQLiteFailedCommitLeavesNoTransactionOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "commit.db")
	s, err := storage.Open(ctx, config.DatabaseConfig{Driver: "sqlite", DSN: dsn, MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		"CREATE TABLE gate_parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE gate_child (parent_id INTEGER REFERENCES gate_parent(id) DEFERRABLE INITIALLY DEFERRED)",
	} {
		if err := s.DB.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	err = s.Tx(ctx, func(tx *gorm.DB) error { return tx.Exec("INSERT INTO gate_child VALUES (42)").Error })
	if err == nil {
		t.Fatal("a commit with a violated deferred foreign key succeeded")
	}

	if err := s.DB.WithContext(ctx).Create(&storage.AuditEntry{Actor: "after", Action: "test.gate", At: time.Now()}).Error; err != nil {
		t.Fatalf("a write after the failed commit: %v", err)
	}
	other, err := storage.Connect(ctx, config.DatabaseConfig{Driver: "sqlite", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var n int64
	if err := other.DB.Model(&storage.AuditEntry{}).Where("actor = ?", "after").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("another connection sees %d rows of the write after the failed commit, want 1 (committed)", n)
	}
	if err := other.DB.WithContext(ctx).Create(&storage.AuditEntry{Actor: "other", Action: "test.gate", At: time.Now()}).Error; err != nil {
		t.Errorf("a write from another connection after the failed commit: %v", err)
	}
}
