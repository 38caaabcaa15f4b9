package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
)

const (
	// sendTimeout bounds one call to a platform.
	sendTimeout = 30 * time.Second
	// recordTimeout bounds writing an outcome, even while stopping.
	recordTimeout = 10 * time.Second
	// laneRun is how many messages a worker sends in one lane before going
	// back to the queue, so one busy channel does not starve the others.
	laneRun = 32
	// runSize is how many messages of a lane a worker claims at once and
	// sends between two transactions. Each is posted only after the one
	// before it was accepted; after a crash, the ones claimed and not
	// recorded are looked up on the platform before they are sent again.
	runSize = 8
	// waitStep is how long a message that waits for the message it edits
	// or threads under sleeps before it looks again.
	waitStep = time.Second
)

// Notifier drains the outbox: it claims due messages, sends each through the
// sender of its platform, and records the outcome, retrying with backoff
// until the platform accepted the message or max_age has passed.
type Notifier struct {
	store *storage.Store
	clock clock.Clock
	log   *slog.Logger
	cfg   config.OutboxConfig
	// id names this notifier in claims (ClaimedBy).
	id   string
	wake chan struct{}
	// origin is the process whose log sink messages this notifier claims
	// (set by Outbox.Attach); without one it claims none.
	origin atomic.Pointer[string]

	mu      sync.RWMutex
	senders map[bot.Platform]bot.Sender

	queued  *prometheus.GaugeVec
	oldest  *prometheus.GaugeVec
	sent    *prometheus.CounterVec
	retries *prometheus.CounterVec
	failed  *prometheus.CounterVec
	held    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewNotifier returns a notifier over the store's outbox that sends through
// senders (more can be added with Register). reg may be nil.
func NewNotifier(store *storage.Store, clk clock.Clock, log *slog.Logger, reg prometheus.Registerer,
	cfg config.OutboxConfig, senders map[bot.Platform]bot.Sender) (*Notifier, error) {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = config.Duration(time.Second)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = config.Duration(5 * time.Minute)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = config.Duration(24 * time.Hour)
	}
	// The lease (outbox.lease) is how long a claimed message is ours; a
	// notifier that dies while sending lets another take its messages once
	// it runs out. A live notifier renews its leases every third of it
	// while it sends, so a send may take longer than the lease; a dead
	// replica's messages (and the lanes behind them) wait at most a lease.
	if cfg.Lease <= 0 {
		cfg.Lease = config.Duration(15 * time.Second)
	}
	n := &Notifier{store: store, clock: clk, log: log, cfg: cfg, id: notifierID(),
		wake: make(chan struct{}, 1), senders: map[bot.Platform]bot.Sender{}}
	for p, s := range senders {
		n.senders[p] = s
	}
	n.queued = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "opsbot_outbox_queued",
		Help: "Notifications waiting to be sent (pending or being sent)."}, []string{"platform"})
	n.oldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "opsbot_outbox_oldest_pending_seconds",
		Help: "Age of the oldest notification not yet sent."}, []string{"platform"})
	n.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opsbot_outbox_sent_total",
		Help: "Notifications the platform accepted."}, []string{"platform"})
	n.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opsbot_outbox_retries_total",
		Help: "Failed sends that will be tried again."}, []string{"platform"})
	n.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opsbot_outbox_failed_total",
		Help: "Notifications given up on: reason permanent (the platform refused) or max_age (retried too long)."},
		[]string{"platform", "reason"})
	n.held = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opsbot_outbox_held_total",
		Help: "Notifications held for a person: their last send may have arrived and cannot be checked."}, []string{"platform"})
	n.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "opsbot_outbox_delivery_seconds",
		Help:    "Time from enqueue to the platform accepting a notification.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, []string{"platform"})
	if reg != nil {
		for _, c := range []prometheus.Collector{n.queued, n.oldest, n.sent, n.retries, n.failed, n.held, n.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register outbox metrics: %w", err)
			}
		}
	}
	return n, nil
}

func (n *Notifier) lease() time.Duration { return time.Duration(n.cfg.Lease) }

// setOrigin makes n claim the log sink messages of the outbox named origin.
func (n *Notifier) setOrigin(origin string) { n.origin.Store(&origin) }

// scope is what n may claim: the platforms it has a sender for, and its own
// process's log sink messages.
func (n *Notifier) scope() storage.OutboxScope {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var sc storage.OutboxScope
	for p := range n.senders {
		if p != bot.Log {
			sc.Platforms = append(sc.Platforms, string(p))
		}
	}
	if o := n.origin.Load(); o != nil && n.senders[bot.Log] != nil {
		sc.LanePrefix = LogLanePrefix(*o)
	}
	return sc
}

// processID names one outbox's process: host, pid and a random tail.
func processID() string { return notifierID() }

// notifierID is unique per process and notifier: host, pid and a random tail.
func notifierID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	if len(id) > 64 {
		id = id[len(id)-64:]
	}
	return id
}

// Register makes s the sender for platform p; serve registers one for each
// platform it enables. n claims only the messages of platforms it has a
// sender for: the others wait for a process that can deliver them.
func (n *Notifier) Register(p bot.Platform, s bot.Sender) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.senders[p] = s
}

func (n *Notifier) sender(p bot.Platform) bot.Sender {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.senders[p]
}

// Wake asks a running notifier to look for work now instead of at the next
// poll; callers may call it after committing a transaction that enqueued.
// It never blocks.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox every poll interval, or sooner when woken, until ctx
// ends.
func (n *Notifier) Run(ctx context.Context) error {
	n.log.Info("notifier started", "workers", n.cfg.Workers, "poll", time.Duration(n.cfg.Poll).String(), "id", n.id)
	t := time.NewTicker(time.Duration(n.cfg.Poll))
	defer t.Stop()
	for {
		if _, err := n.Drain(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("drain outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.wake:
		}
	}
}

// Drain sends every message that is due now, with up to outbox.workers sends
// at once and one at a time per lane, and returns how many the platforms
// accepted. It returns when nothing due is left or ctx ends; messages that
// were rescheduled wait for a later Drain.
func (n *Notifier) Drain(ctx context.Context) (int, error) {
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() { defer close(renewed); n.renewLeases(renewCtx) }()
	// Sends still finishing after ctx ends keep their claims until they
	// have recorded their outcome.
	defer func() { stopRenew(); <-renewed }()
	var sent atomic.Int64
	done := make(chan struct{}, n.cfg.Workers)
	inflight := 0
	var drainErr error
	for ctx.Err() == nil {
		var batch []storage.OutboxMessage
		if free := n.cfg.Workers - inflight; free > 0 {
			var err error
			batch, err = n.store.ClaimOutbox(ctx, n.id, n.clock.Now(), n.lease(), free, n.scope())
			if err != nil {
				if ctx.Err() == nil {
					drainErr = err
				}
				break
			}
		}
		for _, m := range batch {
			inflight++
			go func() {
				defer func() { done <- struct{}{} }()
				sent.Add(int64(n.work(ctx, m)))
			}()
		}
		if inflight == 0 {
			break
		}
		if len(batch) == 0 || inflight == n.cfg.Workers {
			select {
			case <-done:
				inflight--
			case <-ctx.Done():
			}
		}
	}
	for ; inflight > 0; inflight-- {
		<-done
	}
	if drainErr == nil {
		drainErr = ctx.Err()
	}
	n.updateBacklog(ctx)
	return int(sent.Load()), drainErr
}

// renewLeases extends this notifier's leases every renewEvery until ctx
// ends.
func (n *Notifier) renewLeases(ctx context.Context) {
	t := time.NewTicker(n.lease() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.store.RenewOutbox(ctx, n.id, n.clock.Now().Add(n.lease())); err != nil && ctx.Err() == nil {
				n.log.Warn("renew notification leases", "err", err)
			}
		}
	}
}

// work delivers m and then, while they are due, the next messages of its
// lane, and returns how many were sent. It claims them in runs of up to
// runSize and records each run's outcomes in one transaction with the
// claim of the next run.
func (n *Notifier) work(ctx context.Context, m storage.OutboxMessage) int {
	run := []storage.OutboxMessage{m}
	sent := 0
	for {
		done := make([]storage.Finished, 0, len(run))
		var refs map[string]bot.MessageRef // what this run sent, by key
		i := 0
		for ; i < len(run) && ctx.Err() == nil; i++ {
			ref, ok := n.attempt(ctx, run[i], refs)
			if !ok {
				i++ // its outcome is recorded
				break
			}
			done = append(done, storage.Finished{ID: run[i].ID, Outcome: storage.OutboxOutcome{State: storage.OutboxSent,
				MessageChannel: ref.Channel, MessageID: ref.ID, At: n.clock.Now()}})
			if refs == nil {
				refs = map[string]bot.MessageRef{}
			}
			refs[run[i].Key] = ref
		}
		complete := len(done) == len(run)
		// The messages the run did not reach go back as they were, for
		// the next worker or notifier: stopping, or one before them
		// failed (and now holds the lane).
		for _, m := range run[i:] {
			n.release(ctx, m)
		}
		// Recording gets its own time, whatever the sends took, and is
		// not cut short by stopping.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		lane, size := "", 0
		if complete && ctx.Err() == nil && sent+len(done) < laneRun {
			lane, size = run[0].Lane, min(runSize, laneRun-sent-len(done))
		}
		var next []storage.OutboxMessage
		if len(done) > 0 || lane != "" {
			lost, claimed, err := n.store.FinishOutboxRun(rctx, n.id, done, lane, n.clock.Now(), n.lease(), size)
			if err != nil || lost > 0 {
				// The platform has them; whoever holds the messages now
				// asks it first.
				n.log.Error("notifications sent but their outcome was not recorded", "lane", run[0].Lane,
					"sent", len(done), "lost_claims", lost, "err", err)
			}
			if err == nil {
				next = claimed
				for j := range done {
					n.sent.WithLabelValues(run[j].Platform).Inc()
					n.latency.WithLabelValues(run[j].Platform).Observe(done[j].Outcome.At.Sub(run[j].CreatedAt).Seconds())
				}
				sent += len(done) - lost
			}
		}
		cancel()
		if len(next) == 0 {
			return sent
		}
		run = next
	}
}

// release puts m, claimed but not attempted, back as it was.
// (Uncertain stays as the claim left it: set if an earlier sender's lease
// ran out mid-send.)
func (n *Notifier) release(ctx context.Context, m storage.OutboxMessage) {
	attempts := m.Attempts - 1
	n.record(ctx, m, storage.OutboxOutcome{State: storage.OutboxPending, NextAttemptAt: n.clock.Now(),
		Attempts: &attempts, Uncertain: m.Uncertain, LastError: m.LastError})
}

// attempt makes one attempt at m and reports whether the platform now has
// the message, and its reference there. A failure's outcome it records
// itself; a success is the caller's to record. sent holds what the
// caller's run sent before m and has not recorded yet.
func (n *Notifier) attempt(ctx context.Context, m storage.OutboxMessage, sent map[string]bot.MessageRef) (bot.MessageRef, bool) {
	// Looking up an original is not cut short by stopping either: its
	// outcome decides what is recorded.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var to bot.Target
	var reply bot.Reply
	if err := json.Unmarshal([]byte(m.Target), &to); err != nil {
		n.fail(ctx, m, "permanent", fmt.Errorf("unreadable target: %w", err))
		return bot.MessageRef{}, false
	}
	if err := json.Unmarshal([]byte(m.Body), &reply); err != nil {
		n.fail(ctx, m, "permanent", fmt.Errorf("unreadable message: %w", err))
		return bot.MessageRef{}, false
	}
	sender := n.sender(bot.Platform(m.Platform))
	if sender == nil {
		n.retry(ctx, m, fmt.Errorf("no sender for platform %q is registered", m.Platform), m.Uncertain)
		return bot.MessageRef{}, false
	}
	var edit *bot.MessageRef
	if m.ThreadKey != "" {
		ref, wait, err := n.original(lctx, m.ThreadKey, sent)
		if err != nil || wait {
			n.postpone(ctx, m, err)
			return bot.MessageRef{}, false
		}
		if ref != nil {
			to.Thread = ref.ID
		}
	}
	if m.UpdatesKey != "" {
		ref, wait, err := n.original(lctx, m.UpdatesKey, sent)
		if err != nil || wait {
			n.postpone(ctx, m, err)
			return bot.MessageRef{}, false
		}
		// With no original (it failed or was dropped) the update is posted
		// as a new message, so its news is not lost.
		edit = ref
	}
	out := bot.Outgoing{Key: m.Key, Reply: reply}
	sctx, scancel := context.WithTimeout(ctx, sendTimeout)
	defer scancel()
	var ref bot.MessageRef
	var err error
	found := false
	// uncertain stays true while the platform may have the message: until
	// a Find says it has not, or a send fails with the sender's word that
	// it was refused.
	uncertain := m.Uncertain
	if edit == nil && m.Uncertain {
		if f, ok := sender.(bot.Finder); ok {
			ref, found, err = f.Find(sctx, to, m.Key)
			var le *bot.LookupError
			if errors.As(err, &le) {
				n.hold(ctx, m, le)
				return bot.MessageRef{}, false
			}
			if err == nil && !found {
				uncertain = false
			}
			if found {
				n.log.Info("notification was already accepted; not posting again", "key", m.Key, "to", to.Name)
				// A message sent in parts (Slack: its words, then its
				// pictures) may lack some: deliver those, looked up first.
				// A failure leaves m uncertain, failed or not, so a
				// retry finds the message again instead of reposting it.
				if c, ok := sender.(bot.Completer); ok {
					err = c.Complete(sctx, to, ref, out)
				}
			}
		}
	}
	switch {
	case err != nil || found:
	case edit != nil:
		err = sender.Update(sctx, *edit, out)
		ref = *edit
	default:
		ref, err = sender.Post(sctx, to, out)
		var se *bot.SendError
		uncertain = err != nil && (!errors.As(err, &se) || ctx.Err() != nil)
	}
	if err != nil {
		n.retry(ctx, m, err, uncertain)
		return bot.MessageRef{}, false
	}
	return ref, true
}

// original finds the message an update edits or a reply threads under: its
// reference once sent, wait while it is still to be sent, nil when it never
// will be (failed, dropped or unknown).
func (n *Notifier) original(ctx context.Context, key string, sent map[string]bot.MessageRef) (ref *bot.MessageRef, wait bool, err error) {
	if r, ok := sent[key]; ok {
		return &r, false, nil
	}
	o, err := n.store.OutboxByKey(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	switch o.State {
	case storage.OutboxSent:
		return &bot.MessageRef{Channel: o.MessageChannel, ID: o.MessageID}, false, nil
	case storage.OutboxPending, storage.OutboxSending, storage.OutboxHeld:
		// A held original may be on the platform already: an edit or a
		// reply posted on its own could show it twice.
		return nil, true, nil
	}
	return nil, false, nil
}

// postpone puts m back to wait for its original without counting an attempt.
func (n *Notifier) postpone(ctx context.Context, m storage.OutboxMessage, err error) {
	now := n.clock.Now()
	if now.Sub(m.QueuedAt) >= time.Duration(n.cfg.MaxAge) {
		n.fail(ctx, m, "max_age", errors.New("the message it edits or replies to was never sent"))
		return
	}
	attempts := m.Attempts - 1
	o := storage.OutboxOutcome{State: storage.OutboxPending, NextAttemptAt: now.Add(waitStep),
		Uncertain: m.Uncertain, Attempts: &attempts, LastError: m.LastError}
	if err != nil {
		o.LastError = err.Error()
	}
	n.record(ctx, m, o)
}

// retry reschedules m after a failed send: exactly after the platform's
// Retry-After when it gave one, else after an exponential backoff with
// jitter; or gives up when the failure is permanent or m is too old.
// uncertain says the platform may have accepted m after all, so the next
// attempt asks it first.
func (n *Notifier) retry(ctx context.Context, m storage.OutboxMessage, err error, uncertain bool) {
	retry, wait := bot.RetryInfo(err)
	if ctx.Err() != nil {
		retry, wait = true, 0
	}
	if !retry {
		n.fail(ctx, m, "permanent", err)
		return
	}
	now := n.clock.Now()
	if ctx.Err() == nil && now.Sub(m.QueuedAt) >= time.Duration(n.cfg.MaxAge) {
		n.fail(ctx, m, "max_age", err)
		return
	}
	next := now.Add(wait)
	switch {
	case ctx.Err() != nil:
		// Stopping: leave it due for the next notifier.
		next = now
	case wait <= 0:
		next = now.Add(n.backoff(m.Attempts))
	}
	n.retries.WithLabelValues(m.Platform).Inc()
	n.log.Warn("notification not sent; will retry", "key", m.Key, "lane", m.Lane, "attempt", m.Attempts,
		"retry_at", next, "err", err)
	n.record(ctx, m, storage.OutboxOutcome{State: storage.OutboxPending, NextAttemptAt: next,
		LastError: errText(err), Uncertain: uncertain})
}

// backoff is the wait before attempt+1: doubling from one second, capped at
// max_backoff, with half of it random so senders that failed together do
// not retry together.
func (n *Notifier) backoff(attempts int) time.Duration {
	limit := time.Duration(n.cfg.MaxBackoff)
	d := time.Second << min(max(attempts-1, 0), 30)
	if d > limit || d <= 0 {
		d = limit
	}
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(d-half)+1))
}

// hold parks m, which the platform may have, for a person to retry: it
// cannot be looked up, and posting it again could post it twice.
func (n *Notifier) hold(ctx context.Context, m storage.OutboxMessage, le *bot.LookupError) {
	reason := fmt.Sprintf("held: the last send may have reached %s but it cannot be checked: %s; then run opsbot outbox retry %d to post it",
		m.Platform, errText(le), m.ID)
	n.log.Error("notification held: cannot check whether it was already sent", "key", m.Key, "lane", m.Lane,
		"id", m.ID, "err", le.Err, "fix", le.Fix)
	n.held.WithLabelValues(m.Platform).Inc()
	n.record(ctx, m, storage.OutboxOutcome{State: storage.OutboxHeld, LastError: reason, Uncertain: true})
}

func (n *Notifier) fail(ctx context.Context, m storage.OutboxMessage, reason string, err error) {
	if reason == "max_age" {
		n.log.Error("giving up on notification: not sent within outbox.max_age", "key", m.Key, "lane", m.Lane,
			"attempts", m.Attempts, "queued_at", m.QueuedAt, "max_age", time.Duration(n.cfg.MaxAge).String(), "err", err)
	} else {
		n.log.Error("notification failed permanently", "key", m.Key, "lane", m.Lane, "attempts", m.Attempts, "err", err)
	}
	n.failed.WithLabelValues(m.Platform, reason).Inc()
	n.record(ctx, m, storage.OutboxOutcome{State: storage.OutboxFailed, LastError: errText(err), Uncertain: m.Uncertain})
}

// record writes m's outcome. It gets a recording time of its own, however
// long the send before it took, and is not cut short by stopping.
func (n *Notifier) record(ctx context.Context, m storage.OutboxMessage, o storage.OutboxOutcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	ok, err := n.store.FinishOutbox(ctx, m.ID, n.id, o)
	if err != nil {
		n.log.Error("record notification outcome", "key", m.Key, "err", err)
	} else if !ok {
		n.log.Warn("notification claim lost before its outcome was recorded", "key", m.Key)
	}
}

// errText is an error for LastError, cut to a readable length.
func errText(err error) string {
	s := err.Error()
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}

// updateBacklog sets the queue gauges from the database.
func (n *Notifier) updateBacklog(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	stats, err := n.store.OutboxBacklog(ctx)
	if err != nil {
		n.log.Error("outbox backlog", "err", err)
		return
	}
	n.queued.Reset()
	n.oldest.Reset()
	now := n.clock.Now()
	for _, s := range stats {
		n.queued.WithLabelValues(s.Platform).Set(float64(s.Queued))
		if !s.Oldest.IsZero() {
			n.oldest.WithLabelValues(s.Platform).Set(max(now.Sub(s.Oldest).Seconds(), 0))
		}
	}
}

// Metrics are the notifier's collectors.
type Metrics struct {
	Queued, Oldest        *prometheus.GaugeVec
	Sent, Retries, Failed *prometheus.CounterVec
	Latency               *prometheus.HistogramVec
}

// Metrics returns the notifier's collectors, for tests and status pages.
func (n *Notifier) Metrics() Metrics {
	return Metrics{Queued: n.queued, Oldest: n.oldest, Sent: n.sent, Retries: n.retries, Failed: n.failed, Latency: n.latency}
}

// LogSender is the sink for the embedded default: each notification becomes
// one log line with its destination and fallback text.
type LogSender struct {
	Log *slog.Logger
}

var _ bot.Sender = (*LogSender)(nil)

// Post logs the message; its reference is its key.
func (s *LogSender) Post(_ context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	args := []any{"to", to.Name, "key", msg.Key, "text", msg.Reply.Fallback()}
	if to.Thread != "" {
		args = append(args, "thread", to.Thread)
	}
	s.Log.Info("notification", args...)
	return bot.MessageRef{Channel: to.Name, ID: msg.Key}, nil
}

// Update logs the new content of an earlier message.
func (s *LogSender) Update(_ context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	s.Log.Info("notification updated", "to", ref.Channel, "message", ref.ID, "key", msg.Key, "text", msg.Reply.Fallback())
	return nil
}
