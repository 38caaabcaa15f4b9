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
