package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack/socketmode"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/server"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const (
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	testToken  = "xoxb-1234-5678-abcdefSECRETtoken"
)

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hook is one POST a fake response_url received.
type hook struct {
	Text            string          `json:"text"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	Blocks          json.RawMessage `json:"blocks"`
}

// harness is an adapter on a real store, mounted on the real server, with
// a fake response_url endpoint.
type harness struct {
	t       *testing.T
	a       *Adapter
	store   *storage.Store
	clock   *clock.Fake
	http    http.Handler
	hooks   chan hook
	hookURL string
	logs    *logBuffer
	release chan struct{}
}

func newHarness(t *testing.T, b storagetest.Backend) *harness {
	t.Helper()
	store := storagetest.Open(t, b)
	h := &harness{t: t, store: store, clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		hooks: make(chan hook, 16), logs: &logBuffer{}, release: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := bot.NewDirectory([]config.Person{
		{Name: "bob", SlackID: "U0BOB", Roles: []string{"approver"}},
		{Name: "alice", SlackID: "U0ALICE"},
	})
	router, err := bot.NewRouter(dir, log, nil, h.clock.Now, h.commands()...)
	if err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/expired" {
			http.Error(w, "expired_url", http.StatusNotFound)
			return
		}
		var got hook
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("response_url body: %v", err)
		}
		h.hooks <- got
	}))
	t.Cleanup(hooks.Close)
	h.hookURL = hooks.URL + "/commands/T0/1/abc"
	h.a = New(Options{Config: config.SlackConfig{Enabled: true, Mode: "http", SigningSecret: config.Secret(testSecret),
		BotToken: config.Secret(testToken)}, Router: router, Store: store, Clock: h.clock, Log: log, Budget: time.Minute})
	t.Cleanup(h.a.Wait)
	t.Cleanup(func() {
		// Unblock commands a failing test left waiting.
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	})
	srv := server.New(log, store, prometheus.NewRegistry())
	h.a.Mount(srv)
	h.http = srv.Handler()
	return h
}

// commands are small stand-ins for the real areas, which are built in
// parallel: /note writes an audit row as /ticket new writes a ticket.
func (h *harness) commands() []bot.Command {
	wait := func(ctx context.Context) error {
		select {
		case <-h.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return []bot.Command{
		{Name: "note", Summary: "Store a note", Subs: []bot.Sub{{
			Args: []bot.Param{{Name: "text", Kind: bot.KindText, Required: true}},
			Run: func(ctx context.Context, req *bot.Request) (bot.Reply, error) {
				err := h.store.Tx(ctx, func(tx *gorm.DB) error {
					return storage.WriteAudit(tx, handlers.Audit(req, "note.create", "note", req.String("text")))
				})
				return bot.Reply{Title: "Noted", Text: req.String("text"), InChannel: true}, err
			}}}},
		{Name: "slow", Summary: "Slow lookup", Subs: []bot.Sub{{Slow: true,
			Ack: func(*bot.Request) string { return "Looking up core-sw-1…" },
			Run: func(ctx context.Context, _ *bot.Request) (bot.Reply, error) {
				if err := wait(ctx); err != nil {
					return bot.Reply{}, err
				}
				return bot.Reply{Text: "core-sw-1 is up"}, nil
			}}}},
		{Name: "stuck", Summary: "Fast command that overruns", Subs: []bot.Sub{{
			Run: func(ctx context.Context, _ *bot.Request) (bot.Reply, error) {
				if err := wait(ctx); err != nil {
					return bot.Reply{}, err
				}
				return bot.Reply{Text: "finished late", InChannel: true}, nil
			}}}},
		{Name: "chart", Summary: "A reply with pictures", Subs: []bot.Sub{{
			Flags: []bot.Param{{Name: "public", Kind: bot.KindBool}},
			Run: func(_ context.Context, req *bot.Request) (bot.Reply, error) {
				r := digest(h.t)
				r.InChannel = req.Bool("public")
				return r, nil
			}}}},
		{Name: "approve", Summary: "Approve a request", Subs: []bot.Sub{{
			Args:  []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}},
			Roles: []string{"approver"},
			Run: func(_ context.Context, req *bot.Request) (bot.Reply, error) {
				return bot.Reply{Text: "Approved #" + itoa(req.Int("id")) + " by " + req.Person.Mention(),
					Severity: bot.SeveritySuccess, InChannel: true}, nil
			}}}},
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// post sends a form to path signed the way Slack signs it, at the fake
// clock's time; edit may then tamper with the request.
func (h *harness) post(path string, form url.Values, edit func(*http.Request)) *httptest.ResponseRecorder {
	h.t.Helper()
	body := form.Encode()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	for k, v := range SignatureHeaders(testSecret, h.clock.Now(), []byte(body)) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	rec := httptest.NewRecorder()
	h.http.ServeHTTP(rec, req)
	return rec
}

func (h *harness) command(user, command, text, trigger string) url.Values {
	return url.Values{"token": {"legacy"}, "team_id": {"T0"}, "channel_id": {"C0HELP"}, "user_id": {user},
		"user_name": {"someone"}, "command": {command}, "text": {text}, "response_url": {h.hookURL},
		"trigger_id": {trigger}, "api_app_id": {"A0"}}
}

func (h *harness) audit() []storage.AuditEntry {
	h.t.Helper()
	rows, err := storage.ListAudit(context.Background(), h.store.DB, storage.AuditFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rows
}

func (h *harness) seen() int64 {
	var n int64
	if err := h.store.DB.Model(&storage.SlackRequest{}).Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) hook() hook {
	h.t.Helper()
	select {
	case got := <-h.hooks:
		return got
	case <-time.After(10 * time.Second):
		h.t.Fatal("no POST to response_url")
		return hook{}
	}
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) hook {
	t.Helper()
	var got hook
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return got
}

// TestSignedCommandRunsAndReplies: the lead can swap /note for /ticket new
// once tickets are merged.
func TestSignedCommandRunsAndReplies(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b)
			// Slack escapes & < > in the text it sends.
			rec := h.post("/slack/commands", h.command("U0ALICE", "/note", "VPN &amp; mail &lt;down&gt; for <@U0BOB|bob>", "T1"), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := decode(t, rec)
			if got.ResponseType != "in_channel" || !strings.Contains(got.Text, "VPN &amp; mail &lt;down&gt;") {
				t.Errorf("answer = %+v", got)
			}
			rows := h.audit()
			if len(rows) != 1 || rows[0].Actor != "alice" || rows[0].Platform != "slack" ||
				rows[0].Detail != "VPN & mail <down> for @bob" {
				t.Fatalf("audit = %+v", rows)
			}
		})
	}
}

func TestRefusedRequestsRunNothing(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name string
				edit func(h *harness, r *http.Request)
				want int
			}{
				{"no signature", func(_ *harness, r *http.Request) { r.Header.Del("X-Slack-Signature") }, 401},
				{"no timestamp", func(_ *harness, r *http.Request) { r.Header.Del("X-Slack-Request-Timestamp") }, 401},
				{"forged signature", func(_ *harness, r *http.Request) {
					r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
				}, 401},
				{"wrong secret", func(h *harness, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					r.Header.Set("X-Slack-Signature", SignatureHeaders("not-the-secret", h.clock.Now(), body).Get("X-Slack-Signature"))
				}, 401},
				{"body changed after signing", func(_ *harness, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("U0ALICE"), []byte("U0BOB"), 1)))
				}, 401},
				{"stale: replayed six minutes later", func(h *harness, _ *http.Request) { h.clock.Advance(6 * time.Minute) }, 401},
				{"from the future", func(h *harness, _ *http.Request) { h.clock.Advance(-6 * time.Minute) }, 401},
				{"signature not hex", func(_ *harness, r *http.Request) { r.Header.Set("X-Slack-Signature", "v0=zz") }, 401},
				{"timestamp not a number", func(_ *harness, r *http.Request) { r.Header.Set("X-Slack-Request-Timestamp", "soon") }, 401},
			}
			for _, tt := range tests {
				h := newHarness(t, b)
				rec := h.post("/slack/commands", h.command("U0ALICE", "/note", "hello", "T1"), func(r *http.Request) { tt.edit(h, r) })
				if rec.Code != tt.want {
					t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
				}
				if n := len(h.audit()); n != 0 || h.seen() != 0 {
					t.Errorf("%s: stored %d audit rows, %d seen requests", tt.name, n, h.seen())
				}
				if strings.Contains(h.logs.String(), testSecret) {
					t.Errorf("%s: signing secret in logs", tt.name)
				}
			}
			// Interactions are verified the same way.
			h := newHarness(t, b)
			rec := h.post("/slack/interactions", url.Values{"payload": {`{"type":"block_actions"}`}}, func(r *http.Request) {
				r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("00", 32))
			})
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("forged interaction: status %d", rec.Code)
			}
		})
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	rec := h.post("/slack/commands", h.command("U0ALICE", "/note", strings.Repeat("x", server.MaxBodyBytes+10), "T1"), nil)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
	if len(h.audit()) != 0 {
		t.Fatal("oversized request ran")
	}
}

func TestRetryIsNotRunTwice(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b)
			// A second replica on the same database must recognise it too.
			other := New(Options{Config: h.a.cfg, Router: h.a.router, Store: h.store, Clock: h.clock, Log: h.a.log})
			mux := http.NewServeMux()
			other.Mount(muxMounter{mux})
			form := h.command("U0ALICE", "/note", "once", "TRIGGER-1")
			first := h.post("/slack/commands", form, nil)
			if first.Code != 200 || first.Body.Len() == 0 {
				t.Fatalf("first: %d %q", first.Code, first.Body)
			}
			h.clock.Advance(3 * time.Second)
			// A retry, on this replica or another, gets the first answer.
			for i, target := range []http.Handler{h.http, mux} {
				h.http, target = target, h.http
				rec := h.post("/slack/commands", form, func(r *http.Request) { r.Header.Set("X-Slack-Retry-Num", "1") })
				h.http = target
				if rec.Code != http.StatusOK || rec.Body.String() != first.Body.String() {
					t.Errorf("retry %d: %d %q, want the first answer %q", i, rec.Code, rec.Body, first.Body)
				}
			}
			if n := len(h.audit()); n != 1 {
				t.Fatalf("ran %d times", n)
			}
			// A request whose first attempt never answered (its replica
			// died while running it) is not run again either, and says so.
			lost := h.command("U0ALICE", "/note", "lost", "TRIGGER-2")
			if _, err := h.store.ClaimSlackRequest(context.Background(), requestKey("command", "TRIGGER-2", nil), h.clock.Now()); err != nil {
				t.Fatal(err)
			}
			rec := h.post("/slack/commands", lost, nil)
			if got := decode(t, rec); rec.Code != 200 || got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "has not answered it yet") {
				t.Errorf("retry of an unanswered request: %d %+v", rec.Code, got)
			}
			if n := len(h.audit()); n != 1 {
				t.Fatalf("ran %d times", n)
			}
		})
	}
}

type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Handle(p string, h http.Handler) { m.ServeMux.Handle(p, h) }

func TestSlowCommandAcksThenPostsToResponseURL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	rec := h.post("/slack/commands", h.command("U0ALICE", "/slow", "", "T1"), nil)
	if got := decode(t, rec); got.Text != "Looking up core-sw-1…" || got.ResponseType != "ephemeral" {
		t.Fatalf("ack = %+v", got)
	}
	close(h.release)
	got := h.hook()
	if got.Text != "core-sw-1 is up" || !got.ReplaceOriginal || got.ResponseType != "ephemeral" {
		t.Fatalf("delivered %+v", got)
	}
}

func TestCommandOverBudgetAcksThenDelivers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	// /stuck cannot finish before the test releases it, after the answer.
	h.a.budget = time.Millisecond
	rec := h.post("/slack/commands", h.command("U0ALICE", "/stuck", "", "T1"), nil)
	if got := decode(t, rec); got.Text != "Working on it…" {
		t.Fatalf("ack = %+v", got)
	}
	close(h.release)
	if got := h.hook(); got.Text != "finished late" || got.ResponseType != "in_channel" || got.ReplaceOriginal {
		t.Fatalf("delivered %+v", got)
	}
}

func TestExpiredResponseURLFallsBackToOutbox(t *testing.T) {
	t.Parallel()
	for i, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range []struct {
				cmd, wantTarget string
			}{
				{"/slow", `"user":"U0ALICE"`},    // ephemeral: a direct message
				{"/stuck", `"channel":"C0HELP"`}, // in-channel: the channel
			} {
				// A fresh database of the same kind for each case.
				h := newHarness(t, storagetest.Backends(t)[i])
				h.a.budget = time.Millisecond
				form := h.command("U0ALICE", tt.cmd, "", "T1")
				form.Set("response_url", strings.Replace(h.hookURL, "/commands/T0/1/abc", "/expired", 1))
				h.post("/slack/commands", form, nil)
				close(h.release)
				h.a.Wait()
				var rows []storage.OutboxMessage
				if err := h.store.DB.Find(&rows).Error; err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 || !strings.Contains(rows[0].Target, tt.wantTarget) || rows[0].Platform != "slack" {
					t.Fatalf("%s: outbox = %+v", tt.cmd, rows)
				}
			}
		})
	}
}

func clickForm(h *harness, user, label, value, trigger string) url.Values {
	p := map[string]any{
		"type": "block_actions", "trigger_id": trigger, "response_url": h.hookURL,
		"user": map[string]any{"id": user, "username": "x"}, "channel": map[string]any{"id": "C0HELP"},
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000100"},
		"message":   map[string]any{"ts": "1700000000.000100", "blocks": []any{map[string]any{"type": "weird_future_block"}}},
		"actions": []any{map[string]any{"action_id": "opsbot_0", "block_id": "opsbot_actions", "type": "button",
			"value": value, "text": map[string]any{"type": "plain_text", "text": label}}},
	}
	j, _ := json.Marshal(p)
	return url.Values{"payload": {string(j)}}
}

func TestButtonClickRunsAsClicker(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b)
			rec := h.post("/slack/interactions", clickForm(h, "U0BOB", "Approve", "/approve 12", "TR1"), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			got := h.hook()
			if !got.ReplaceOriginal || !strings.Contains(got.Text, "Approved #12 by @bob") ||
				!strings.Contains(string(got.Blocks), "@bob clicked Approve") {
				t.Fatalf("update = %+v %s", got, got.Blocks)
			}
			// Someone without the role: told alone, the message keeps its buttons.
			h.post("/slack/interactions", clickForm(h, "U0ALICE", "Approve", "/approve 12", "TR2"), nil)
			got = h.hook()
			if got.ReplaceOriginal || got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "needs the approver role") {
				t.Fatalf("refusal = %+v", got)
			}
			// A crafted value is just a command, run as whoever clicked.
			h.post("/slack/interactions", clickForm(h, "U0EVE", "x", "/note crafted", "TR3"), nil)
			h.hook()
			rows := h.audit()
			if len(rows) != 1 || rows[0].Actor != "slack:U0EVE" {
				t.Fatalf("audit = %+v", rows)
			}
			// A retried click does nothing more.
			h.post("/slack/interactions", clickForm(h, "U0EVE", "x", "/note crafted", "TR3"), nil)
			h.a.Wait()
			if len(h.audit()) != 1 || len(h.hooks) != 0 {
				t.Fatal("retried click ran again")
			}
		})
	}
}

func TestIgnoredAndMalformedInteractions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	for _, tt := range []struct {
		payload string
		want    int
	}{
		{`{"type":"view_submission","user":{"id":"U0BOB"}}`, 200},
		{`{"type":"block_actions","user":{"id":"U0BOB"},"actions":[]}`, 200},
		{`{"type":"block_actions","actions":[{"value":"/note x"}]}`, 400},
		{`not json`, 400},
		{``, 400},
	} {
		if rec := h.post("/slack/interactions", url.Values{"payload": {tt.payload}}, nil); rec.Code != tt.want {
			t.Errorf("%q: status %d, want %d", tt.payload, rec.Code, tt.want)
		}
	}
	if rec := h.post("/slack/commands", url.Values{"text": {"x"}}, nil); rec.Code != 400 {
		t.Errorf("command without user: %d", rec.Code)
	}
	if len(h.audit()) != 0 {
		t.Error("something ran")
	}
}

func TestTickForgetsOldRequests(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, b)
			// A command that changes nothing leaves no record at all.
			h.post("/slack/commands", h.command("U0ALICE", "/help", "", "T0"), nil)
			if n := h.seen(); n != 0 {
				t.Fatalf("/help left %d request records, want none", n)
			}
			h.post("/slack/commands", h.command("U0ALICE", "/note", "one", "T1"), nil)
			h.clock.Advance(30 * time.Minute)
			h.post("/slack/commands", h.command("U0ALICE", "/note", "two", "T2"), nil)
			h.clock.Advance(31 * time.Minute)
			if err := h.a.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := h.a.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := h.seen(); n != 1 {
				t.Fatalf("%d requests remembered, want 1", n)
			}
		})
	}
}

// fakeAcker records Socket Mode acknowledgements.
type fakeAcker struct {
	acks []any
}

func (f *fakeAcker) Ack(req socketmode.Request, payload ...any) error {
	var p any
	if len(payload) > 0 {
		p = payload[0]
	}
	f.acks = append(f.acks, p)
	return nil
}

func TestSocketModeEnvelopes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	sm := &fakeAcker{}
	cmd, _ := json.Marshal(Command{UserID: "U0ALICE", ChannelID: "C0HELP", Command: "/note", Text: "via socket", TriggerID: "S1", ResponseURL: h.hookURL})
	h.a.socketEvent(context.Background(), sm, socketmode.Event{Type: socketmode.EventTypeSlashCommand,
		Request: &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: "E1", Payload: cmd}})
	click := clickForm(h, "U0BOB", "Approve", "/approve 3", "S2").Get("payload")
	h.a.socketEvent(context.Background(), sm, socketmode.Event{Type: socketmode.EventTypeInteractive,
		Request: &socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: "E2", Payload: json.RawMessage(click)}})
	// A redelivered envelope is answered and not run again.
	h.a.socketEvent(context.Background(), sm, socketmode.Event{Type: socketmode.EventTypeSlashCommand,
		Request: &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: "E3", Payload: cmd, RetryAttempt: 1}})
	h.a.socketEvent(context.Background(), sm, socketmode.Event{Type: socketmode.EventTypeSlashCommand,
		Request: &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: "E4", Payload: json.RawMessage(`{"x":`)}})
	if len(sm.acks) != 4 {
		t.Fatalf("%d acks, want one per envelope", len(sm.acks))
	}
	if m, err := json.Marshal(sm.acks[0]); err != nil || !strings.Contains(string(m), "via socket") {
		t.Errorf("command ack payload = %s", m)
	}
	// The redelivery gets the first answer again.
	if m, err := json.Marshal(sm.acks[2]); err != nil || !strings.Contains(string(m), "via socket") {
		t.Errorf("redelivered command ack payload = %s", m)
	}
	if sm.acks[1] != nil || sm.acks[3] != nil {
		t.Errorf("acks = %v", sm.acks)
	}
	if got := h.hook(); !strings.Contains(got.Text, "Approved #3 by @bob") {
		t.Errorf("click update = %+v", got)
	}
	if n := len(h.audit()); n != 1 {
		t.Errorf("socket command ran %d times", n)
	}
}

func TestSecretsNeverLoggedOrReplied(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	var bodies strings.Builder
	// A forged request, a stale one, a failing response_url, a malformed
	// socket envelope.
	rec := h.post("/slack/commands", h.command("U0ALICE", "/note", "x", "T1"), func(r *http.Request) {
		r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("11", 32))
	})
	bodies.WriteString(rec.Body.String())
	h.clock.Advance(-10 * time.Minute)
	rec = h.post("/slack/commands", h.command("U0ALICE", "/note", "x", "T2"), func(r *http.Request) { h.clock.Advance(10 * time.Minute) })
	bodies.WriteString(rec.Body.String())
	form := h.command("U0ALICE", "/slow", "", "T3")
	form.Set("response_url", strings.Replace(h.hookURL, "/commands/T0/1/abc", "/expired", 1))
	bodies.WriteString(h.post("/slack/commands", form, nil).Body.String())
	close(h.release)
	h.a.Wait()
	h.a.socketEvent(context.Background(), &fakeAcker{}, socketmode.Event{Type: socketmode.EventTypeSlashCommand,
		Request: &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, Payload: json.RawMessage(`{`)}})
	h.a.log.Info("config", "slack", h.a.cfg)
	logs := h.logs.String()
	for _, secret := range []string{testSecret, testToken} {
		if strings.Contains(logs, secret) || strings.Contains(bodies.String(), secret) {
			t.Errorf("secret %q… leaked:\n%s\n%s", secret[:6], logs, bodies.String())
		}
	}
	if !strings.Contains(logs, "slack request refused") || !strings.Contains(logs, "response_url failed") {
		t.Errorf("expected failures were not logged:\n%s", logs)
	}
}

// BenchmarkSignedHelp measures one signed /help through the real server
// handler: verification, the retry record in SQLite, parsing, running and
// rendering. It prints requests per second.
func BenchmarkSignedHelp(b *testing.B) {
	h := newBenchHarness(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		form := url.Values{"user_id": {"U0ALICE"}, "channel_id": {"C0"}, "command": {"/help"}, "trigger_id": {"B" + itoa(int64(i))}}
		body := form.Encode()
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
		for k, v := range SignatureHeaders(testSecret, h.clock.Now(), []byte(body)) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.http.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func newBenchHarness(b *testing.B) *harness {
	store := storagetest.Open(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)})
	h := &harness{store: store, clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), logs: &logBuffer{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router, err := bot.NewRouter(bot.NewDirectory(nil), log, nil, h.clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	h.a = New(Options{Config: config.SlackConfig{SigningSecret: config.Secret(testSecret)}, Router: router, Store: store,
		Clock: h.clock, Log: log})
	srv := server.New(log, store, prometheus.NewRegistry())
	h.a.Mount(srv)
	h.http = srv.Handler()
	return h
}
