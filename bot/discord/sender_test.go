package discord

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakediscord"
	"opsbot/harness/handlertest"
	"opsbot/storage/storagetest"
)

func newSender(t *testing.T, apiURL string) *Sender {
	t.Helper()
	b := storagetest.Backends(t)[0]
	store := storagetest.Open(t, b)
	cfg := config.DiscordConfig{Token: config.Secret(testToken), ApplicationID: testApp, APIURL: apiURL}
	return NewSender(cfg, store, clock.NewFake(handlertest.Start), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
}

func TestSenderPostsEditsAndMessagesDirectly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s := newSender(t, f.URL())
	ctx := context.Background()
	msg := bot.Outgoing{Key: "ticket:12:queue@discord", Reply: bot.Reply{Title: "Ticket #12", Text: "VPN drops @everyone"}}
	ref, err := s.Post(ctx, bot.Target{Platform: bot.Discord, Channel: channelID, Name: "#helpdesk"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Wait(t)
	if c.Method != http.MethodPost || c.Path != "/channels/"+channelID+"/messages" || c.Auth != "Bot "+testToken {
		t.Fatalf("post %s %s %q", c.Method, c.Path, c.Auth)
	}
	if c.Body["nonce"] != Nonce(msg.Key) || c.Body["enforce_nonce"] != true || len(Nonce(msg.Key)) != 25 {
		t.Fatalf("nonce: %s", c.Raw)
	}
	if am, _ := c.Body["allowed_mentions"].(map[string]any); am == nil || len(am["parse"].([]any)) != 0 {
		t.Fatalf("allowed_mentions must stop pings: %s", c.Raw)
	}
	// The same key again: Discord drops the duplicate and answers with the
	// first message.
	again, err := s.Post(ctx, bot.Target{Platform: bot.Discord, Channel: channelID}, msg)
	if err != nil || again != ref {
		t.Fatalf("repost: %v %+v vs %+v", err, again, ref)
	}
	f.Wait(t)

	if err := s.Update(ctx, ref, bot.Outgoing{Key: "k2", Reply: bot.Reply{Text: "closed"}}); err != nil {
		t.Fatal(err)
	}
	if c := f.Wait(t); c.Method != http.MethodPatch || c.Path != "/channels/"+ref.Channel+"/messages/"+ref.ID || c.Body["content"] != "closed" {
		t.Fatalf("edit %s %s %s", c.Method, c.Path, c.Raw)
	}

	dm, err := s.Post(ctx, bot.Target{Platform: bot.Discord, User: bobID, Name: "@bob"}, bot.Outgoing{Key: "dm", Reply: bot.Text("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Wait(t); c.Path != "/users/@me/channels" || c.Body["recipient_id"] != bobID {
		t.Fatalf("open DM %s %s", c.Path, c.Raw)
	}
	if c := f.Wait(t); c.Path != "/channels/300000000000000009/messages" || dm.Channel != "300000000000000009" {
		t.Fatalf("DM message %s %+v", c.Path, dm)
	}

	if _, err := s.Post(ctx, bot.Target{Platform: bot.Discord, Channel: channelID, Thread: "700000000000000001"}, bot.Outgoing{Reply: bot.Text("in thread")}); err != nil {
		t.Fatal(err)
	}
	if c := f.Wait(t); c.Body["message_reference"] == nil || c.Body["nonce"] != nil {
		t.Fatalf("thread reply %s", c.Raw)
	}
}

func TestSenderSaysWhetherToRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	to := bot.Target{Platform: bot.Discord, Channel: channelID}
	msg := bot.Outgoing{Key: "k", Reply: bot.Text("x")}

	cases := []struct {
		name      string
		setup     func(f *fakediscord.Server, s *Sender) error
		retry     bool
		wait      time.Duration
		errSubstr string
	}{
		{"429 honours the longest wait asked", func(f *fakediscord.Server, s *Sender) error {
			f.Limit(1)
			_, err := s.Post(ctx, to, msg)
			return err
		}, true, 3250 * time.Millisecond, "429"},
		{"5xx", func(f *fakediscord.Server, s *Sender) error {
			f.Status(http.StatusBadGateway)
			_, err := s.Post(ctx, to, msg)
			return err
		}, true, 0, "502"},
		{"unknown channel", func(f *fakediscord.Server, s *Sender) error {
			f.UnknownChannel("404")
			_, err := s.Post(ctx, bot.Target{Platform: bot.Discord, Channel: "404"}, msg)
			return err
		}, false, 0, "Unknown Channel"},
		{"missing access", func(f *fakediscord.Server, s *Sender) error {
			f.Status(http.StatusForbidden)
			return s.Update(ctx, bot.MessageRef{Channel: channelID, ID: "1"}, msg)
		}, false, 0, "403"},
		{"bad token", func(f *fakediscord.Server, s *Sender) error {
			s.api.token = config.Secret("wrong-" + testToken)
			_, err := s.Post(ctx, to, msg)
			return err
		}, false, 0, "401"},
		{"not an id", func(f *fakediscord.Server, s *Sender) error {
			_, err := s.Post(ctx, bot.Target{Platform: bot.Discord, Channel: "#general"}, msg)
			return err
		}, false, 0, "not a channel id"},
		{"unreachable", func(f *fakediscord.Server, s *Sender) error {
			f.Close()
			_, err := s.Post(ctx, to, msg)
			return err
		}, true, 0, "post message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			s := newSender(t, f.URL())
			err := c.setup(f, s)
			if err == nil {
				t.Fatal("no error")
			}
			var se *bot.SendError
			if !errors.As(err, &se) {
				t.Fatalf("%v is not a SendError", err)
			}
			retry, wait := bot.RetryInfo(err)
			if retry != c.retry || wait != c.wait || !strings.Contains(err.Error(), c.errSubstr) {
				t.Fatalf("got retry=%t wait=%s %q; want retry=%t wait=%s %q", retry, wait, err, c.retry, c.wait, c.errSubstr)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "Bot ") {
				t.Fatalf("the token reached an error: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		header map[string]string
		body   float64
		want   time.Duration
	}{
		{nil, 0.2, time.Second},
		{nil, 1.5, 1500 * time.Millisecond},
		{map[string]string{"Retry-After": "7"}, 1.5, 7 * time.Second},
		{map[string]string{"X-RateLimit-Reset-After": "2.25"}, 0, 2250 * time.Millisecond},
		{map[string]string{"Retry-After": "junk"}, -4, time.Second},
		{map[string]string{"Retry-After": "1e12"}, 0, time.Hour},
		{nil, 1e300, time.Hour},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.header {
			h.Set(k, v)
		}
		if got := retryAfter(h, c.body); got != c.want {
			t.Errorf("retryAfter(%v, %v) = %s, want %s", c.header, c.body, got, c.want)
		}
	}
}

func TestInteractionTokenNotInErrors(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(f.URL(), config.Secret(testToken), nil)
	f.Close()
	err := c.do(context.Background(), "edit interaction response", http.MethodPatch, "/webhooks/1/secret-interaction-token/messages/@original", false, map[string]string{}, nil)
	if err == nil || strings.Contains(err.Error(), "secret-interaction-token") || strings.Contains(err.Error(), testToken) {
		t.Fatalf("error %v", err)
	}
}
