package slack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakeslack"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestLostAnswerAgainstScopes: the first chat.postMessage of each message is
// accepted by Slack but its answer is lost; the notifier looks the message
// up with the app manifest's scopes, as real Slack allows them. With every
// scope the manifest requests each message is delivered exactly once; with
// a history scope removed, or in a channel the bot is not in, it is held
// with the configuration error, neither lost nor posted again.
func TestLostAnswerAgainstScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		to     notify.Destination
		setup  func(f *fakeslack.Server)
		held   bool
		reason string
	}{
		{"direct message", notify.Destination{Person: "alice"}, nil, false, ""},
		{"channel it joined", notify.Destination{Channel: "helpdesk"}, func(f *fakeslack.Server) { f.AddMember("C0HELP") }, false, ""},
		{"direct message without im:history", notify.Destination{Person: "alice"},
			func(f *fakeslack.Server) { f.RemoveScope("im:history") }, true, "add the im:history scope to the Slack app"},
		{"channel without channels:history", notify.Destination{Channel: "helpdesk"},
			func(f *fakeslack.Server) { f.AddMember("C0HELP"); f.RemoveScope("channels:history") }, true, "add the channels:history scope"},
		{"channel the bot is not in", notify.Destination{Channel: "helpdesk"}, nil, true, "invite opsbot to #helpdesk"},
	}
	for _, tt := range tests {
		// Each case its own databases: Backends hands out one per test.
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, b := range storagetest.Backends(t) {
				t.Run(b.Name, func(t *testing.T) {
					fake := fakeslack.New(t, testToken)
					if tt.setup != nil {
						tt.setup(fake)
					}
					fake.Lose(1)
					cfg := &config.Config{Channels: map[string]config.Channel{"helpdesk": {Slack: "C0HELP"}},
						People: []config.Person{{Name: "alice", SlackID: "U0ALICE"}}}
					cfg.Slack.Enabled = true
					clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
					store := storagetest.Open(t, b)
					ob := notify.New(cfg, bot.NewDirectory(cfg.People), clk)
					err := store.Tx(context.Background(), func(tx *gorm.DB) error {
						return ob.Enqueue(tx, notify.Notification{Key: "ticket:1:queue", To: tt.to, Reply: bot.Text("card of #1")})
					})
					if err != nil {
						t.Fatal(err)
					}
					quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
					sender := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake.URL()}, quiet)
					n, err := notify.NewNotifier(store, clk, quiet, nil, config.OutboxConfig{Workers: 1, MaxBackoff: config.Duration(time.Second)},
						map[bot.Platform]bot.Sender{bot.Slack: sender})
					if err != nil {
						t.Fatal(err)
					}
					var m storage.OutboxMessage
					for range 30 {
						if _, err := n.Drain(context.Background()); err != nil {
							t.Fatal(err)
						}
						m, err = store.OutboxByKey(context.Background(), "ticket:1:queue@slack")
						if err != nil {
							t.Fatal(err)
						}
						if m.State != storage.OutboxPending {
							break
						}
						clk.Advance(time.Second)
					}
					if got := fake.Posts()["ticket:1:queue@slack"]; got != 1 {
						t.Errorf("Slack has the message %d times, want exactly once (calls %v)", got, fake.Calls())
					}
					want := storage.OutboxSent
					if tt.held {
						want = storage.OutboxHeld
					}
					if m.State != want || !strings.Contains(m.LastError, tt.reason) {
						t.Fatalf("state %s, last error %q; want %s with %q", m.State, m.LastError, want, tt.reason)
					}
					if tt.held && !strings.Contains(m.LastError, fmt.Sprintf("opsbot outbox retry %d", m.ID)) {
						t.Errorf("held without saying how to post it: %q", m.LastError)
					}
				})
			}
		})
	}
}

// TestJoinChannels: serve joins the public channels it is configured for
// and names those it cannot be in (a private channel nobody invited it to).
func TestJoinChannels(t *testing.T) {
	t.Parallel()
	fake := fakeslack.New(t, testToken)
	var logs logBuffer
	s := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake.URL()}, slog.New(slog.NewTextHandler(&logs, nil)))
	missing := s.JoinChannels(context.Background(), map[string]config.Channel{
		"helpdesk": {Slack: "C0HELP"}, "secret": {Slack: "G0SECRET"}, "ops": {Discord: "200000000000000001"}})
	if strings.Join(missing, ",") != "secret" || !fake.Member("C0HELP") {
		t.Fatalf("not in %v; member of C0HELP: %v", missing, fake.Member("C0HELP"))
	}
	if !strings.Contains(logs.String(), "channel=#secret") || !strings.Contains(logs.String(), "invite opsbot to #secret") {
		t.Errorf("start-up log does not name the channel and the fix:\n%s", logs.String())
	}
	fake2 := fakeslack.New(t, testToken)
	fake2.RemoveScope("channels:join")
	s2 := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake2.URL()}, slog.New(slog.DiscardHandler))
	if missing := s2.JoinChannels(context.Background(), map[string]config.Channel{"helpdesk": {Slack: "C0HELP"}}); len(missing) != 1 {
		t.Errorf("without channels:join: not in %v, want helpdesk", missing)
	}
}
