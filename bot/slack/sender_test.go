package slack

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/harness/fakeslack"
)

// newFakeSlack starts the shared fake Slack with the test token; the bot is
// in #helpdesk (C0HELP), as serve joins its channels.
func newFakeSlack(t *testing.T) (*fakeslack.Server, string) {
	f := fakeslack.New(t, testToken)
	f.AddMember("C0HELP")
	return f, f.URL()
}

func testSender(t *testing.T, apiURL, token string, logs *logBuffer) *Sender {
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewSender(config.SlackConfig{BotToken: config.Secret(token), APIURL: apiURL}, log)
}

var approval = bot.Outgoing{Key: "access:12:request", Reply: bot.Reply{Title: "Access request #12", Text: "bob wants prod-db",
	Buttons: []bot.Button{{Label: "Approve", Command: "/access approve 12", Style: bot.ButtonPrimary}}}}

func TestSenderPostUpdateAndFind(t *testing.T) {
	t.Parallel()
	fake, api := newFakeSlack(t)
	s := testSender(t, api, testToken, &logBuffer{})
	ctx := context.Background()
	ref, err := s.Post(ctx, bot.Target{Platform: bot.Slack, Channel: "C0HELP", Name: "#helpdesk"}, approval)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "C0HELP" || ref.ID == "" {
		t.Fatalf("ref = %+v", ref)
	}
	post := fake.Forms()[0]
	if !strings.Contains(post["blocks"], `"value":"/access approve 12"`) || !strings.Contains(post["metadata"], `"key":"access:12:request"`) {
		t.Errorf("posted %v", post)
	}
	if err := s.Update(ctx, ref, approval); err != nil {
		t.Fatal(err)
	}
	found, ok, err := s.Find(ctx, bot.Target{Platform: bot.Slack, Channel: "C0HELP"}, "access:12:request")
	if err != nil || !ok || found != ref {
		t.Fatalf("Find = %+v %v %v, want %+v", found, ok, err, ref)
	}
	if _, ok, err := s.Find(ctx, bot.Target{Platform: bot.Slack, Channel: "C0HELP"}, "other"); ok || err != nil {
		t.Fatalf("Find(other) = %v %v", ok, err)
	}
}

func TestSenderDirectMessage(t *testing.T) {
	t.Parallel()
	fake, api := newFakeSlack(t)
	fake.KnowUsers("U0ALICE")
	s := testSender(t, api, testToken, &logBuffer{})
	ref, err := s.Post(context.Background(), bot.Target{Platform: bot.Slack, User: "U0ALICE", Name: "@alice"}, approval)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "D0ALICE" || strings.Join(fake.Calls(), ",") != "conversations.open,chat.postMessage" {
		t.Fatalf("ref %+v after calls %v", ref, fake.Calls())
	}
	_, err = s.Post(context.Background(), bot.Target{Platform: bot.Slack, User: "U0NOBODY"}, approval)
	if retry, _ := bot.RetryInfo(err); err == nil || retry {
		t.Fatalf("unknown user: err %v retry %v, want permanent", err, retry)
	}
}

func TestSenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string
		setup     func(*fakeslack.Server)
		retry     bool
		wait      time.Duration
		errSubstr string
	}{
		{"rate limited", testToken, func(f *fakeslack.Server) { f.Limit(1, "7") }, true, 7 * time.Second, "rate limit"},
		{"server error", testToken, func(f *fakeslack.Server) { f.Status(503) }, true, 0, "503"},
		{"channel_not_found", testToken, func(f *fakeslack.Server) { f.Fail("chat.postMessage", "channel_not_found") }, false, 0, "channel_not_found"},
		{"not_in_channel", testToken, func(f *fakeslack.Server) { f.Fail("chat.postMessage", "not_in_channel") }, false, 0, "not_in_channel"},
		{"invalid_auth", "xoxb-wrong-SECRETtoken", nil, false, 0, "invalid_auth"},
		{"internal_error", testToken, func(f *fakeslack.Server) { f.Fail("chat.postMessage", "internal_error") }, true, 0, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, api := newFakeSlack(t)
			if tt.setup != nil {
				tt.setup(fake)
			}
			logs := &logBuffer{}
			s := testSender(t, api, tt.token, logs)
			_, err := s.Post(context.Background(), bot.Target{Platform: bot.Slack, Channel: "C0HELP", Name: "#helpdesk"}, approval)
			if err == nil {
				t.Fatal("no error")
			}
			retry, wait := bot.RetryInfo(err)
			if retry != tt.retry || wait != tt.wait || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("err %q: retry %v wait %v, want %v %v", err, retry, wait, tt.retry, tt.wait)
			}
			var se *bot.SendError
			if !errors.As(err, &se) {
				t.Errorf("not a SendError: %T", err)
			}
			if strings.Contains(err.Error(), "SECRETtoken") || strings.Contains(logs.String(), "SECRETtoken") {
				t.Errorf("token leaked: %q / %q", err, logs)
			}
		})
	}
	// Nothing listening: a network error, worth retrying.
	s := testSender(t, "http://127.0.0.1:1/api/", testToken, &logBuffer{})
	_, err := s.Post(context.Background(), bot.Target{Platform: bot.Slack, Channel: "C0HELP"}, approval)
	if retry, _ := bot.RetryInfo(err); err == nil || !retry || strings.Contains(err.Error(), "SECRETtoken") {
		t.Errorf("network error %v: retry %v", err, retry)
	}
}
