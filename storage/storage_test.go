package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestStorageContract(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := storagetest.Open(t, b)

			t.Run("migrate is idempotent", func(t *testing.T) {
				applied, err := s.Migrate(ctx)
				if err != nil || len(applied) != 0 {
					t.Fatalf("second migrate applied %v, err %v", applied, err)
				}
				pending, err := s.Pending(ctx)
				if err != nil || len(pending) != 0 {
					t.Fatalf("pending %v, err %v", pending, err)
				}
			})

			t.Run("audit", func(t *testing.T) {
				at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				for i, action := range []string{"ticket.create", "ticket.assign", "access.approve"} {
					err := s.Tx(ctx, func(tx *gorm.DB) error {
						return storage.WriteAudit(tx, storage.AuditEntry{At: at.Add(time.Duration(i) * time.Minute),
							Actor: "alice", Platform: "shell", Action: action, Subject: "ticket:1", Detail: "x"})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				got, err := storage.ListAudit(ctx, s.DB, storage.AuditFilter{ActionPrefix: "ticket."})
				if err != nil || len(got) != 2 || got[0].Action != "ticket.create" || !got[1].At.Equal(at.Add(time.Minute)) {
					t.Fatalf("audit %+v, err %v", got, err)
				}
				got, err = storage.ListAudit(ctx, s.DB, storage.AuditFilter{Limit: 1})
				if err != nil || len(got) != 1 || got[0].Action != "access.approve" {
					t.Fatalf("audit limit %+v, err %v", got, err)
				}
				got, _ = storage.ListAudit(ctx, s.DB, storage.AuditFilter{SubjectPrefix: "ticket:%"})
				if len(got) != 0 {
					t.Fatalf("wildcards in a prefix must match literally, got %d", len(got))
				}
				// Resource names may hold '_' (and '!', the escape character):
				// /access audit my_db must find my_db, and only it.
				for _, subj := range []string{"access:my_db:1", "access:myxdb:2", "access:a!b:3"} {
					err := s.Tx(ctx, func(tx *gorm.DB) error {
						return storage.WriteAudit(tx, storage.AuditEntry{At: at, Actor: "alice", Platform: "shell", Action: "access.request", Subject: subj})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				for prefix, want := range map[string]string{"access:my_db:": "access:my_db:1", "access:a!b:": "access:a!b:3"} {
					got, err = storage.ListAudit(ctx, s.DB, storage.AuditFilter{SubjectPrefix: prefix})
					if err != nil || len(got) != 1 || got[0].Subject != want {
						t.Fatalf("prefix %q: %+v, err %v", prefix, got, err)
					}
				}
			})

			t.Run("a failed transaction writes nothing", func(t *testing.T) {
				boom := errors.New("boom")
				err := s.Tx(ctx, func(tx *gorm.DB) error {
					if err := storage.WriteAudit(tx, storage.AuditEntry{Actor: "bob", Platform: "shell", Action: "half"}); err != nil {
						return err
					}
					return boom
				})
				if !errors.Is(err, boom) {
					t.Fatal(err)
				}
				got, _ := storage.ListAudit(ctx, s.DB, storage.AuditFilter{Actor: "bob"})
				if len(got) != 0 {
					t.Fatalf("half-written record survived: %+v", got)
				}
			})

			t.Run("outbox keys are idempotent", func(t *testing.T) {
				now := time.Now().UTC()
				msg := storage.OutboxMessage{Key: "k1@log", Lane: "log:#x", Platform: "log", Target: "{}", Body: `{"text":"one"}`, NextAttemptAt: now, CreatedAt: now}
				for range 2 {
					if err := s.Tx(ctx, func(tx *gorm.DB) error { return storage.EnqueueOutbox(tx, msg) }); err != nil {
						t.Fatal(err)
					}
				}
				var n int64
				s.DB.Model(&storage.OutboxMessage{}).Where("key = ?", "k1@log").Count(&n)
				if n != 1 {
					t.Fatalf("%d rows for one key", n)
				}
			})

			t.Run("ping", func(t *testing.T) {
				if err := s.Ping(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestOpenRejectsUnknownDriver(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), config.DatabaseConfig{Driver: "mysql", DSN: "x"})
	if err == nil || !strings.Contains(err.Error(), "use sqlite or postgres") {
		t.Fatalf("err = %v", err)
	}
}

func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	var mode string
	var fk, timeout int
	s.DB.Raw("PRAGMA journal_mode").Scan(&mode)
	s.DB.Raw("PRAGMA foreign_keys").Scan(&fk)
	s.DB.Raw("PRAGMA busy_timeout").Scan(&timeout)
	if mode != "wal" || fk != 1 || timeout < 1000 {
		t.Fatalf("journal_mode=%s foreign_keys=%d busy_timeout=%d", mode, fk, timeout)
	}
}

// TestRequestRecordedWithItsFirstWrite: a request's idempotency record is
// written by its first transaction, with its effects; a second attempt's
// transaction writes nothing and says so; an attempt that writes nothing
// records nothing; a failed transaction records nothing either.
func TestRequestRecordedWithItsFirstWrite(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := storagetest.Open(t, b)
			at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
			audit := func(ctx context.Context, action string) error {
				return s.Tx(ctx, func(tx *gorm.DB) error {
					return storage.WriteAudit(tx, storage.AuditEntry{At: at, Actor: "alice", Platform: "slack", Action: action})
				})
			}
			count := func(q string, args ...any) int64 {
				var n int64
				if err := s.DB.Raw(q, args...).Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			for _, kind := range []storage.RequestKind{storage.SlackRequests, storage.DiscordInteractions} {
				table, col := "slack_requests", "key"
				if kind == storage.DiscordInteractions {
					table, col = "discord_interactions", "id"
				}
				key := fmt.Sprintf("req-%d", kind)
				// An attempt that fails writes neither its effect nor its record.
				rctx, r := storage.WithRequest(ctx, kind, key, at)
				boom := errors.New("boom")
				if err := s.Tx(rctx, func(tx *gorm.DB) error { return boom }); !errors.Is(err, boom) || r.Claimed() {
					t.Fatalf("failed tx: %v, claimed %v", err, r.Claimed())
				}
				if n := count("SELECT count(*) FROM "+table+" WHERE "+col+" = ?", key); n != 0 {
					t.Fatalf("a failed attempt left its record")
				}
				// The first write records it, the second of the same attempt does not again.
				if err := audit(rctx, key+".first"); err != nil || !r.Claimed() {
					t.Fatalf("first write: %v, claimed %v", err, r.Claimed())
				}
				if err := audit(rctx, key+".second"); err != nil {
					t.Fatalf("second write of the same attempt: %v", err)
				}
				// A retry's write is refused whole.
				retry, r2 := storage.WithRequest(ctx, kind, key, at)
				if err := audit(retry, key+".retry"); !errors.Is(err, storage.ErrDuplicateRequest) || r2.Claimed() {
					t.Fatalf("retry: %v, claimed %v", err, r2.Claimed())
				}
				if err := s.Claim(ctx, r2); !errors.Is(err, storage.ErrDuplicateRequest) {
					t.Fatalf("claim of a retry: %v", err)
				}
				if n := count("SELECT count(*) FROM audit_entries WHERE action LIKE ?", key+".%"); n != 2 {
					t.Fatalf("%d audit entries, want the first attempt's 2", n)
				}
				if n := count("SELECT count(*) FROM "+table+" WHERE "+col+" = ?", key); n != 1 {
					t.Fatalf("%d records, want 1", n)
				}
			}
			// A request that writes nothing records nothing.
			ro, r := storage.WithRequest(ctx, storage.SlackRequests, "read-only", at)
			var n int64
			if err := s.DB.WithContext(ro).Raw("SELECT count(*) FROM tickets").Scan(&n).Error; err != nil || r.Claimed() {
				t.Fatalf("read: %v, claimed %v", err, r.Claimed())
			}
			if n := count("SELECT count(*) FROM slack_requests WHERE key = 'read-only'"); n != 0 {
				t.Fatal("a read-only request was recorded")
			}
			// Claim records a request that starts outside the database, once.
			_, slow := storage.WithRequest(ctx, storage.SlackRequests, "slow", at)
			if err := s.Claim(ctx, slow); err != nil || !slow.Claimed() {
				t.Fatalf("claim: %v", err)
			}
			_, again := storage.WithRequest(ctx, storage.SlackRequests, "slow", at)
			if err := s.Claim(ctx, again); !errors.Is(err, storage.ErrDuplicateRequest) {
				t.Fatalf("second claim: %v", err)
			}
		})
	}
}
