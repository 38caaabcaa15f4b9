package incidents

import (
	"context"
	"testing"
	"time"

	"opsbot/checks"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func (r *rig) results() []storage.CheckResult {
	r.t.Helper()
	var out []storage.CheckResult
	if err := r.env.Deps.Store.DB.Order("id").Find(&out).Error; err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) state() storage.CheckState {
	r.t.Helper()
	var st storage.CheckState
	if err := r.env.Deps.Store.DB.Where(`"check" = ?`, "web").Take(&st).Error; err != nil {
		r.t.Fatal(err)
	}
	return st
}

// TestWriteBehind: with write-behind on, a steady-state run (same outcome,
// nothing to do) is buffered until the flush; a changed outcome is written
// at once with the runs buffered before it, in order, and the incident it
// opens is posted in the same transaction; a replayed slot counts once.
func TestWriteBehind(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, b)
			r.h.behind.on = true
			ctx := context.Background()

			r.run() // first run: nothing cached, written at once
			if n := len(r.results()); n != 1 {
				t.Fatalf("first run: %d results stored, want 1", n)
			}
			r.run()
			r.run()
			if n := len(r.results()); n != 1 {
				t.Fatalf("two steady runs: %d results stored, want 1 (buffered)", n)
			}
			r.h.flush(ctx)
			if n := len(r.results()); n != 3 {
				t.Fatalf("after the flush: %d results stored, want 3", n)
			}
			if st := r.state(); st.LastAt == nil || st.LastAt.Sub(r.env.Clock.Now()).Abs() > time.Microsecond || !st.LastOK {
				t.Fatalf("state after flush %+v, want the last run's", st)
			}

			r.run() // steady, buffered
			r.svc.failing.Store(true)
			r.run() // the outcome changes: written at once, after the buffered one
			res := r.results()
			if len(res) != 5 || !res[3].OK || res[4].OK {
				t.Fatalf("a changed outcome must be written at once with what was buffered before it: %+v", res)
			}
			if st := r.state(); st.Failures != 1 || st.LastOK {
				t.Fatalf("state %+v, want 1 failure", st)
			}
			r.wantOutbox()
			r.run() // the second failure opens the incident: at once, posted
			if n := len(r.results()); n != 6 {
				t.Fatalf("the run that opens an incident: %d results stored, want 6", n)
			}
			r.wantOutbox("incident:1:open@log")

			// Runs that cannot be written (the database refuses) are kept
			// for the next flush, not lost.
			r.run() // steady (still failing, incident open: written at once)
			r.h.behind.mu.Lock()
			r.h.behind.cache["web"] = steadyOf(r.state())
			r.h.behind.mu.Unlock()
			stored := len(r.results())
			db := r.env.Deps.Store.DB
			if err := db.Exec("ALTER TABLE check_results RENAME TO check_results_away").Error; err != nil {
				t.Fatal(err)
			}
			r.h.behind.pending = append(r.h.behind.pending, pendingRun{run: checks.Run{Job: r.h.Scheduler().Jobs()["web"],
				Scheduled: r.env.Clock.Now().Add(time.Hour), Result: checks.Result{OK: false, Error: "down"}}, at: r.env.Clock.Now()})
			r.h.flush(ctx)
			if n := len(r.h.behind.pending); n != 1 {
				t.Fatalf("after a failed flush %d runs wait, want the 1 kept", n)
			}
			if err := db.Exec("ALTER TABLE check_results_away RENAME TO check_results").Error; err != nil {
				t.Fatal(err)
			}
			r.h.flush(ctx)
			if n := len(r.results()); n != stored+1 || len(r.h.behind.pending) != 0 {
				t.Fatalf("after the database is back: %d results (want %d), %d waiting", n, stored+1, len(r.h.behind.pending))
			}

			// A result for a slot already recorded (a replay, an overlapping
			// leader) is dropped and not counted.
			slot := r.env.Clock.Now() // the last run's slot: run() moved the clock to it
			before := r.state()
			stored = len(r.results())
			replay := checks.Run{Job: r.h.Scheduler().Jobs()["web"], Scheduled: slot, Started: slot,
				Result: checks.Result{OK: false, Error: "replayed"}}
			if err := r.h.write(ctx, []pendingRun{{run: replay, at: slot}}); err != nil {
				t.Fatal(err)
			}
			if n := len(r.results()); n != stored {
				t.Fatalf("a replayed slot was stored again: %d results, want %d", n, stored)
			}
			if st := r.state(); st.Failures != before.Failures {
				t.Fatalf("a replayed slot was counted: %d failures, then %d", before.Failures, st.Failures)
			}
		})
	}
}
