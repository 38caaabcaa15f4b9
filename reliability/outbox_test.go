package reliability

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	slackbot "opsbot/bot/slack"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakeslack"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const slackToken = "xoxb-reliability-token"

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// outboxEnv is a real outbox and notifier with the real Slack sender, on a
// fake clock, against a fake Slack.
type outboxEnv struct {
	store *storage.Store
	clock *clock.Fake
	ob    *notify.Outbox
	n     *notify.Notifier
	slack *fakeslack.Server
}

func newOutboxEnv(t *testing.T, b storagetest.Backend) *outboxEnv {
	t.Helper()
	fs := fakeslack.New(t, slackToken)
	cfg := &config.Config{Channels: map[string]config.Channel{}}
	cfg.Slack = config.SlackConfig{Enabled: true, BotToken: config.Secret(slackToken), APIURL: fs.URL()}
	for i := range 3 {
		cfg.Channels[fmt.Sprintf("c%d", i)] = config.Channel{Slack: fmt.Sprintf("C%d", i)}
		// serve joins its channels, so it can look its messages up there.
		fs.AddMember(fmt.Sprintf("C%d", i))
	}
	cfg.People = []config.Person{{Name: "alice", SlackID: "UALICE"}}
	fc := clock.NewFake(start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storagetest.Open(t, b)
	n, err := notify.NewNotifier(store, fc, log, nil, config.OutboxConfig{Workers: 4, Poll: config.Duration(time.Second),
		MaxAge: config.Duration(24 * time.Hour), MaxBackoff: config.Duration(10 * time.Second)},
		map[bot.Platform]bot.Sender{bot.Slack: slackbot.NewSender(cfg.Slack, log)})
	if err != nil {
		t.Fatal(err)
	}
	return &outboxEnv{store: store, clock: fc, ob: notify.New(cfg, bot.NewDirectory(cfg.People), fc), n: n, slack: fs}
}

func (e *outboxEnv) enqueue(t *testing.T, ns ...notify.Notification) {
	t.Helper()
	if err := e.store.Tx(context.Background(), func(tx *gorm.DB) error { return e.ob.Enqueue(tx, ns...) }); err != nil {
		t.Fatal(err)
	}
}

func (e *outboxEnv) unsent(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := e.store.DB.Model(&storage.OutboxMessage{}).Where("state <> ?", storage.OutboxSent).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSlackDownThenBackDeliversEachOnce: Slack refuses connections for a
// minute, then answers 503 for another, then accepts three messages but
// drops the answers; when it is healthy again every queued message has been
// posted exactly once, in order per channel.
func TestSlackDownThenBackDeliversEachOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newOutboxEnv(t, b)
			e.slack.Set(t, fakeslack.Refused)
			var want []string
			var ns []notify.Notification
			for i := range 30 {
				key := fmt.Sprintf("n%02d", i)
				to := notify.Destination{Channel: fmt.Sprintf("c%d", i%3)}
				if i%10 == 9 {
					to = notify.Destination{Person: "alice"}
				}
				ns = append(ns, notify.Notification{Key: key, To: to, Reply: bot.Text("message " + key)})
				want = append(want, notify.RowKey(key, bot.Slack))
			}
			e.enqueue(t, ns...)
			phase := fakeslack.Refused
			for step := 0; e.unsent(t) > 0; step++ {
				if step > 2000 {
					t.Fatalf("still %d unsent after %s of fake time", e.unsent(t), e.clock.Now().Sub(start))
				}
				switch elapsed := e.clock.Now().Sub(start); {
				case elapsed >= 2*time.Minute && phase != fakeslack.Up:
					e.slack.Lose(3)
					phase = fakeslack.Up
					e.slack.Set(t, phase)
				case elapsed >= time.Minute && elapsed < 2*time.Minute && phase == fakeslack.Refused:
					phase = fakeslack.Unavailable
					e.slack.Set(t, phase)
				}
				if _, err := e.n.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(time.Second)
			}
			posts := e.slack.Posts()
			for _, k := range want {
				if posts[k] != 1 {
					t.Errorf("%s posted %d times, want exactly once", k, posts[k])
				}
			}
			if len(posts) != len(want) {
				t.Errorf("Slack got %d distinct messages, want %d: %v", len(posts), len(want), posts)
			}
			// Per channel, the order of acceptance is the order of enqueueing.
			last := map[string]string{}
			for _, k := range e.slack.Order() {
				i := 0
				fmt.Sscanf(k, "n%02d", &i)
				ch := fmt.Sprint(i % 3)
				if i%10 == 9 {
					ch = "dm"
				}
				if k < last[ch] {
					t.Errorf("%s accepted after %s in the same channel", k, last[ch])
				}
				last[ch] = k
			}
			if bad := e.slack.BadTokens(); bad != 0 {
				t.Errorf("%d calls carried a wrong token", bad)
			}
		})
	}
}

// TestSlackRateLimitHonoursRetryAfter: a 429 with Retry-After: 30 from the
// real API client holds the message, and the ones behind it in its channel,
// for exactly 30 seconds.
func TestSlackRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newOutboxEnv(t, b)
			e.slack.Limit(1, "30")
			e.enqueue(t, notify.Notification{Key: "a", To: notify.Destination{Channel: "c0"}, Reply: bot.Text("a")},
				notify.Notification{Key: "b", To: notify.Destination{Channel: "c0"}, Reply: bot.Text("b")})
			if sent, err := e.n.Drain(context.Background()); err != nil || sent != 0 {
				t.Fatalf("first drain: %d sent, %v", sent, err)
			}
			row, err := e.store.OutboxByKey(context.Background(), notify.RowKey("a", bot.Slack))
			if err != nil {
				t.Fatal(err)
			}
			if !row.NextAttemptAt.Equal(start.Add(30 * time.Second)) {
				t.Errorf("next attempt at %s, want Retry-After (30s) later: %s", row.NextAttemptAt, start.Add(30*time.Second))
			}
			for range 29 {
				e.clock.Advance(time.Second)
				if sent, _ := e.n.Drain(context.Background()); sent != 0 {
					t.Fatalf("sent %d at %s, before Retry-After ran out", sent, e.clock.Now().Sub(start))
				}
			}
			if posts, limited := e.slack.Posts(), e.slack.Limited(); len(posts) != 0 || limited != 1 {
				t.Fatalf("before Retry-After: posts %v, 429s %d; want no call at all", posts, limited)
			}
			e.clock.Advance(time.Second)
			if sent, err := e.n.Drain(context.Background()); sent != 2 || err != nil {
				t.Fatalf("after Retry-After: sent %d (%v), want 2", sent, err)
			}
			if posts := e.slack.Posts(); posts["a@slack"] != 1 || posts["b@slack"] != 1 {
				t.Errorf("posts %v, want a and b once each", posts)
			}
		})
	}
}
