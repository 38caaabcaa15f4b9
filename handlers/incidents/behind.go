package incidents

import (
	"context"
	"errors"
	"sync"
	"time"

	"gorm.io/gorm"

	"opsbot/checks"
	"opsbot/storage"
)

// Results are written behind while Run runs. A run whose outcome equals
// the previous one and that changes nothing but counters (still up, still
// down, no reminder or escalation due) is buffered and written with the
// others in one transaction every flushEvery, or sooner when flushAt runs
// are waiting. Any other run (a changed outcome, an incident to open,
// resolve, remind or escalate, a manual /check run) is written at once, in
// one transaction with the buffered runs of its check, before anything is
// posted. A crash therefore loses at most the last flushEvery of
// steady-state history and never a transition.
//
// The decision to buffer is taken on a cached copy of each check's state;
// the write itself always steps the state machine on the stored state, so
// a stale cache (a check silenced from another replica, say) can delay a
// transition by at most flushEvery, never lose or double it.
const (
	flushEvery = time.Second
	flushAt    = 1000
	// flushTimeout bounds one flush; maxBehind bounds what is kept while
	// the database cannot be written.
	flushTimeout = 30 * time.Second
	maxBehind    = 100_000
)

// pendingRun is a buffered result and the time it was recorded at.
type pendingRun struct {
	run checks.Run
	at  time.Time
}

// behind is the write-behind buffer and the cache it decides with.
type behind struct {
	mu      sync.Mutex
	on      bool
	pending []pendingRun
	cache   map[string]steady // by the configured check name
	full    chan struct{}
	// writeMu orders writes of results, so runs of one check are written
	// in the order they ran.
	writeMu sync.Mutex
}

func newBehind() *behind {
	return &behind{cache: map[string]steady{}, full: make(chan struct{}, 1)}
}

// steady is what the write-behind keeps of a check's stored state: what
// decides whether its next run changes anything. (The whole
// storage.CheckState, its times behind pointers and its strings read from
// the database, was three times the size: 2.9 MB of live heap at ten
// thousand checks, doubled in resident memory by the collector.)
type steady struct {
	failures, successes         int
	failingSince, silencedUntil int64 // Unix nanoseconds, 0 for none
	incidentID                  int64
	lastOK                      bool
}

func steadyOf(st storage.CheckState) steady {
	s := steady{failures: st.Failures, successes: st.Successes, incidentID: st.IncidentID, lastOK: st.LastOK}
	if st.FailingSince != nil {
		s.failingSince = st.FailingSince.UnixNano()
	}
	if st.SilencedUntil != nil {
		s.silencedUntil = st.SilencedUntil.UnixNano()
	}
	return s
}

// state is s as the state machine reads a stored state.
func (s steady) state() storage.CheckState {
	st := storage.CheckState{Failures: s.failures, Successes: s.successes, IncidentID: s.incidentID, LastOK: s.lastOK}
	if s.failingSince != 0 {
		t := time.Unix(0, s.failingSince).UTC()
		st.FailingSince = &t
	}
	if s.silencedUntil != 0 {
		t := time.Unix(0, s.silencedUntil).UTC()
		st.SilencedUntil = &t
	}
	return st
}

// buffer keeps run for the next flush and reports true when it is steady
// state by the cached state; false means it must be written now.
func (h *Handler) buffer(run checks.Run, now time.Time) bool {
	b := h.behind
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.on || run.Manual {
		return false
	}
	c := h.checks[run.Job.Name]
	if c == nil {
		return false
	}
	s, ok := b.cache[c.Name]
	if !ok || s.lastOK != run.Result.OK {
		return false
	}
	if s.incidentID != 0 {
		// An open incident may be due a reminder or an escalation, which
		// needs its stored timeline: write such runs at once.
		return false
	}
	ns, acts := checks.Step(h.machineState(c.Name, s.state(), nil, nil, now), &run.Result, now, *c.policy)
	if len(acts) > 0 {
		return false
	}
	s.failures, s.successes = ns.Failures, ns.Successes
	b.cache[c.Name] = s
	b.pending = append(b.pending, pendingRun{run: run, at: now})
	if len(b.pending) >= flushAt {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
	return true
}

// takePending removes and returns the buffered runs, all of them or only
// those of one check.
func (b *behind) takePending(check string) []pendingRun {
	b.mu.Lock()
	defer b.mu.Unlock()
	if check == "" {
		out := b.pending
		b.pending = nil
		return out
	}
	var out, keep []pendingRun
	for _, p := range b.pending {
		if p.run.Job.Name == check {
			out = append(out, p)
		} else {
			keep = append(keep, p)
		}
	}
	b.pending = keep
	return out
}

// remember caches the stored state of checks just written, by their
// configured names. A state with no run yet is not cached.
func (b *behind) remember(states map[string]steady) {
	b.mu.Lock()
	defer b.mu.Unlock()
	buffered := map[string]bool{}
	for _, p := range b.pending {
		buffered[p.run.Job.Name] = true
	}
	for k, st := range states {
		if !buffered[k] { // the cache is ahead of the store for these
			b.cache[k] = st
		}
	}
}

// forget drops a check's cached state (its stored state changed elsewhere
// in this process), so its next run is written at once and re-read.
func (b *behind) forget(check string) {
	b.mu.Lock()
	delete(b.cache, check)
	b.mu.Unlock()
}

// write records runs in one transaction: per check, its state is locked
// once and each run is added and stepped in order. Runs whose slot is
// recorded already are dropped. The states written are cached.
func (h *Handler) write(ctx context.Context, runs []pendingRun) error {
	if len(runs) == 0 {
		return nil
	}
	h.behind.writeMu.Lock()
	defer h.behind.writeMu.Unlock()
	written := map[string]steady{}
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		// The states of the runs' checks are locked in one statement,
		// every result is inserted in a few, each stored run steps its
		// check's state machine in the order the runs happened, and the
		// states are saved in a few statements more.
		known := make([]pendingRun, 0, len(runs)) // runs of checks still configured
		results := make([]storage.CheckResult, 0, len(runs))
		names := make([]string, 0, len(runs))
		for _, p := range runs {
			c, ok := h.checks[p.run.Job.Name]
			if !ok {
				continue
			}
			known = append(known, p)
			names = append(names, c.Name)
			res := p.run.Result
			results = append(results, storage.CheckResult{Check: c.Name, At: p.at, OK: res.OK, LatencyMS: res.Latency.Milliseconds(),
				Error: res.Error, Manual: p.run.Manual, Slot: slotOf(p.run)})
		}
		states, err := storage.LockCheckStates(tx, names)
		if err != nil {
			return err
		}
		stored, err := storage.AddCheckResults(tx, results)
		if err != nil {
			return err
		}
		for i, p := range known {
			c, r := h.checks[p.run.Job.Name], results[i]
			key := storage.SlotKey(r.Check, *r.Slot)
			if !stored[key] {
				h.d.Log.Info("check result dropped: its slot is recorded already", "check", c.Name, "slot", *r.Slot)
				continue
			}
			delete(stored, key) // the same slot twice in one batch counts once

			res := p.run.Result
			if err := h.step(tx, c, states[c.Name], &res, p.at); err != nil {
				return err
			}
		}
		// Every state locked is saved, stepped or not (all of a check's
		// runs may have been recorded already): one statement either way.
		save := make([]*storage.CheckState, 0, len(states))
		clear(written) // the transaction may run again
		for _, st := range states {
			save = append(save, st)
			// Keyed by the configured name, not the copy read back.
			if c, ok := h.checks[st.Check]; ok && st.LastAt != nil {
				written[c.Name] = steadyOf(*st)
			}
		}
		return storage.SaveCheckStates(tx, save)
	})
	if err != nil {
		if errors.Is(err, storage.ErrFenced) {
			h.d.Log.Warn("check results dropped: leadership moved to another replica", "results", len(runs))
			return nil
		}
		for _, p := range runs {
			h.behind.forget(p.run.Job.Name)
		}
		return err
	}
	h.behind.remember(written)
	return nil
}

// flush writes every buffered run. The write is not cut short by ctx
// ending (shutdown, lost leadership: its term still fences it), and runs
// that could not be written (the database unreachable) go back to the
// buffer for the next flush, up to maxBehind of them.
func (h *Handler) flush(ctx context.Context) {
	runs := h.behind.takePending("")
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := h.write(wctx, runs); err != nil {
		h.d.Log.Error("record buffered check results; keeping them for the next try", "results", len(runs), "err", err)
		h.behind.putBack(runs)
	}
}

// putBack returns runs that could not be written to the front of the
// buffer, dropping the oldest beyond maxBehind.
func (b *behind) putBack(runs []pendingRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(runs, b.pending...)
	if over := len(b.pending) - maxBehind; over > 0 {
		b.pending = b.pending[over:]
	}
}

// writeBehind turns buffering on and flushes every flushEvery (or when the
// buffer is full) until ctx ends, then flushes what is left and turns
// buffering off.
func (h *Handler) writeBehind(ctx context.Context) {
	b := h.behind
	b.mu.Lock()
	b.on = true
	b.mu.Unlock()
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.on = false
			b.mu.Unlock()
			// Still fenced by the term ctx carries: after a lost
			// leadership these are refused and dropped.
			h.flush(ctx)
			return
		case <-t.C:
		case <-b.full:
		}
		h.flush(ctx)
	}
}

// WriteBehind buffers steady-state results and writes them every second
// until ctx ends, then writes what is left. Run does this itself; a caller
// that drives the scheduler on its own (the checks benchmark) runs it
// beside.
func (h *Handler) WriteBehind(ctx context.Context) { h.writeBehind(ctx) }
