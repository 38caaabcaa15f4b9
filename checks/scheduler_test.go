package checks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"opsbot/clock"
	"opsbot/config"
)

// fn is a Check made of a function.
type fn func(ctx context.Context) Result

func (f fn) Run(ctx context.Context) Result { return f(ctx) }

func TestSchedulerSpreadsAndRunsDue(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	fc := clock.NewFake(start)
	var mu sync.Mutex
	runs := map[string]int{}
	s := NewScheduler(fc, 8, func(_ context.Context, r Run) error {
		mu.Lock()
		runs[r.Job.Name]++
		mu.Unlock()
		if r.Started.Before(r.Scheduled) {
			t.Errorf("%s started before it was due", r.Job.Name)
		}
		return nil
	}, nil)
	const n = 1000
	seconds := map[int64]int{}
	for i := range n {
		name := fmt.Sprintf("check-%d", i)
		if err := s.Add(Job{Name: name, Kind: "http", Every: time.Minute, Timeout: time.Second,
			Check: fn(func(context.Context) Result { return Result{OK: true} })}); err != nil {
			t.Fatal(err)
		}
		next, _ := s.NextRun(name)
		if !next.After(start) || next.After(start.Add(time.Minute)) {
			t.Fatalf("%s first runs at %v, not within the next minute", name, next)
		}
		seconds[next.Unix()]++
	}
	// Spread: no second of the minute gets more than a few times its share.
	for sec, c := range seconds {
		if c > 4*n/60 {
			t.Errorf("%d checks start in second %d", c, sec)
		}
	}
	if err := s.Add(Job{Name: "check-1", Every: time.Minute, Check: fn(nil)}); err == nil {
		t.Error("a duplicate name was accepted")
	}
	// Step through two minutes a second at a time: every check runs twice.
	total := 0
	for range 120 {
		fc.Advance(time.Second)
		total += s.RunDue(context.Background())
	}
	if total != 2*n {
		t.Errorf("%d runs in two minutes, want %d", total, 2*n)
	}
	for name, c := range runs {
		if c != 2 {
			t.Errorf("%s ran %d times", name, c)
		}
	}
	// The spread is deterministic: a new scheduler puts a check at the same offset.
	s2 := NewScheduler(fc, 1, nil, nil)
	_ = s2.Add(Job{Name: "check-7", Every: time.Minute, Check: fn(nil)})
	a, _ := s.NextRun("check-7")
	b, _ := s2.NextRun("check-7")
	if !a.Equal(b) {
		t.Errorf("next run %v vs %v after restart", a, b)
	}
}

func TestSchedulerSkipsOverlap(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var recorded int
	var mu sync.Mutex
	s := NewScheduler(fc, 4, func(context.Context, Run) error { mu.Lock(); recorded++; mu.Unlock(); return nil }, nil)
	_ = s.Add(Job{Name: "slow", Kind: "command", Every: 10 * time.Second, Timeout: time.Minute,
		Check: fn(func(ctx context.Context) Result { started <- struct{}{}; <-release; return Result{OK: true} })})
	next, _ := s.NextRun("slow")
	fc.Set(next)
	done := make(chan int)
	go func() { done <- s.RunDue(context.Background()) }()
	<-started
	// Still running: the next two slots are skipped, and so is a manual run.
	fc.Advance(10 * time.Second)
	if n := s.RunDue(context.Background()); n != 0 {
		t.Errorf("an overlapping run started (%d)", n)
	}
	if _, err := s.RunNow(context.Background(), "slow"); err != ErrRunning {
		t.Errorf("RunNow while running: %v", err)
	}
	close(release)
	if n := <-done; n != 1 {
		t.Errorf("first pass ran %d", n)
	}
	fc.Advance(10 * time.Second)
	if n := s.RunDue(context.Background()); n != 1 {
		t.Errorf("after it finished, %d ran", n)
	}
	if _, err := s.RunNow(context.Background(), "nope"); err != ErrUnknownCheck {
		t.Errorf("RunNow unknown: %v", err)
	}
	if recorded != 2 {
		t.Errorf("recorded %d runs", recorded)
	}
}

func TestJobForSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c     config.Check
		every time.Duration
		err   bool
	}{
		{c: config.Check{Name: "a", Kind: "tcp", Address: "127.0.0.1:1", Every: config.Duration(time.Minute)}, every: time.Minute},
		{c: config.Check{Name: "b", Kind: "tcp", Address: "127.0.0.1:1", Schedule: "@every 1m"}, every: time.Minute},
		{c: config.Check{Name: "c", Kind: "tcp", Address: "127.0.0.1:1", Schedule: "*/5 * * * *", Timezone: "Europe/Paris"}},
		{c: config.Check{Name: "d", Kind: "tcp", Address: "127.0.0.1:1", Schedule: "nonsense"}, err: true},
	}
	for _, tt := range tests {
		j, err := JobFor(tt.c, Env{})
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.c.Name, err)
			continue
		}
		if err == nil && j.Every != tt.every {
			t.Errorf("%s: every %v want %v", tt.c.Name, j.Every, tt.every)
		}
		if err == nil && tt.every == 0 && j.Schedule == nil {
			t.Errorf("%s: no schedule", tt.c.Name)
		}
	}
}

// An interval near the largest the config accepts (106751d) must not wrap
// around to a time in the past, which made the scheduler run the check
// back to back forever.
func TestAfterHugeInterval(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		every, offset time.Duration
	}{
		{30 * time.Second, 7 * time.Second},
		{50000 * 24 * time.Hour, time.Duration(1e18)},
		{106751 * 24 * time.Hour, 0},
		{106751 * 24 * time.Hour, time.Duration(1e18)},
		{106751 * 24 * time.Hour, time.Duration(1.7e18)},
		{106751 * 24 * time.Hour, 106751*24*time.Hour - 1},
	} {
		e := &entry{job: Job{Name: "x", Every: tt.every}, offset: tt.offset}
		if next := e.after(now); !next.After(now) {
			t.Errorf("every %s offset %s: next run %s is not after %s", tt.every, tt.offset, next, now)
		}
	}
}

// never is a schedule with no next time, as cron's is for February 30.
type never struct{}

func (never) Next(time.Time) time.Time { return time.Time{} }

// A schedule that never fires must not be due at every instant: the
// scheduler spun on it forever, holding its lock (100% CPU, /check run hung).
func TestScheduleThatNeverFires(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	s := NewScheduler(clk, 2, nil, nil)
	if err := s.Add(Job{Name: "feb30", Kind: "tcp", Check: fn(func(context.Context) Result { return Result{OK: true} }),
		Timeout: time.Second, Schedule: never{}}); err != nil {
		t.Fatal(err)
	}
	// Before the fix this call never returned.
	if n := s.RunDue(context.Background()); n != 0 {
		t.Errorf("%d runs of a schedule that never fires", n)
	}
}

// Cron checks are spread like interval checks: each runs at a stable
// offset within its minute, the same after a restart; a schedule that names
// its seconds runs at them.
func TestCronChecksAreSpread(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	next := func(c config.Check) time.Time {
		t.Helper()
		j, err := JobFor(c, Env{})
		if err != nil {
			t.Fatal(err)
		}
		s := NewScheduler(clock.NewFake(start), 1, nil, nil)
		if err := s.Add(j); err != nil {
			t.Fatal(err)
		}
		at, _ := s.NextRun(c.Name)
		return at
	}
	seconds := map[int]bool{}
	for i := range 50 {
		c := config.Check{Name: fmt.Sprintf("web-%d", i), Kind: "tcp", Address: "127.0.0.1:1", Schedule: "*/5 * * * *"}
		at := next(c)
		if at.Truncate(time.Minute) != start.Add(5*time.Minute) && at.Truncate(time.Minute) != start {
			t.Errorf("%s: next run %s is not in a */5 minute", c.Name, at)
		}
		if at.Sub(at.Truncate(time.Minute)) >= time.Minute || !at.After(start) {
			t.Errorf("%s: next run %s", c.Name, at)
		}
		if again := next(c); !again.Equal(at) {
			t.Errorf("%s: offset not stable: %s then %s", c.Name, at, again)
		}
		seconds[at.Second()] = true
	}
	if len(seconds) < 20 {
		t.Errorf("50 checks on */5 start in only %d distinct seconds: not spread", len(seconds))
	}
	c := config.Check{Name: "exact", Kind: "tcp", Address: "127.0.0.1:1", Schedule: "30 */5 * * * *"}
	if at := next(c); !at.Equal(start.Add(30 * time.Second)) {
		t.Errorf("a schedule naming its seconds runs at %s, want %s", at, start.Add(30*time.Second))
	}
	c = config.Check{Name: "tz", Kind: "tcp", Address: "127.0.0.1:1", Schedule: "CRON_TZ=UTC 15 */5 * * * *"}
	if at := next(c); !at.Equal(start.Add(15 * time.Second)) {
		t.Errorf("CRON_TZ with seconds runs at %s, want %s", at, start.Add(15*time.Second))
	}
}

// A check's error may quote bytes a server sent; what reaches the sink (to
// be stored, where PostgreSQL refuses text that is not UTF-8, and posted)
// is UTF-8, and an OnRun observer sees the same run.
func TestRunErrorsAreUTF8(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var sunk, seen []string
	s := NewScheduler(clk, 1, func(_ context.Context, r Run) error { sunk = append(sunk, r.Result.Error); return nil }, nil)
	s.OnRun(func(r Run) { seen = append(seen, r.Result.Error) })
	if err := s.Add(Job{Name: "web", Kind: "http", Timeout: time.Second, Every: time.Minute,
		Check: fn(func(context.Context) Result { return Result{Error: "body \xff\xfe said no"} })}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunNow(context.Background(), "web"); err != nil {
		t.Fatal(err)
	}
	want := "body \uFFFD said no"
	if len(sunk) != 1 || sunk[0] != want || len(seen) != 1 || seen[0] != want {
		t.Fatalf("sink got %q, observer %q; want %q once each", sunk, seen, want)
	}
}

// Run hands runs to long-lived workers: never more at once than the slots,
// every due run runs, and Run returns only after the last one ended.
func TestRunWorkers(t *testing.T) {
	t.Parallel()
	const slots, checks = 3, 20
	var mu sync.Mutex
	running, most, done := 0, 0, 0
	release := make(chan struct{})
	s := NewScheduler(clock.Real{}, slots, nil, nil)
	s.OnRun(func(Run) { mu.Lock(); done++; mu.Unlock() })
	for i := range checks {
		if err := s.Add(Job{Name: fmt.Sprintf("c%d", i), Kind: "tcp", Timeout: time.Minute, Every: 20 * time.Millisecond,
			Check: fn(func(context.Context) Result {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				mu.Unlock()
				return Result{OK: true}
			})}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s", what)
			}
		}
	}
	waitFor("were all slots busy", func() bool { return running == slots })
	close(release)
	waitFor("did every check run", func() bool { return done >= checks })
	cancel()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > slots {
		t.Errorf("%d runs at once with %d slots", most, slots)
	}
	if running != 0 {
		t.Errorf("Run returned with %d runs still going", running)
	}
}

func TestWakeAtRoundsUpToTheTick(t *testing.T) {
	t.Parallel()
	s := NewScheduler(clock.Real{}, 1, nil, nil)
	on := time.Date(2026, 3, 2, 9, 0, 0, 50_000_000, time.UTC) // a multiple of 50 ms
	for _, c := range []struct {
		name     string
		tick     time.Duration
		next     time.Time
		wantWake time.Time
	}{
		{"on a tick", 50 * time.Millisecond, on, on},
		{"just after a tick", 50 * time.Millisecond, on.Add(time.Nanosecond), on.Add(50 * time.Millisecond)},
		{"just before a tick", 50 * time.Millisecond, on.Add(-time.Nanosecond), on},
		{"another tick", 7 * time.Millisecond, time.Unix(0, 7_000_003).UTC(), time.Unix(0, 14_000_000).UTC()},
		{"before 1970", 50 * time.Millisecond, time.Unix(0, -30_000_000).UTC(), time.Unix(0, 0).UTC()},
		{"no tick", 0, on.Add(time.Nanosecond), on.Add(time.Nanosecond)},
		{"never", 50 * time.Millisecond, time.Unix(0, math.MaxInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()},
	} {
		s.SetTick(c.tick)
		if got := s.wakeAt(c.next); !got.Equal(c.wantWake) {
			t.Errorf("%s: tick %s, due %s: wakes at %s, want %s", c.name, c.tick, c.next.Format(time.RFC3339Nano),
				got.Format(time.RFC3339Nano), c.wantWake.Format(time.RFC3339Nano))
		}
	}
}

// Run starts a due check no earlier than the first tick at or after its
// slot. (That checks of one tick start together, and what it saves, is
// what bench/checks measures.)
func TestRunStartsChecksOnTicks(t *testing.T) {
	t.Parallel()
	const tick, checks = 40 * time.Millisecond, 24
	s := NewScheduler(clock.Real{}, checks, nil, nil)
	s.SetTick(tick)
	var mu sync.Mutex
	var runs []Run
	s.OnRun(func(r Run) { mu.Lock(); runs = append(runs, r); mu.Unlock() })
	for i := range checks {
		// Every second, at offsets the names' hashes spread over it.
		if err := s.Add(Job{Name: fmt.Sprintf("web-%d", i), Kind: "http", Timeout: time.Second, Every: time.Second,
			Check: fn(func(context.Context) Result { return Result{OK: true} })}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n >= checks {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d checks ran in a minute", n, checks)
		}
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	between := 0
	for _, r := range runs {
		if r.Scheduled.UnixNano()%int64(tick) != 0 {
			between++
		}
		if wake := s.wakeAt(r.Scheduled); r.Started.Before(wake) {
			t.Errorf("%s, due %s, started %s: before the tick at %s", r.Job.Name, r.Scheduled.Format(time.RFC3339Nano),
				r.Started.Format(time.RFC3339Nano), wake.Format(time.RFC3339Nano))
		}
	}
	if between == 0 {
		t.Fatal("every slot fell on a tick: the test shows nothing")
	}
}

// The grid gathers about perWake runs at the checks' rate, between
// minTick and maxTick, unless SetTick fixed it.
func TestTickFollowsTheChecksRate(t *testing.T) {
	t.Parallel()
	ok := fn(func(context.Context) Result { return Result{OK: true} })
	for _, c := range []struct {
		name  string
		jobs  int
		every time.Duration
		want  time.Duration
	}{
		{"no checks", 0, 0, maxTick},
		{"one hourly check", 1, time.Hour, maxTick},
		{"200 every 2s", 200, 2 * time.Second, 80 * time.Millisecond},
		{"10,000 every 30s", 10000, 30 * time.Second, 24 * time.Millisecond},
		{"5,000 every second", 5000, time.Second, minTick},
	} {
		s := NewScheduler(clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), 1, nil, nil)
		for i := range c.jobs {
			if err := s.Add(Job{Name: fmt.Sprintf("c%d", i), Kind: "http", Every: c.every, Check: ok}); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Tick(); got != c.want {
			t.Errorf("%s: tick %s, want %s", c.name, got, c.want)
		}
	}
	// Cron checks count as once a minute each: 6,000 of them, 100 a second.
	s := NewScheduler(clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), 1, nil, nil)
	for i := range 6000 {
		j, err := JobFor(config.Check{Name: fmt.Sprintf("cron-%d", i), Kind: config.KindTCP, Address: "127.0.0.1:1",
			Schedule: "*/5 * * * *"}, Env{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.Tick(), 80*time.Millisecond; got != want {
		t.Errorf("6,000 cron checks: tick %s, want %s", got, want)
	}
	s.SetTick(0)
	if err := s.Add(Job{Name: "later", Kind: "http", Every: time.Second, Check: ok}); err != nil {
		t.Fatal(err)
	}
	if got := s.Tick(); got != 0 {
		t.Errorf("after SetTick(0) and another check: tick %s, want 0", got)
	}
}
