package storage_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestCheckStatesInBatches: LockCheckStates creates the states that do not
// exist, reads those that do (across statement chunks, names repeated), and
// SaveCheckStates writes every column back, nil times included, as
// SaveCheckState would one by one.
func TestCheckStatesInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 12, 5, 9, 30, 0, 123456000, time.FixedZone("CET", 3600))
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			// Some states exist before, one silenced by hand.
			err := s.Tx(ctx, func(tx *gorm.DB) error {
				for i := 0; i < 1200; i += 3 {
					st := storage.CheckState{Check: fmt.Sprintf("c%04d", i), Failures: 7, LastAt: &at, SilencedBy: "alice", SilencedUntil: &at}
					if err := storage.SaveCheckState(tx, &st); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i := range 1200 {
				names = append(names, fmt.Sprintf("c%04d", i))
			}
			names = append(names, "c0001", "c0003") // repeated
			want := map[string]storage.CheckState{}
			err = s.Tx(ctx, func(tx *gorm.DB) error {
				states, err := storage.LockCheckStates(tx, names)
				if err != nil {
					return err
				}
				if len(states) != 1200 {
					return fmt.Errorf("%d states, want 1200", len(states))
				}
				var save []*storage.CheckState
				for i := range 1200 {
					n := fmt.Sprintf("c%04d", i)
					st := states[n]
					if st == nil || st.Check != n {
						return fmt.Errorf("state of %s = %+v", n, st)
					}
					if existed := i%3 == 0; existed != (st.Failures == 7 && st.SilencedBy == "alice") {
						return fmt.Errorf("state of %s = %+v, existed before %v", n, st, existed)
					}
					if i%2 == 0 {
						continue // read, not saved
					}
					st.Failures, st.Successes, st.LastOK = i, i+1, i%4 == 1
					st.LastError, st.LastLatency, st.IncidentID, st.LastIncidentID = fmt.Sprintf("err %d", i), int64(i), int64(i%5), int64(i)
					if i%5 == 0 {
						st.LastAt, st.FailingSince, st.SilencedUntil, st.SilencedBy = nil, nil, nil, ""
					} else {
						later := at.Add(time.Duration(i) * time.Second)
						st.LastAt, st.FailingSince = &later, &at
					}
					save = append(save, st)
				}
				for _, st := range save {
					want[st.Check] = *st
				}
				return storage.SaveCheckStates(tx, save)
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := storage.CheckStates(ctx, s.DB)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1200 {
				t.Fatalf("%d states stored, want 1200", len(got))
			}
			same := func(a, b *time.Time) bool {
				return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
			}
			for n, w := range want {
				g := got[n]
				if g.Failures != w.Failures || g.Successes != w.Successes || g.LastOK != w.LastOK || g.LastError != w.LastError ||
					g.LastLatency != w.LastLatency || g.IncidentID != w.IncidentID || g.LastIncidentID != w.LastIncidentID ||
					g.SilencedBy != w.SilencedBy || !same(g.LastAt, w.LastAt) || !same(g.FailingSince, w.FailingSince) ||
					!same(g.SilencedUntil, w.SilencedUntil) {
					t.Fatalf("%s stored as %+v, want %+v", n, g, w)
				}
			}
			if g := got["c0000"]; g.Failures != 7 || g.SilencedBy != "alice" || !same(g.SilencedUntil, &at) {
				t.Fatalf("a state read and not saved changed: %+v", g)
			}
		})
	}
}

// TestLockCheckStatesLocks: on PostgreSQL the rows LockCheckStates read
// stay locked until its transaction ends, so another writer of one of
// those checks waits (here: gives up at its lock timeout).
func TestLockCheckStatesLocks(t *testing.T) {
	t.Parallel()
	cfg, ok := storagetest.Postgres(t)
	if !ok {
		return
	}
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.Backend{Name: "postgres", Config: cfg})
	names := []string{"web", "db", "dns"}
	if err := s.Tx(ctx, func(tx *gorm.DB) error { _, err := storage.LockCheckStates(tx, names); return err }); err != nil {
		t.Fatal(err) // the rows exist from here on
	}
	holder := s.DB.WithContext(ctx).Begin()
	if holder.Error != nil {
		t.Fatal(holder.Error)
	}
	defer holder.Rollback()
	if _, err := storage.LockCheckStates(holder, names); err != nil {
		t.Fatal(err)
	}
	other := func() error {
		return s.DB.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL lock_timeout = '200ms'").Error; err != nil {
				return err
			}
			_, err := storage.LockCheckState(tx, "db")
			return err
		})
	}
	if err := other(); err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("a second writer locked a state that LockCheckStates holds: %v", err)
	}
	if err := holder.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	if err := other(); err != nil {
		t.Fatalf("after the holder ended: %v", err)
	}
}

// TestBatchesStoreWhatGormStores: a state and a result written by the
// batches (a JSON array on SQLite, a VALUES list on PostgreSQL) are stored
// exactly as gorm stores them one by one (the same types and the same
// text, so times sort and compare alike), awkward strings included.
func TestBatchesStoreWhatGormStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 12, 5, 9, 30, 1, 120000000, time.FixedZone("CET", 3600))
	slot := "2026-12-05T08:30:00Z"
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			for i, text := range []string{"plain", `quote " and \ backslash`, "new\nline\ttab\x01", "ünïcödé ✓ 🚨", "bad \xff utf-8", ""} {
				one, many := fmt.Sprintf("one-%d", i), fmt.Sprintf("many-%d", i)
				st := func(name string) storage.CheckState {
					return storage.CheckState{Check: name, Failures: 3, Successes: 0, FailingSince: &at, LastAt: &at,
						LastOK: i%2 == 0, LastError: text, LastLatency: 1234, IncidentID: 7, LastIncidentID: 7, SilencedBy: text}
				}
				res := func(name string) storage.CheckResult {
					return storage.CheckResult{Check: name, At: at, OK: i%2 == 1, LatencyMS: 99, Error: text, Slot: &slot}
				}
				err := s.Tx(ctx, func(tx *gorm.DB) error {
					// The batches store invalid UTF-8 as U+FFFD, as a
					// JSON text must be UTF-8 (PostgreSQL refuses it too).
					a, r := st(one), res(one)
					a.LastError, a.SilencedBy, r.Error = strings.ToValidUTF8(text, "\uFFFD"), strings.ToValidUTF8(text, "\uFFFD"), strings.ToValidUTF8(text, "\uFFFD")
					if err := storage.SaveCheckState(tx, &a); err != nil {
						return err
					}
					if err := storage.AddCheckResult(tx, &r); err != nil {
						return err
					}
					m := st(many)
					if _, err := storage.LockCheckStates(tx, []string{many}); err != nil {
						return err
					}
					if err := storage.SaveCheckStates(tx, []*storage.CheckState{&m}); err != nil {
						return err
					}
					_, err := storage.AddCheckResults(tx, []storage.CheckResult{res(many)})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				type row struct{ Types, Text string }
				read := func(q, name string) row {
					var r row
					if err := s.DB.Raw(q, name).Scan(&r).Error; err != nil {
						t.Fatal(err)
					}
					return r
				}
				cols := []string{"failures", "successes", "failing_since", "last_at", "last_ok", "last_error", "last_latency", "incident_id", "last_incident_id", "silenced_until", "silenced_by"}
				rcols := []string{"at", "ok", "latency_ms", "error", "manual", "slot"}
				query := func(table string, cols []string) string {
					typ, txt := "typeof", "CAST(%s AS TEXT)"
					if b.Name == "postgres" {
						typ, txt = "pg_typeof", "%s::text"
					}
					var types, texts []string
					for _, c := range cols {
						types = append(types, fmt.Sprintf("COALESCE(%s(%s)::text, 'null')", typ, c))
						texts = append(texts, fmt.Sprintf("COALESCE("+txt+", 'NULL')", c))
					}
					if b.Name != "postgres" {
						for i := range types {
							types[i] = strings.ReplaceAll(types[i], "::text", "")
						}
					}
					sep := " || '|' || "
					return fmt.Sprintf(`SELECT %s AS types, %s AS text FROM %s WHERE "check" = ?`,
						strings.Join(types, sep), strings.Join(texts, sep), table)
				}
				for _, tc := range []struct {
					table string
					cols  []string
				}{{"check_states", cols}, {"check_results", rcols}} {
					q := query(tc.table, tc.cols)
					if g, w := read(q, many), read(q, one); g != w {
						t.Errorf("%s %q: the batch stored\n%+v\nwhere gorm stores\n%+v", tc.table, text, g, w)
					}
				}
			}
		})
	}
}
