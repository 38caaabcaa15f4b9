package slack

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
)

// fakeSlack answers the Web API methods the sender uses the way Slack does:
// HTTP 200 with {"ok":false,"error":...} for API errors, 429 with
// Retry-After when rate limited, and the token checked on every call (in the
// form, as slack-go sends it, or as a Bearer header).
type fakeSlack struct {
	mu       sync.Mutex
	calls    []string
	posts    []map[string]string
	limited  int // answer this many chat.postMessage calls with 429
	fail     map[string]string
	status   int // answer everything with this HTTP status when set
	messages []map[string]any
	// channel holds the messages people wrote, by ts, for
	// conversations.history and conversations.replies.
	channel map[string]map[string]any
	// ephemeral holds the texts of chat.postEphemeral calls.
	ephemeral []string
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.calls = append(f.calls, method)
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	token := r.Form.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	reply := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if token != testToken {
		reply(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if e := f.fail[method]; e != "" {
		reply(map[string]any{"ok": false, "error": e})
		return
	}
	switch method {
	case "chat.postMessage":
		if f.limited > 0 {
			f.limited--
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			reply(map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		post := map[string]string{}
		for k := range r.Form {
			post[k] = r.Form.Get(k)
		}
		f.posts = append(f.posts, post)
		ts := "1700000000.00010" + string(rune('0'+len(f.posts)))
		var meta map[string]any
		_ = json.Unmarshal([]byte(post["metadata"]), &meta)
		f.messages = append(f.messages, map[string]any{"type": "message", "ts": ts, "text": post["text"], "metadata": meta})
		reply(map[string]any{"ok": true, "channel": post["channel"], "ts": ts})
	case "chat.update":
		reply(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
	case "conversations.open":
		if r.Form.Get("users") != "U0ALICE" {
			reply(map[string]any{"ok": false, "error": "user_not_found"})
			return
		}
		reply(map[string]any{"ok": true, "channel": map[string]any{"id": "D0ALICE"}})
	case "chat.getPermalink":
		reply(map[string]any{"ok": true, "permalink": "https://example.slack.com/archives/" + r.Form.Get("channel") + "/p" + strings.ReplaceAll(r.Form.Get("message_ts"), ".", "")})
	case "chat.postEphemeral":
		f.ephemeral = append(f.ephemeral, r.Form.Get("text"))
		reply(map[string]any{"ok": true, "message_ts": "1"})
	case "conversations.replies":
		if m, ok := f.channel[r.Form.Get("ts")]; ok {
			reply(map[string]any{"ok": true, "messages": []any{m}})
			return
		}
		reply(map[string]any{"ok": false, "error": "thread_not_found"})
	case "conversations.history":
		if latest := r.Form.Get("latest"); latest != "" {
			var out []any
			if m, ok := f.channel[latest]; ok && m["thread_ts"] == nil {
				out = append(out, m)
			}
			reply(map[string]any{"ok": true, "messages": out})
			return
		}
		if v := r.Form.Get("include_all_metadata"); v != "1" && v != "true" {
			reply(map[string]any{"ok": true, "messages": []any{}})
			return
		}
		reply(map[string]any{"ok": true, "messages": f.messages})
	default:
		reply(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func newFakeSlack(t *testing.T) (*fakeSlack, string) {
	f := &fakeSlack{fail: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/api/"
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
	post := fake.posts[0]
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
	s := testSender(t, api, testToken, &logBuffer{})
	ref, err := s.Post(context.Background(), bot.Target{Platform: bot.Slack, User: "U0ALICE", Name: "@alice"}, approval)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Channel != "D0ALICE" || strings.Join(fake.calls, ",") != "conversations.open,chat.postMessage" {
		t.Fatalf("ref %+v after calls %v", ref, fake.calls)
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
		setup     func(*fakeSlack)
		retry     bool
		wait      time.Duration
		errSubstr string
	}{
		{"rate limited", testToken, func(f *fakeSlack) { f.limited = 1 }, true, 7 * time.Second, "rate limit"},
		{"server error", testToken, func(f *fakeSlack) { f.status = 503 }, true, 0, "503"},
		{"channel_not_found", testToken, func(f *fakeSlack) { f.fail["chat.postMessage"] = "channel_not_found" }, false, 0, "channel_not_found"},
		{"not_in_channel", testToken, func(f *fakeSlack) { f.fail["chat.postMessage"] = "not_in_channel" }, false, 0, "not_in_channel"},
		{"invalid_auth", "xoxb-wrong-SECRETtoken", nil, false, 0, "invalid_auth"},
		{"internal_error", testToken, func(f *fakeSlack) { f.fail["chat.postMessage"] = "internal_error" }, true, 0, "internal_error"},
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
