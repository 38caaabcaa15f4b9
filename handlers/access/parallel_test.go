package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/handlers/access"
	"opsbot/handlers/access/action"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// hookServer is the idm webhook receiver of the concurrency tests. It
// checks the signature as a real receiver does, holds the requests hold
// picks (by their fields and how many revokes of that request it has seen,
// this one included) until it gets a status on release (or the caller gives
// up), answers 200 to the others, and counts the requests it is handling at
// once.
type hookServer struct {
	url  string
	hold func(f action.Fields, call int) bool
	// arrived gets each request's fields as it arrives.
	arrived chan action.Fields
	// release gives a held request the status to answer with.
	release chan int
	stop    chan struct{}

	mu                    sync.Mutex
	inFlight, maxInFlight int
	calls                 map[int64]int // revoke requests per request id
}

func newHookServer(t *testing.T, hold func(f action.Fields, call int) bool) *hookServer {
	hs := &hookServer{hold: hold, arrived: make(chan action.Fields, 100), release: make(chan int),
		stop: make(chan struct{}), calls: map[int64]int{}}
	srv := httptest.NewServer(hs)
	hs.url = srv.URL
	// Cleanups run last first: held requests are let go, then the server closes.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hs.stop) })
	return hs
}

func (hs *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !action.Verify([]byte("s3cret-hook-key"), r.Header.Get("X-Opsbot-Timestamp"), body, r.Header.Get("X-Opsbot-Signature")) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var f action.Fields
	if err := json.Unmarshal(body, &f); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	hs.mu.Lock()
	hs.inFlight++
	hs.maxInFlight = max(hs.maxInFlight, hs.inFlight)
	if f.Action == "revoke" {
		hs.calls[f.RequestID]++
	}
	call := hs.calls[f.RequestID]
	hs.mu.Unlock()
	defer func() {
		hs.mu.Lock()
		hs.inFlight--
		hs.mu.Unlock()
	}()
	hs.arrived <- f
	if !hs.hold(f, call) {
		return
	}
	select {
	case status := <-hs.release:
		if status != http.StatusOK {
			http.Error(w, "idm is stuck", status)
		}
	case <-r.Context().Done():
	case <-hs.stop:
		http.Error(w, "test over", http.StatusServiceUnavailable)
	}
}

func (hs *hookServer) stats() (inFlight, maxInFlight int, calls map[int64]int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	calls = map[int64]int{}
	for k, v := range hs.calls {
		calls[k] = v
	}
	return hs.inFlight, hs.maxInFlight, calls
}

// recv takes the next value from ch. The long limit only turns a hang
// (the behaviour under test is broken) into a failure with a message.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("waiting for %s: channel closed", what)
		}
		return v
	case <-time.After(2 * time.Minute):
		t.Fatalf("waiting for %s: nothing came", what)
	}
	panic("unreachable")
}

// grantIdm stores n active grants of idm for dave that expire within the
// same second, an hour from now, and returns their ids.
func (f *fixture) grantIdm(n int, in time.Duration) []int64 {
	f.T.Helper()
	now := f.Clock.Now()
	var ids []int64
	for i := 0; i < n; i++ {
		exp := now.Add(in + time.Duration(i)*10*time.Millisecond)
		r := &storage.AccessRequest{Resource: "idm", Requester: "dave", Email: "dave@example.com", Reason: "batch",
			Channel: "access", Duration: in, State: storage.AccessActive, ApprovalsNeeded: 1, PendingUntil: now,
			GrantedAt: &now, ExpiresAt: &exp, CreatedAt: now, UpdatedAt: now}
		if err := storage.CreateAccessRequest(f.Deps.Store.DB, r); err != nil {
			f.T.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// states counts the requests in each state.
func (f *fixture) states() map[string]int {
	f.T.Helper()
	rows, err := storage.ListAccessRequests(context.Background(), f.Deps.Store.DB, storage.AccessFilter{})
	if err != nil {
		f.T.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State]++
	}
	return out
}

// TestHungRevokeDelaysOnlyItself: 20 grants expire in the same second and
// the revoke webhook hangs for one of them. The other 19 are revoked while
// that one's request is still held at the server; it then fails, is
// reported and listed as failing, and is retried after the backoff.
func TestHungRevokeDelaysOnlyItself(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		const hung = 7
		hs := newHookServer(t, func(f action.Fields, call int) bool { return f.RequestID == hung && call == 1 })
		f := newFixtureWith(t, b, hs.url, func(c *config.Config) {
			// Far longer than the test: the hung request ends when the
			// server answers, not when a timer runs out.
			c.Access.Resources[2].Revoke.Timeout = config.Duration(10 * time.Minute)
		})
		ids := f.grantIdm(20, time.Hour)
		f.Clock.Advance(time.Hour + time.Second)
		failedAt := f.Clock.Now()

		done, err := f.h.Dispatch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		finished := map[int64]bool{}
		for len(finished) < 19 {
			r := recv(t, done, "the revokes that do not hang")
			if r.Err != nil {
				t.Errorf("#%d: %v", r.ID, r.Err)
			}
			if r.ID == hung {
				t.Fatalf("#%d finished while its webhook request was held", hung)
			}
			finished[r.ID] = true
		}
		// The hung request has reached the server and has not been answered:
		// it has not been sent a status on release, so its handler waits.
		for a := recv(t, hs.arrived, "the hung request"); a.RequestID != hung; a = recv(t, hs.arrived, "the hung request") {
		}
		if inFlight, _, _ := hs.stats(); inFlight != 1 {
			t.Fatalf("requests at the server = %d, want the hung one only", inFlight)
		}
		if got := f.states(); got[storage.AccessRevoked] != 19 || got[storage.AccessRevoking] != 1 {
			t.Fatalf("states while #%d hangs: %v, want 19 revoked and 1 revoking", hung, got)
		}
		if r := f.request(hung); r.ClaimedBy == "" {
			t.Errorf("#%d is not leased while its revoke runs", hung)
		}

		hs.release <- http.StatusInternalServerError
		if r := recv(t, done, "the hung revoke"); r.ID != hung || r.Err != nil {
			t.Fatalf("last result = %+v, want #%d without error", r, hung)
		}
		if r, open := <-done; open {
			t.Fatalf("more results than actions: %+v", r)
		}
		r := f.request(hung)
		if r.State != storage.AccessRevokeFailed || r.Attempts != 1 || r.ClaimedBy != "" ||
			r.NextAttemptAt == nil || !r.NextAttemptAt.Equal(failedAt.Add(30*time.Second)) ||
			!strings.Contains(r.LastError, "HTTP 500: idm is stuck") {
			t.Fatalf("after the failure: state %s, attempts %d, claimed %q, next %v, error %q",
				r.State, r.Attempts, r.ClaimedBy, r.NextAttemptAt, r.LastError)
		}
		alerts := f.outbox(fmt.Sprintf("access:%d:alert:", hung))
		if len(alerts) != 1 || !strings.Contains(alerts[0].Body, fmt.Sprintf("REVOKE OF #%d FAILED: access is still in place", hung)) {
			t.Fatalf("failure not reported: %+v", alerts)
		}
		list := f.expect("alice", "/access list --failing", fmt.Sprintf("#%d idm for @dave: REVOKE FAILED, retrying, 1 failed attempt, next try 2026-03-02 10:00 UTC", hung))
		if !strings.Contains(list, "last error: revoke webhook http://127.0.0.1:") || !strings.Contains(list, "HTTP 500: idm is stuck") {
			t.Errorf("the failing list lacks the last error:\n%s", list)
		}
		if strings.Count(list, "#") != 1 {
			t.Errorf("the failing list shows more than #%d:\n%s", hung, list)
		}

		f.tick() // the backoff has not passed
		if _, _, calls := hs.stats(); calls[hung] != 1 {
			t.Fatalf("retried before the backoff: %d calls", calls[hung])
		}
		f.Clock.Advance(30 * time.Second)
		f.tick()
		f.state(hung, storage.AccessRevoked)
		f.expect("alice", "/access list --failing", "No grant or revoke is failing.")
		alerts = f.outbox(fmt.Sprintf("access:%d:alert:", hung))
		if !strings.Contains(alerts[len(alerts)-1].Body, fmt.Sprintf("Revoke of #%d succeeded", hung)) {
			t.Errorf("recovery not reported: %s", alerts[len(alerts)-1].Body)
		}
		_, _, calls := hs.stats()
		for _, id := range ids {
			want := 1
			if id == hung {
				want = 2
			}
			if calls[id] != want {
				t.Errorf("#%d: %d revoke calls, want %d", id, calls[id], want)
			}
		}
	})
}

// TestConcurrentActionsBounded: with max_concurrent_actions 2 and five
// revokes due, the webhook never has more than two requests at once.
func TestConcurrentActionsBounded(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		hs := newHookServer(t, func(action.Fields, int) bool { return true })
		f := newFixtureWith(t, b, hs.url, func(c *config.Config) {
			c.Access.MaxConcurrentActions = 2
			c.Access.Resources[2].Revoke.Timeout = config.Duration(10 * time.Minute)
		})
		f.grantIdm(5, time.Hour)
		f.Clock.Advance(time.Hour + time.Second)
		done, err := f.h.Dispatch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		recv(t, hs.arrived, "the first revoke")
		recv(t, hs.arrived, "the second revoke")
		// Both are held; the other three wait for a slot, unleased.
		claimed := 0
		for id := int64(1); id <= 5; id++ {
			if f.request(id).ClaimedBy != "" {
				claimed++
			}
		}
		if claimed != 2 {
			t.Errorf("%d actions leased while two run, want 2", claimed)
		}
		for i := 0; i < 3; i++ {
			hs.release <- http.StatusOK
			recv(t, hs.arrived, "the next revoke once a slot is free")
		}
		hs.release <- http.StatusOK
		hs.release <- http.StatusOK
		for i := 0; i < 5; i++ {
			if r := recv(t, done, "results"); r.Err != nil {
				t.Errorf("#%d: %v", r.ID, r.Err)
			}
		}
		if _, maxSeen, _ := hs.stats(); maxSeen != 2 {
			t.Errorf("at most %d requests at once, want 2", maxSeen)
		}
		if got := f.states(); got[storage.AccessRevoked] != 5 {
			t.Errorf("states: %v, want 5 revoked", got)
		}
	})
}

// TestRunGoesOnWhileAnActionHangs: Run's passes go on while a revoke hangs,
// the hung one is not started again once its lease has run out in the
// database, and on shutdown it is left leased, to be retried.
func TestRunGoesOnWhileAnActionHangs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		hs := newHookServer(t, func(f action.Fields, call int) bool { return f.RequestID == 1 && call == 1 })
		f := newFixtureWith(t, b, hs.url, func(c *config.Config) {
			// Two slots: a second start of #1 would take the one #2 needs.
			c.Access.MaxConcurrentActions = 2
			c.Access.Resources[2].Revoke.Timeout = config.Duration(time.Hour)
		})
		f.grantIdm(1, time.Hour)
		f.grantIdm(1, 3*time.Hour)
		f.h.Interval = 5 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- f.h.Run(ctx) }()

		f.Clock.Advance(time.Hour)
		if a := recv(t, hs.arrived, "the revoke of #1"); a.RequestID != 1 {
			t.Fatalf("first revoke for #%d", a.RequestID)
		}
		// #1's lease (timeout 1h + 1m) runs out in the database and #2
		// falls due: the next passes see both, start #2 and skip #1, which
		// this process still runs.
		f.Clock.Advance(2*time.Hour + time.Second)
		if a := recv(t, hs.arrived, "the revoke of #2 while #1 hangs"); a.RequestID != 2 {
			t.Fatalf("revoke for #%d, want #2 (#1 started twice?)", a.RequestID)
		}
		cancel()
		if err := recv(t, stopped, "Run to stop"); !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
		if _, _, calls := hs.stats(); calls[1] != 1 {
			t.Errorf("#1 revoke calls = %d, want 1", calls[1])
		}
		r := f.request(1)
		if r.State != storage.AccessRevoking || r.ClaimedBy == "" || r.Attempts != 0 || r.LastError != "" {
			t.Errorf("#1 after shutdown: state %s, claimed %q, attempts %d, error %q; want revoking, leased, untouched",
				r.State, r.ClaimedBy, r.Attempts, r.LastError)
		}
		// A new process retries it once the lease has run out.
		h2, err := access.New(f.Deps)
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(2 * time.Hour)
		if err := h2.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.state(1, storage.AccessRevoked)
	})
}
