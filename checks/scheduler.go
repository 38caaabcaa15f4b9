package checks

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"opsbot/clock"
	"opsbot/config"
)

// Job is one check as the scheduler runs it.
type Job struct {
	Name    string
	Kind    string
	Check   Check
	Timeout time.Duration
	// Every, when set, runs the job at this interval; otherwise Schedule.
	Every    time.Duration
	Schedule cron.Schedule
	// Spread runs a cron schedule at a stable offset within its minute
	// (a hash of the name), as interval checks are spread, so checks on
	// the same schedule do not all start at second 0. A schedule that
	// names its seconds is run at them.
	Spread bool
}

// JobFor builds the scheduler's job for a configured check, parsing its
// schedule the way config validation does.
func JobFor(c config.Check, env Env) (Job, error) {
	ch, err := New(c, env)
	if err != nil {
		return Job{}, err
	}
	j := Job{Name: c.Name, Kind: c.Kind, Check: ch, Timeout: time.Duration(c.Timeout), Every: time.Duration(c.Every)}
	if j.Timeout <= 0 {
		j.Timeout = 10 * time.Second
	}
	if j.Every <= 0 {
		s, err := config.ParseSchedule(c.Schedule, c.Timezone)
		if err != nil {
			return Job{}, fmt.Errorf("check %s: schedule: %w", c.Name, err)
		}
		// "@every 1m" is an interval: spread it like every: is.
		if cd, ok := s.(cron.ConstantDelaySchedule); ok {
			j.Every = cd.Delay
		} else {
			j.Schedule = s
			j.Spread = !config.ScheduleNamesSeconds(c.Schedule)
		}
	}
	return j, nil
}

// Run is one finished run, as the scheduler hands it to its sink.
type Run struct {
	Job       *Job
	Scheduled time.Time
	Started   time.Time
	Result    Result
	// Manual is true for runs started by RunNow.
	Manual bool
}

// Sink receives every finished run: it records the result and drives the
// incident state machine.
type Sink func(ctx context.Context, r Run) error

// ErrRunning is returned by RunNow when the check is running already.
var ErrRunning = errors.New("check is running already")

// ErrUnknownCheck is returned by RunNow for a name that is not scheduled.
var ErrUnknownCheck = errors.New("no such check")

// Metrics are the scheduler's Prometheus metrics.
type Metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	delay    prometheus.Histogram
}

// NewMetrics registers the check metrics on reg (reusing them when they are
// registered already, e.g. by an earlier scheduler in the same process).
// Labels are the kind and the result, not the check's name, so thousands of
// checks do not become thousands of series; per-check status is in
// /check list.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opsbot_check_runs_total",
			Help: "Check runs by kind and result (ok, fail, skipped: still running from last time)."}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "opsbot_check_duration_seconds",
			Help: "How long check runs take.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"kind"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "opsbot_check_start_delay_seconds",
			Help: "Delay between a run's scheduled and actual start.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	}
	if reg != nil {
		m.runs = register(reg, m.runs)
		m.duration = register(reg, m.duration)
		m.delay = register(reg, m.delay)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

// entry is a job in the timing heap.
type entry struct {
	job     Job
	offset  time.Duration
	next    time.Time
	running bool
	index   int
}

type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *entryHeap) Push(x any)        { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Scheduler runs many checks from one heap ordered by next run time, with
// at most Workers running at once. A check never overlaps its own previous
// run: a run that falls due while the last one is still going is skipped
// and counted. Interval checks are spread over their interval by a hash of
// their name, so a thousand checks on every: 1m do not start together, and
// the same check starts at the same offset after every restart.
type Scheduler struct {
	clock   clock.Clock
	sink    Sink
	metrics *Metrics
	sem     chan struct{}
	wake    chan struct{}

	observe func(Run)

	mu    sync.Mutex
	heap  entryHeap
	byKey map[string]*entry
	// tick: Run wakes only on multiples of it (see perWake), the one the
	// jobs' rate gives unless fixedTick.
	tick      time.Duration
	fixedTick bool
	rate      float64 // runs a second of the interval and spread jobs
	wg        sync.WaitGroup
}

// NewScheduler returns a scheduler that runs at most workers checks at
// once and hands every result to sink.
func NewScheduler(clk clock.Clock, workers int, sink Sink, m *Metrics) *Scheduler {
	if workers < 1 {
		workers = 1
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Scheduler{clock: clk, sink: sink, metrics: m, sem: make(chan struct{}, workers),
		wake: make(chan struct{}, 1), byKey: map[string]*entry{}, tick: maxTick}
}

// OnRun has f called with every finished run before the sink gets it (a
// load program's figures). Set it before Run.
func (s *Scheduler) OnRun(f func(Run)) { s.observe = f }

// Run wakes on a grid (a tick) rather than at each run's own time: a run
// due at its slot starts at the first multiple of the tick at or after it,
// together with every other run due by then. Each wake-up of an idle
// process (its timer, a thread woken, a network poll) cost about what a
// check's own HTTP round trip costs, so one wake-up for several checks
// halves what checking costs (docs/performance.md, "seventh sitting").
//
// The tick is what gathers about perWake runs at the scheduled checks'
// rate (the sum of 1/interval), between minTick and maxTick: 200 checks
// every 2 s wake the process every 80 ms instead of every 10 ms, 10,000
// every 30 s every 24 ms. So a check starts at most maxTick after its slot,
// at the same point of its interval every time. More runs a wake-up would
// save little more CPU and hold more connections and stacks at once.
const (
	perWake = 8
	minTick = 5 * time.Millisecond
	maxTick = 100 * time.Millisecond
)

// SetTick fixes the grid Run wakes on at d (0: at every run's own time)
// instead of the one the checks' rate gives. Set it before Run.
func (s *Scheduler) SetTick(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick, s.fixedTick = max(d, 0), true
}

// Tick is the grid Run wakes on.
func (s *Scheduler) Tick() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tick
}

// retick sets the tick from the rate of the scheduled jobs; s.mu is held.
func (s *Scheduler) retick() {
	if s.fixedTick {
		return
	}
	s.tick = maxTick
	if s.rate > 0 {
		s.tick = min(max(time.Duration(perWake/s.rate*float64(time.Second)).Round(time.Millisecond), minTick), maxTick)
	}
}

// Add schedules a job; its first run is its next slot after now.
func (s *Scheduler) Add(j Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byKey[j.Name]; dup {
		return fmt.Errorf("check %s is scheduled twice", j.Name)
	}
	if j.Every <= 0 && j.Schedule == nil {
		return fmt.Errorf("check %s has neither an interval nor a schedule", j.Name)
	}
	e := &entry{job: j}
	h := fnv.New64a()
	h.Write([]byte(j.Name))
	switch {
	case j.Every > 0:
		e.offset = time.Duration(h.Sum64() % uint64(j.Every))
	case j.Spread:
		e.offset = time.Duration(h.Sum64() % uint64(time.Minute))
	}
	e.next = e.after(s.clock.Now())
	switch {
	case j.Every > 0:
		s.rate += float64(time.Second) / float64(j.Every)
	case j.Spread:
		s.rate += 1.0 / 60 // most cron schedules run at most once a minute
	}
	s.retick()
	heap.Push(&s.heap, e)
	s.byKey[j.Name] = e
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// after is the job's first slot strictly after t.
func (e *entry) after(t time.Time) time.Time {
	if e.job.Every > 0 {
		every := int64(e.job.Every)
		n := t.UnixNano() - int64(e.offset)
		k := n/every + 1
		if n < 0 && n%every != 0 {
			k--
		}
		if k > 0 && k > (math.MaxInt64-int64(e.offset))/every {
			// Past what a time in nanoseconds holds (year 2262): never.
			return time.Unix(0, math.MaxInt64).UTC()
		}
		return time.Unix(0, k*every+int64(e.offset)).UTC()
	}
	if next := e.job.Schedule.Next(t.Add(-e.offset)); !next.IsZero() {
		if next = next.Add(e.offset); next.After(t) {
			return next.UTC()
		}
	}
	// cron gives the zero time for a schedule with no next date (February
	// 30): never, rather than due at every instant.
	return time.Unix(0, math.MaxInt64).UTC()
}

// Jobs returns the scheduled jobs, by name.
func (s *Scheduler) Jobs() map[string]*Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*Job, len(s.byKey))
	for k, e := range s.byKey {
		out[k] = &e.job
	}
	return out
}

// NextRun returns when the named check runs next.
func (s *Scheduler) NextRun(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byKey[name]
	if !ok {
		return time.Time{}, false
	}
	return e.next, true
}

// due pops every entry due at now, reschedules it and returns those that
// should start (those still running are skipped).
func (s *Scheduler) due(now time.Time) []dueRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dueRun
	for len(s.heap) > 0 && !s.heap[0].next.After(now) {
		e := s.heap[0]
		scheduled := e.next
		e.next = e.after(maxTime(now, scheduled))
		heap.Fix(&s.heap, 0)
		if e.running {
			s.metrics.runs.WithLabelValues(e.job.Kind, "skipped").Inc()
			continue
		}
		e.running = true
		out = append(out, dueRun{e: e, scheduled: scheduled})
	}
	return out
}

type dueRun struct {
	e         *entry
	scheduled time.Time
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// RunDue starts every check due at the clock's now and waits until they
// have finished and their results are recorded; it returns how many ran.
// Tests drive the scheduler with it and a fake clock.
func (s *Scheduler) RunDue(ctx context.Context) int {
	runs := s.due(s.clock.Now())
	var wg sync.WaitGroup
	for _, r := range runs {
		if !s.acquire(ctx) {
			s.release(r.e, false)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.execute(ctx, r, false)
		}()
	}
	wg.Wait()
	return len(runs)
}

// Run starts checks as they fall due until ctx ends, then waits for the
// runs in progress. It sleeps until the next run is due.
func (s *Scheduler) Run(ctx context.Context) error {
	// Runs go to long-lived workers, one per slot: a goroutine per run
	// grew a fresh stack through the HTTP client on every run, a tenth of
	// what checking cost. A run is handed over only once it holds a slot,
	// so the channel never fills.
	work := make(chan dueRun, cap(s.sem))
	for range cap(s.sem) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for r := range work {
				s.execute(ctx, r, false)
			}
		}()
	}
	defer s.wg.Wait()
	defer close(work)
	for {
		for _, r := range s.due(s.clock.Now()) {
			if !s.acquire(ctx) {
				s.release(r.e, false)
				continue
			}
			work <- r
		}
		wait := time.Minute
		s.mu.Lock()
		if len(s.heap) > 0 {
			wait = s.wakeAt(s.heap[0].next).Sub(s.clock.Now())
		}
		s.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-s.wake:
				t.Stop()
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// wakeAt is when Run wakes for a run due at next: next, or the first tick
// at or after it; s.mu is held.
func (s *Scheduler) wakeAt(next time.Time) time.Time {
	t := int64(s.tick)
	if t <= 0 {
		return next
	}
	r := next.UnixNano() % t
	if r < 0 {
		r += t
	}
	if r == 0 || next.UnixNano() > math.MaxInt64-t {
		return next
	}
	return next.Add(time.Duration(t - r))
}

func (s *Scheduler) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Scheduler) release(e *entry, slot bool) {
	s.mu.Lock()
	e.running = false
	s.mu.Unlock()
	if slot {
		<-s.sem
	}
}

// execute runs one check with its timeout and records the result. A run
// cut short because ctx ended (shutdown, lost leadership) is not recorded:
// it says nothing about the checked service.
func (s *Scheduler) execute(ctx context.Context, r dueRun, manual bool) (Run, error) {
	defer s.release(r.e, true)
	start := s.clock.Now()
	s.metrics.delay.Observe(max(0, start.Sub(r.scheduled)).Seconds())
	rctx, cancel := context.WithTimeout(ctx, r.e.job.Timeout)
	res := r.e.job.Check.Run(rctx)
	cancel()
	if !utf8.ValidString(res.Error) {
		// An error may quote what a server sent; what is stored and posted
		// is UTF-8.
		res.Error = strings.ToValidUTF8(res.Error, "\uFFFD")
	}
	run := Run{Job: &r.e.job, Scheduled: r.scheduled, Started: start, Result: res, Manual: manual}
	if ctx.Err() != nil {
		return run, ctx.Err()
	}
	result := "ok"
	if !res.OK {
		result = "fail"
	}
	s.metrics.runs.WithLabelValues(r.e.job.Kind, result).Inc()
	s.metrics.duration.WithLabelValues(r.e.job.Kind).Observe(res.Latency.Seconds())
	if s.observe != nil {
		s.observe(run)
	}
	if s.sink == nil {
		return run, nil
	}
	return run, s.sink(context.WithoutCancel(ctx), run)
}

// RunNow runs the named check at once (for /check run), unless it is
// running already, records the result like a scheduled run and returns it.
func (s *Scheduler) RunNow(ctx context.Context, name string) (Run, error) {
	s.mu.Lock()
	e, ok := s.byKey[name]
	if !ok {
		s.mu.Unlock()
		return Run{}, ErrUnknownCheck
	}
	if e.running {
		s.mu.Unlock()
		return Run{}, ErrRunning
	}
	e.running = true
	s.mu.Unlock()
	if !s.acquire(ctx) {
		s.release(e, false)
		return Run{}, ctx.Err()
	}
	return s.execute(ctx, dueRun{e: e, scheduled: s.clock.Now()}, true)
}
