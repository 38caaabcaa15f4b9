package discord

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakediscord"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestLostAnswerPastNonceWindow: Discord accepts the first post of a
// notification but the answer is lost, and the retry comes after Discord
// has forgotten the nonce. The marker in the embed footer finds the message,
// so it is delivered exactly once, in a channel and by direct message;
// without the permission to read the channel's history it is held.
func TestLostAnswerPastNonceWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		to     notify.Destination
		deny   bool
		held   bool
		reason string
	}{
		{"channel", notify.Destination{Channel: "helpdesk"}, false, false, ""},
		{"direct message", notify.Destination{Person: "alice"}, false, false, ""},
		{"channel without history", notify.Destination{Channel: "helpdesk"}, true, true, "Read Message History permissions in #helpdesk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, b := range storagetest.Backends(t) {
				t.Run(b.Name, func(t *testing.T) {
					clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
					fake := fakediscord.New(t, testToken)
					fake.SetClock(clk.Now)
					if tt.deny {
						fake.DenyHistory(channelID)
					}
					fake.Lose(1)
					cfg := &config.Config{Channels: map[string]config.Channel{"helpdesk": {Discord: channelID}},
						People: []config.Person{{Name: "alice", DiscordID: aliceID}}}
					cfg.Discord.Enabled = true
					store := storagetest.Open(t, b)
					ob := notify.New(cfg, bot.NewDirectory(cfg.People), clk)
					err := store.Tx(context.Background(), func(tx *gorm.DB) error {
						return ob.Enqueue(tx, notify.Notification{Key: "ticket:1:queue", To: tt.to, Reply: bot.Text("card of #1")})
					})
					if err != nil {
						t.Fatal(err)
					}
					quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
					sender := NewSender(config.DiscordConfig{Token: config.Secret(testToken), APIURL: fake.URL()}, store, clk, quiet, Options{})
					n, err := notify.NewNotifier(store, clk, quiet, nil, config.OutboxConfig{Workers: 1, MaxBackoff: config.Duration(time.Second)},
						map[bot.Platform]bot.Sender{bot.Discord: sender})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := n.Drain(context.Background()); err != nil {
						t.Fatal(err)
					}
					// The retry comes after Discord forgot the nonce.
					clk.Advance(fakediscord.DefaultNonceWindow + time.Minute)
					if _, err := n.Drain(context.Background()); err != nil {
						t.Fatal(err)
					}
					m, err := store.OutboxByKey(context.Background(), "ticket:1:queue@discord")
					if err != nil {
						t.Fatal(err)
					}
					if got := fake.Posts()[Nonce("ticket:1:queue@discord")]; got != 1 {
						t.Errorf("Discord has the message %d times, want exactly once (calls %v)", got, fake.Calls())
					}
					want := storage.OutboxSent
					if tt.held {
						want = storage.OutboxHeld
					}
					if m.State != want || !strings.Contains(m.LastError, tt.reason) {
						t.Fatalf("state %s, last error %q; want %s with %q", m.State, m.LastError, want, tt.reason)
					}
				})
			}
		})
	}
}
