package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakePlatform is a chat platform in memory: it accepts, rate-limits and
// fails posts as a script says, and checks what a platform would notice:
// a post to a channel before its Retry-After ran out, two posts to one
// channel at once, a post of a key it already has.
type fakePlatform struct {
	mu    sync.Mutex
	clock clock.Clock
	// script decides the outcome of the n-th attempt (from 1) at a key;
	// nil accepts.
	script func(key string, n int) error
	// block, when set, is called inside Post before accepting.
	block func(ctx context.Context, key string) error

	attempts   map[string]int
	accepted   map[string]int
	order      map[string][]string // channel → keys in the order accepted
	threads    map[string]string   // key → thread it was posted under
	updates    map[string][]string // message id → keys of updates applied
	notBefore  map[string]time.Time
	busy       map[string]int
	finds      []string
	findErr    error // Find's answer when set: the lookup is impossible
	violations []string
	seq        int
}

// failFirst is a fake's script that fails the first attempt at key with
// err and accepts everything else.
func failFirst(key string, err error) func(string, int) error {
	return func(k string, n int) error {
		if k == key && n == 1 {
			return err
		}
		return nil
	}
}

func newFake(clk clock.Clock, script func(string, int) error) *fakePlatform {
	return &fakePlatform{clock: clk, script: script, attempts: map[string]int{}, accepted: map[string]int{},
		order: map[string][]string{}, threads: map[string]string{}, updates: map[string][]string{},
		notBefore: map[string]time.Time{}, busy: map[string]int{}}
}

func (f *fakePlatform) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	ch := to.Channel + to.User
	f.mu.Lock()
	f.busy[ch]++
	if f.busy[ch] > 1 {
		f.violations = append(f.violations, fmt.Sprintf("two posts at once to %s", ch))
	}
	f.attempts[msg.Key]++
	n := f.attempts[msg.Key]
	now := f.clock.Now()
	if nb := f.notBefore[ch]; now.Before(nb) {
		f.violations = append(f.violations, fmt.Sprintf("%s: post at %s before Retry-After ended at %s", msg.Key, now, nb))
	}
	var err error
	if f.script != nil {
		err = f.script(msg.Key, n)
	}
	block := f.block
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.busy[ch]--; f.mu.Unlock() }()
	if err != nil {
		var se *bot.SendError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			f.mu.Lock()
			f.notBefore[ch] = now.Add(se.RetryAfter)
			f.mu.Unlock()
		}
		return bot.MessageRef{}, err
	}
	var berr error
	if block != nil {
		berr = block(ctx, msg.Key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.accepted[msg.Key]++
	if f.accepted[msg.Key] > 1 {
		f.violations = append(f.violations, "posted twice: "+msg.Key)
	}
	f.order[ch] = append(f.order[ch], msg.Key)
	if to.Thread != "" {
		f.threads[msg.Key] = to.Thread
	}
	// A real platform may accept a message and still fail the call
	// (a timeout on the way back): berr is that.
	return bot.MessageRef{Channel: ch, ID: fmt.Sprintf("m%d", f.seq)}, berr
}

func (f *fakePlatform) Update(_ context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates[ref.ID] = append(f.updates[ref.ID], msg.Key)
	return nil
}

// Find looks the key up as a platform search by metadata would.
func (f *fakePlatform) Find(_ context.Context, to bot.Target, key string) (bot.MessageRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds = append(f.finds, key)
	if f.findErr != nil {
		return bot.MessageRef{}, false, f.findErr
	}
	if f.accepted[key] > 0 {
		return bot.MessageRef{Channel: to.Channel + to.User, ID: "found-" + key}, true, nil
	}
	return bot.MessageRef{}, false, nil
}

var _ bot.Finder = (*fakePlatform)(nil)

func (f *fakePlatform) check(t *testing.T, keys []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.violations {
		t.Error(v)
	}
	for _, k := range keys {
		if f.accepted[k] != 1 {
			t.Errorf("%s accepted %d times, want once", k, f.accepted[k])
		}
	}
}

// env is one backend's outbox with channels c0..c9 on Slack.
type env struct {
	b     storagetest.Backend
	store *storage.Store
	clock *clock.Fake
	ob    *notify.Outbox
	cfg   config.OutboxConfig
}

func newEnv(t *testing.T, b storagetest.Backend) *env {
	cfg := &config.Config{Channels: map[string]config.Channel{}}
	cfg.Slack.Enabled = true
	for i := range 50 {
		cfg.Channels[fmt.Sprintf("c%d", i)] = config.Channel{Slack: fmt.Sprintf("C%d", i)}
	}
	cfg.People = []config.Person{{Name: "alice", SlackID: "UALICE"}}
	fc := clock.NewFake(start)
	return &env{b: b, store: storagetest.Open(t, b), clock: fc, ob: notify.New(cfg, bot.NewDirectory(cfg.People), fc),
		cfg: config.OutboxConfig{Workers: 4, Poll: config.Duration(time.Second),
			MaxAge: config.Duration(24 * time.Hour), MaxBackoff: config.Duration(30 * time.Second)}}
}

func (e *env) enqueue(t testing.TB, ns ...notify.Notification) {
	t.Helper()
	if err := e.store.Tx(context.Background(), func(tx *gorm.DB) error { return e.ob.Enqueue(tx, ns...) }); err != nil {
		t.Fatal(err)
	}
}

func (e *env) notifier(t testing.TB, store *storage.Store, s bot.Sender, reg prometheus.Registerer, log *slog.Logger) *notify.Notifier {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := notify.NewNotifier(store, e.clock, log, reg, e.cfg, map[bot.Platform]bot.Sender{bot.Slack: s})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// until drains and moves the clock a second at a time until done says so.
func (e *env) until(t *testing.T, n *notify.Notifier, done func() bool) {
	t.Helper()
	for range 20000 {
		if _, err := n.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		if done() {
			return
		}
		e.clock.Advance(time.Second)
	}
	t.Fatal("outbox never drained")
}

func (e *env) row(t *testing.T, key string) storage.OutboxMessage {
	t.Helper()
	m, err := e.store.OutboxByKey(context.Background(), notify.RowKey(key, bot.Slack))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) allSent(t *testing.T) func() bool {
	return func() bool {
		var n int64
		if err := e.store.DB.Model(&storage.OutboxMessage{}).Where("state <> ?", storage.OutboxSent).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n == 0
	}
}

// messages enqueues per messages to each of lanes channels and returns the
// keys by channel id, in order.
func (e *env) messages(t testing.TB, lanes, per int) (map[string][]string, []string) {
	byCh := map[string][]string{}
	var all []string
	var ns []notify.Notification
	for i := range per {
		for c := range lanes {
			key := fmt.Sprintf("n-%d-%d", c, i)
			ns = append(ns, notify.Notification{Key: key, To: notify.Destination{Channel: fmt.Sprintf("c%d", c)},
				Reply: bot.Reply{Title: "message", Text: key}})
			byCh[fmt.Sprintf("C%d", c)] = append(byCh[fmt.Sprintf("C%d", c)], notify.RowKey(key, bot.Slack))
			all = append(all, notify.RowKey(key, bot.Slack))
		}
	}
	for len(ns) > 0 {
		k := min(len(ns), 200)
		e.enqueue(t, ns[:k]...)
		ns = ns[k:]
	}
	return byCh, all
}

func checkOrder(t *testing.T, f *fakePlatform, want map[string][]string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch, keys := range want {
		if got := f.order[ch]; strings.Join(got, ",") != strings.Join(keys, ",") {
			t.Errorf("channel %s order:\n got %v\nwant %v", ch, got, keys)
		}
	}
}

func TestFlakyPlatformDeliversOnceInOrder(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			byCh, all := e.messages(t, 3, 12)
			// Message i of each channel: every third fails twice with a 500,
			// every third is rate limited twice (Retry-After 7s then 45s,
			// longer than max_backoff), the rest go through.
			script := func(key string, n int) error {
				var c, i int
				fmt.Sscanf(key, "n-%d-%d@slack", &c, &i)
				switch {
				case i%3 == 0 && n <= 2:
					return bot.Retryable(errors.New("slack: HTTP 500"), 0)
				case i%3 == 1 && n == 1:
					return bot.Retryable(errors.New("slack: HTTP 429"), 7*time.Second)
				case i%3 == 1 && n == 2:
					return bot.Retryable(errors.New("slack: HTTP 429"), 45*time.Second)
				}
				return nil
			}
			f := newFake(e.clock, script)
			reg := prometheus.NewRegistry()
			n := e.notifier(t, e.store, f, reg, nil)
			e.until(t, n, e.allSent(t))
			f.check(t, all)
			checkOrder(t, f, byCh)
			// Each rate-limited message was tried exactly three times: never
			// early (the fake records a violation), and not given up.
			for i := range 12 {
				want := 1
				if i%3 != 2 {
					want = 3
				}
				if got := e.row(t, fmt.Sprintf("n-0-%d", i)).Attempts; got != want {
					t.Errorf("n-0-%d: %d attempts, want %d", i, got, want)
				}
			}
			if got := testutil.ToFloat64(n.Metrics().Sent.WithLabelValues("slack")); got != 36 {
				t.Errorf("sent_total = %v, want 36", got)
			}
			if got := testutil.ToFloat64(n.Metrics().Retries.WithLabelValues("slack")); got != 48 {
				t.Errorf("retries_total = %v, want 48", got)
			}
			if got := testutil.ToFloat64(n.Metrics().Queued.WithLabelValues("slack")); got != 0 {
				t.Errorf("queued = %v, want 0", got)
			}
		})
	}
}

func TestRetryAfterIsHonouredExactly(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			e.enqueue(t, notify.Notification{Key: "a", To: notify.Destination{Channel: "c0"}, Reply: bot.Text("a")},
				notify.Notification{Key: "b", To: notify.Destination{Channel: "c0"}, Reply: bot.Text("b")})
			f := newFake(e.clock, failFirst("a@slack", bot.Retryable(errors.New("HTTP 429"), 90*time.Second)))
			n := e.notifier(t, e.store, f, nil, nil)
			if sent, err := n.Drain(context.Background()); err != nil || sent != 0 {
				t.Fatalf("first drain: %d sent, %v", sent, err)
			}
			if got := e.row(t, "a").NextAttemptAt; !got.Equal(start.Add(90 * time.Second)) {
				t.Errorf("next attempt at %s, want exactly Retry-After later (%s)", got, start.Add(90*time.Second))
			}
			e.clock.Advance(89 * time.Second)
			if sent, _ := n.Drain(context.Background()); sent != 0 || f.attempts["a@slack"] != 1 || f.attempts["b@slack"] != 0 {
				t.Fatalf("before Retry-After: sent %d, attempts %v (b must wait behind a)", sent, f.attempts)
			}
			e.clock.Advance(time.Second)
			if sent, _ := n.Drain(context.Background()); sent != 2 {
				t.Fatalf("after Retry-After: sent %d, want 2", sent)
			}
			f.check(t, []string{"a@slack", "b@slack"})
		})
	}
}

func TestStoppedMidSendThenRestartedDeliversOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			byCh, all := e.messages(t, 2, 5)
			f := newFake(e.clock, nil)
			inSend := make(chan struct{})
			// The platform accepts n-0-2 but the call only returns when the
			// notifier is stopped: the outcome is unknown to it.
			f.block = func(ctx context.Context, key string) error {
				if key != "n-0-2@slack" {
					return nil
				}
				close(inSend)
				<-ctx.Done()
				return ctx.Err()
			}
			ctx, cancel := context.WithCancel(context.Background())
			first := e.notifier(t, e.store, f, nil, nil)
			done := make(chan error)
			go func() { _, err := first.Drain(ctx); done <- err }()
			<-inSend
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped drain returned %v", err)
			}
			if m := e.row(t, "n-0-2"); m.State != storage.OutboxPending || !m.Uncertain {
				t.Fatalf("after stop: state %s uncertain %v, want pending and uncertain", m.State, m.Uncertain)
			}
			f.mu.Lock()
			f.block = nil
			f.mu.Unlock()
			// A new process: its own connection to the same database.
			store2 := storagetest.Open(t, b)
			second := e.notifier(t, store2, f, nil, nil)
			e.until(t, second, e.allSent(t))
			f.check(t, all)
			checkOrder(t, f, byCh)
			if got := e.row(t, "n-0-2").MessageID; got != "found-n-0-2@slack" {
				t.Errorf("message id %q, want the one Find returned", got)
			}
		})
	}
}

func TestCrashedSenderLeaseExpires(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			_, all := e.messages(t, 1, 3)
			f := newFake(e.clock, nil)
			// A process claims the first message, the platform accepts it,
			// and the process dies before writing anything down.
			claimed, err := e.store.ClaimOutbox(context.Background(), "dead", e.clock.Now(), 2*time.Minute, 1, slackScope)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			if _, err := f.Post(context.Background(), bot.Target{Channel: "C0"}, bot.Outgoing{Key: claimed[0].Key}); err != nil {
				t.Fatal(err)
			}
			n := e.notifier(t, e.store, f, nil, nil)
			if sent, _ := n.Drain(context.Background()); sent != 0 {
				t.Fatalf("sent %d while the dead claim holds the lane", sent)
			}
			e.clock.Advance(2 * time.Minute)
			if sent, _ := n.Drain(context.Background()); sent != 3 {
				t.Fatalf("sent %d after the lease ran out, want 3", sent)
			}
			f.check(t, all)
			if len(f.finds) != 1 || f.finds[0] != claimed[0].Key {
				t.Errorf("finds %v, want one for %s", f.finds, claimed[0].Key)
			}
		})
	}
}

func TestTwoNotifiersNeverSendARowTwice(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			byCh, all := e.messages(t, 8, 25)
			f := newFake(e.clock, func(key string, n int) error {
				if n == 1 && strings.HasSuffix(key, "3@slack") {
					return bot.Retryable(errors.New("HTTP 502"), time.Second)
				}
				return nil
			})
			n1 := e.notifier(t, e.store, f, nil, nil)
			n2 := e.notifier(t, storagetest.Open(t, b), f, nil, nil)
			for range 200 {
				var wg sync.WaitGroup
				for _, n := range []*notify.Notifier{n1, n2} {
					wg.Go(func() {
						if _, err := n.Drain(context.Background()); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if e.allSent(t)() {
					break
				}
				e.clock.Advance(time.Second)
			}
			f.check(t, all)
			checkOrder(t, f, byCh)
		})
	}
}

func TestUpdatesAndThreads(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			to := notify.Destination{Channel: "c0"}
			e.enqueue(t,
				notify.Notification{Key: "inc", To: to, Reply: bot.Text("down")},
				notify.Notification{Key: "inc-ack", To: to, Reply: bot.Text("down, acked"), Updates: "inc"},
				notify.Notification{Key: "inc-note", To: to, Reply: bot.Text("looking"), Thread: "inc"},
				notify.Notification{Key: "bad", To: to, Reply: bot.Text("refused")},
				notify.Notification{Key: "bad-upd", To: to, Reply: bot.Text("news"), Updates: "bad"},
				// The original is elsewhere and slow: the update waits for it.
				notify.Notification{Key: "slow", To: notify.Destination{Channel: "c1"}, Reply: bot.Text("slow")},
				notify.Notification{Key: "slow-upd", To: to, Reply: bot.Text("slow, edited"), Updates: "slow"},
			)
			f := newFake(e.clock, func(key string, n int) error {
				switch {
				case key == "bad@slack":
					return bot.Permanent(errors.New("channel_not_found"))
				case key == "slow@slack" && n < 4:
					return bot.Retryable(errors.New("HTTP 503"), 20*time.Second)
				}
				return nil
			})
			n := e.notifier(t, e.store, f, nil, nil)
			e.until(t, n, func() bool { return e.row(t, "slow-upd").State == storage.OutboxSent })
			inc := e.row(t, "inc")
			if got := f.updates[inc.MessageID]; strings.Join(got, ",") != "inc-ack@slack" {
				t.Errorf("updates of the first post: %v", got)
			}
			if got := e.row(t, "inc-ack").MessageID; got != inc.MessageID {
				t.Errorf("update's message id %q, want the original's %q", got, inc.MessageID)
			}
			if got := f.threads["inc-note@slack"]; got != inc.MessageID {
				t.Errorf("thread reply under %q, want %q", got, inc.MessageID)
			}
			if m := e.row(t, "bad"); m.State != storage.OutboxFailed || m.Attempts != 1 {
				t.Errorf("permanent failure: state %s after %d attempts", m.State, m.Attempts)
			}
			if f.accepted["bad-upd@slack"] != 1 {
				t.Error("update of a failed message was not posted as a new one")
			}
			if got := f.updates[e.row(t, "slow").MessageID]; strings.Join(got, ",") != "slow-upd@slack" {
				t.Errorf("slow original's updates: %v", got)
			}
			if f.accepted["slow-upd@slack"] != 0 {
				t.Error("update of a slow original was posted instead of waiting to edit it")
			}
		})
	}
}

func TestMaxAgeGivesUp(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			e.cfg.MaxAge = config.Duration(time.Hour)
			e.cfg.MaxBackoff = config.Duration(5 * time.Minute)
			to := notify.Destination{Channel: "c0"}
			e.enqueue(t, notify.Notification{Key: "doomed", To: to, Reply: bot.Text("x")},
				notify.Notification{Key: "after", To: to, Reply: bot.Text("y")})
			f := newFake(e.clock, func(key string, _ int) error {
				if key == "doomed@slack" {
					return bot.Retryable(errors.New("HTTP 500"), 0)
				}
				return nil
			})
			var logs bytes.Buffer
			n := e.notifier(t, e.store, f, nil, slog.New(slog.NewTextHandler(&logs, nil)))
			e.until(t, n, func() bool { return e.row(t, "after").State == storage.OutboxSent })
			m := e.row(t, "doomed")
			if m.State != storage.OutboxFailed || !strings.Contains(m.LastError, "HTTP 500") {
				t.Errorf("doomed: state %s, last error %q", m.State, m.LastError)
			}
			if age := e.clock.Now().Sub(start); age < time.Hour || age > time.Hour+6*time.Minute {
				t.Errorf("gave up after %s, want just past max_age 1h", age)
			}
			if got := testutil.ToFloat64(n.Metrics().Failed.WithLabelValues("slack", "max_age")); got != 1 {
				t.Errorf("failed_total{reason=max_age} = %v", got)
			}
			if !strings.Contains(logs.String(), "giving up on notification") || !strings.Contains(logs.String(), "doomed@slack") {
				t.Errorf("no give-up log line:\n%s", logs.String())
			}
		})
	}
}

// slackScope claims what a notifier with a Slack sender claims.
var slackScope = storage.OutboxScope{Platforms: []string{"slack"}}

// TestOnlyDeliverersClaim: a notifier without a sender for a platform (the
// shell, a serve with that platform off) never claims its messages, so it
// can neither mark them sent nor hold up their lane; one that can deliver
// them does, once each.
func TestOnlyDeliverersClaim(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			e.enqueue(t, notify.Notification{Key: "x", To: notify.Destination{Person: "alice"}, Reply: bot.Text("hi")})
			logOnly, err := notify.NewNotifier(e.store, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, e.cfg,
				map[bot.Platform]bot.Sender{bot.Log: newFake(e.clock, nil)})
			if err != nil {
				t.Fatal(err)
			}
			e.ob.Attach(logOnly)
			none, err := notify.NewNotifier(e.store, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, e.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []*notify.Notifier{logOnly, none} {
				if sent, _ := n.Drain(context.Background()); sent != 0 {
					t.Fatal("sent without a Slack sender")
				}
			}
			if m := e.row(t, "x"); m.State != storage.OutboxPending || m.Attempts != 0 || m.ClaimedBy != "" {
				t.Fatalf("claimed by a notifier that cannot deliver it: state %s, attempts %d, by %q", m.State, m.Attempts, m.ClaimedBy)
			}
			f := newFake(e.clock, nil)
			none.Register(bot.Slack, f)
			e.until(t, none, e.allSent(t))
			if f.order["UALICE"][0] != "x@slack" || f.accepted["x@slack"] != 1 {
				t.Errorf("direct message went to %v", f.order)
			}
		})
	}
}

// TestLogSinkIsTheWritersOwn: a message for a platform that is not enabled
// goes to the log sink of the process that wrote it; another process's
// notifier, even with a log sink of its own, never claims it.
func TestLogSinkIsTheWritersOwn(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			// This process has no platform enabled: everything is logged.
			local := notify.New(&config.Config{Channels: map[string]config.Channel{"helpdesk": {Slack: "C1"}}}, bot.NewDirectory(nil), e.clock)
			var queued []notify.Queued
			local.OnQueued(func(q notify.Queued) { queued = append(queued, q) })
			err := e.store.Tx(context.Background(), func(tx *gorm.DB) error {
				return local.Enqueue(tx,
					notify.Notification{Key: "card", To: notify.Destination{Channel: "helpdesk"}, Reply: bot.Text("card of #12 updated")},
					notify.Notification{Key: "thread", To: notify.Destination{Target: &bot.Target{Platform: bot.Discord, Channel: "200", Name: "#ops"}},
						Reply: bot.Text("reply")})
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(queued) != 0 {
				t.Errorf("log sink messages reported as queued for a platform: %+v", queued)
			}
			// Another process: Slack enabled, its own log sink.
			otherSink, otherSlack := newFake(e.clock, nil), newFake(e.clock, nil)
			other, err := notify.NewNotifier(e.store, e.clock, quiet, nil, e.cfg,
				map[bot.Platform]bot.Sender{bot.Log: otherSink, bot.Slack: otherSlack})
			if err != nil {
				t.Fatal(err)
			}
			e.ob.Attach(other)
			if sent, _ := other.Drain(context.Background()); sent != 0 {
				t.Fatalf("another process sent %d of this one's log sink messages", sent)
			}
			mine := newFake(e.clock, nil)
			n, err := notify.NewNotifier(e.store, e.clock, quiet, nil, e.cfg, map[bot.Platform]bot.Sender{bot.Log: mine})
			if err != nil {
				t.Fatal(err)
			}
			local.Attach(n)
			if sent, _ := n.Drain(context.Background()); sent != 2 {
				t.Fatalf("the writer's own notifier sent %d, want 2", sent)
			}
			for _, k := range []string{"card@log", "thread@log"} {
				m, err := e.store.OutboxByKey(context.Background(), k)
				if err != nil || m.State != storage.OutboxSent || mine.accepted[k] != 1 {
					t.Errorf("%s: state %s, logged %d times (%v)", k, m.State, mine.accepted[k], err)
				}
			}
		})
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := &notify.LogSender{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	ref, err := s.Post(context.Background(), bot.Target{Platform: bot.Log, Name: "#helpdesk"},
		bot.Outgoing{Key: "t:1@log", Reply: bot.Reply{Title: "Ticket #1", Text: "VPN drops"}})
	if err != nil || ref.ID != "t:1@log" {
		t.Fatalf("ref %v, err %v", ref, err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, "to=#helpdesk") || !strings.Contains(line, `text="Ticket #1: VPN drops"`) {
		t.Errorf("log line %q", line)
	}
}

func TestOperatorRetryAndDrop(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			to := notify.Destination{Channel: "c0"}
			e.enqueue(t, notify.Notification{Key: "a", To: to, Reply: bot.Text("a")},
				notify.Notification{Key: "b", To: to, Reply: bot.Text("b")})
			broken := true
			f := newFake(e.clock, func(string, int) error {
				if broken {
					return bot.Permanent(errors.New("not_in_channel"))
				}
				return nil
			})
			n := e.notifier(t, e.store, f, nil, nil)
			n.Drain(context.Background())
			a, bm := e.row(t, "a"), e.row(t, "b")
			if a.State != storage.OutboxFailed || bm.State != storage.OutboxFailed {
				t.Fatalf("states %s %s", a.State, bm.State)
			}
			ctx := context.Background()
			if _, err := e.store.DropOutbox(ctx, bm.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.DropOutbox(ctx, bm.ID); !errors.Is(err, storage.ErrOutboxState) {
				t.Errorf("drop twice: %v", err)
			}
			if _, err := e.store.RetryOutbox(ctx, 999999, e.clock.Now()); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("retry unknown: %v", err)
			}
			broken = false
			if k, err := e.store.RetryFailedOutbox(ctx, e.clock.Now()); err != nil || k != 1 {
				t.Fatalf("retry failed: %d %v", k, err)
			}
			if sent, _ := n.Drain(ctx); sent != 1 {
				t.Fatalf("sent %d after retry", sent)
			}
			if _, err := e.store.RetryOutbox(ctx, a.ID, e.clock.Now()); !errors.Is(err, storage.ErrOutboxState) {
				t.Errorf("retry of a sent message: %v", err)
			}
			list, err := e.store.ListOutbox(ctx, storage.OutboxDropped, 10)
			if err != nil || len(list) != 1 || list[0].ID != bm.ID {
				t.Errorf("list dropped: %v %v", list, err)
			}
		})
	}
}

// TestRenewedLeaseHolds: a live notifier renews its claims, so another
// cannot take them when the first lease runs out; once renewals stop (the
// process died) the message is taken one lease later, as uncertain.
func TestRenewedLeaseHolds(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			e.messages(t, 1, 1)
			ctx := context.Background()
			const lease = 15 * time.Second
			claimed, err := e.store.ClaimOutbox(ctx, "live", e.clock.Now(), lease, 1, slackScope)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			e.clock.Advance(10 * time.Second)
			if n, err := e.store.RenewOutbox(ctx, "live", e.clock.Now().Add(lease)); err != nil || n != 1 {
				t.Fatalf("renew: %d %v", n, err)
			}
			if n, err := e.store.RenewOutbox(ctx, "other", e.clock.Now().Add(lease)); err != nil || n != 0 {
				t.Fatalf("renew by another owner: %d %v", n, err)
			}
			e.clock.Advance(10 * time.Second) // past the first lease, inside the renewed one
			if got, err := e.store.ClaimOutbox(ctx, "other", e.clock.Now(), lease, 1, slackScope); err != nil || len(got) != 0 {
				t.Fatalf("claimed a renewed lease: %v %v", got, err)
			}
			e.clock.Advance(lease)
			got, err := e.store.ClaimOutbox(ctx, "other", e.clock.Now(), lease, 1, slackScope)
			if err != nil || len(got) != 1 || !got[0].Uncertain {
				t.Fatalf("after the renewed lease ran out: %+v %v", got, err)
			}
		})
	}
}

// TestUnfindableIsHeld: a send whose outcome is unknown and which the
// platform cannot look up (a missing scope) is held with what to fix,
// neither posted again nor failed; its lane moves on; a person's retry
// posts it, without looking, once.
func TestUnfindableIsHeld(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			_, all := e.messages(t, 1, 2)
			f := newFake(e.clock, failFirst(all[0], errors.New("connection reset after the request left")))
			f.findErr = &bot.LookupError{Err: errors.New("slack conversations.history #c0: missing_scope"),
				Fix: "add the channels:history scope to the Slack app"}
			n := e.notifier(t, e.store, f, nil, nil)
			e.until(t, n, func() bool { return e.row(t, "n-0-1").State == storage.OutboxSent })
			m := e.row(t, "n-0-0")
			if m.State != storage.OutboxHeld || !strings.Contains(m.LastError, "channels:history") ||
				!strings.Contains(m.LastError, fmt.Sprintf("opsbot outbox retry %d", m.ID)) {
				t.Fatalf("state %s, last error %q; want held with the scope to add and the retry command", m.State, m.LastError)
			}
			if f.attempts[all[0]] != 1 {
				t.Fatalf("posted %d times before holding, want once", f.attempts[all[0]])
			}
			e.clock.Advance(time.Hour)
			if sent, _ := n.Drain(context.Background()); sent != 0 || e.row(t, "n-0-0").State != storage.OutboxHeld {
				t.Fatal("a held message was sent without a person's word")
			}
			if _, err := e.store.RetryOutbox(context.Background(), m.ID, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			finds := len(f.finds)
			e.until(t, n, e.allSent(t))
			if len(f.finds) != finds {
				t.Errorf("looked again after a person's retry")
			}
			f.check(t, all)
		})
	}
}

// TestStoppedBetweenSendsLeavesTheRestAsTheyWere: a notifier stopped while
// a message of its lane was being sent records that one as sent and claims
// nothing more; one stopped after claiming a message but before sending it
// puts it back untouched (no attempt counted, nothing to look up). The next
// notifier then posts the rest at once, asking the platform about none.
func TestStoppedBetweenSendsLeavesTheRestAsTheyWere(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			byCh, all := e.messages(t, 1, 4)
			f := newFake(e.clock, nil)
			// The platform takes n-0-0, answering only once the notifier
			// is told to stop.
			inSend := make(chan struct{})
			f.block = func(ctx context.Context, key string) error {
				if key == "n-0-0@slack" {
					close(inSend)
					<-ctx.Done()
				}
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			first := e.notifier(t, e.store, f, nil, nil)
			done := make(chan int)
			go func() { sent, _ := first.Drain(ctx); done <- sent }()
			<-inSend
			cancel()
			if sent := <-done; sent != 1 {
				t.Fatalf("the stopped drain sent %d, want 1", sent)
			}
			if m := e.row(t, "n-0-0"); m.State != storage.OutboxSent {
				t.Fatalf("n-0-0 is %s, want sent", m.State)
			}
			if m := e.row(t, "n-0-1"); m.State != storage.OutboxPending || m.Attempts != 0 || m.ClaimedBy != "" {
				t.Fatalf("n-0-1 after the stop: %+v, want pending and untouched", m)
			}

			// Claimed, then stopped before its send began.
			f.mu.Lock()
			f.block = nil
			f.mu.Unlock()
			second := e.notifier(t, e.store, f, nil, nil)
			claimed, err := e.store.ClaimOutbox(context.Background(), second.ID(), e.clock.Now(), time.Minute, 1, slackScope)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v, %v", claimed, err)
			}
			stopped, stop := context.WithCancel(context.Background())
			stop()
			if sent := second.Work(stopped, claimed[0]); sent != 0 {
				t.Fatalf("a stopped worker sent %d", sent)
			}
			if m := e.row(t, "n-0-1"); m.State != storage.OutboxPending || m.Attempts != 0 || m.Uncertain ||
				m.ClaimedBy != "" || m.NextAttemptAt.After(e.clock.Now()) {
				t.Fatalf("n-0-1 put back as %+v, want pending, due, no attempt and certain", m)
			}

			third := e.notifier(t, storagetest.Open(t, b), f, nil, nil)
			if sent, err := third.Drain(context.Background()); err != nil || sent != 3 {
				t.Fatalf("the next notifier sent %d (%v), want 3 at once", sent, err)
			}
			f.check(t, all)
			checkOrder(t, f, byCh)
			if len(f.finds) != 0 {
				t.Errorf("looked up %v; nothing was uncertain", f.finds)
			}
		})
	}
}

// TestFailureMidRunPutsTheRestBack: a worker sends a lane in runs; when
// one message of a run fails, those before it are recorded sent, it waits
// for its retry, and the ones behind it go back untouched (no attempt
// counted, nothing to look up), to follow it in order.
func TestFailureMidRunPutsTheRestBack(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			byCh, all := e.messages(t, 1, 6)
			f := newFake(e.clock, failFirst("n-0-2@slack", bot.Retryable(errors.New("HTTP 503"), 5*time.Second)))
			n := e.notifier(t, e.store, f, nil, nil)
			if sent, err := n.Drain(context.Background()); err != nil || sent != 2 {
				t.Fatalf("first drain sent %d (%v), want the 2 before the failure", sent, err)
			}
			for i, want := range []string{storage.OutboxSent, storage.OutboxSent, storage.OutboxPending,
				storage.OutboxPending, storage.OutboxPending, storage.OutboxPending} {
				m := e.row(t, fmt.Sprintf("n-0-%d", i))
				wantAttempts := 0
				if i <= 2 {
					wantAttempts = 1
				}
				if m.State != want || m.Attempts != wantAttempts || m.Uncertain || m.ClaimedBy != "" {
					t.Errorf("n-0-%d: %s, %d attempts, uncertain %v, claimed by %q; want %s and %d attempts",
						i, m.State, m.Attempts, m.Uncertain, m.ClaimedBy, want, wantAttempts)
				}
			}
			e.until(t, n, e.allSent(t))
			f.check(t, all)
			checkOrder(t, f, byCh)
			if len(f.finds) != 0 {
				t.Errorf("looked up %v; nothing was uncertain", f.finds)
			}
		})
	}
}
