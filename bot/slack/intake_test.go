package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers/tickets"
	"opsbot/harness/fakeslack"
	"opsbot/harness/handlertest"
	"opsbot/server"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// intakeHarness is the Slack adapter over the real tickets handler, its
// Web API calls answered by the fake Slack.
type intakeHarness struct {
	t    *testing.T
	env  *handlertest.Env
	a    *Adapter
	http http.Handler
	fake *fakeslack.Server
}

const sourceTS = "1700000000.000100"

func newIntakeHarness(t *testing.T, b storagetest.Backend) *intakeHarness {
	t.Helper()
	cfg := config.Default()
	// Events come from Slack only when it is enabled; so do thread notes.
	cfg.Slack.Enabled = true
	cfg.People = []config.Person{
		{Name: "carol", SlackID: "U0CAROL", Roles: []string{"helpdesk"}},
		{Name: "alice", SlackID: "U0ALICE"},
		{Name: "bob", SlackID: "U0BOB"},
	}
	env := handlertest.New(t, b, cfg)
	tix, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(tix.Command())
	fake, api := newFakeSlack(t)
	// The bot reads the message reacted to: it must be in the channel.
	fake.AddMember("C0GENERAL")
	fake.AddMessage("C0GENERAL", fakeslack.Message{"type": "message", "ts": sourceTS, "user": "U0ALICE",
		"text": "VPN drops every hour\nsince the update &amp; it hurts"})
	a := New(Options{Config: config.SlackConfig{Enabled: true, Mode: "http", SigningSecret: config.Secret(testSecret),
		BotToken: config.Secret(testToken), APIURL: api}, Router: env.Router, Store: env.Deps.Store, Clock: env.Clock,
		Log: env.Deps.Log, Intake: tix, Reaction: "ticket"})
	t.Cleanup(a.Wait)
	srv := server.New(env.Deps.Log, env.Deps.Store, prometheus.NewRegistry())
	a.Mount(srv)
	return &intakeHarness{t: t, env: env, a: a, http: srv.Handler(), fake: fake}
}

// postJSON sends a signed Events API body.
func (h *intakeHarness) postJSON(path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	for k, v := range SignatureHeaders(testSecret, h.env.Clock.Now(), []byte(body)) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.http.ServeHTTP(rec, req)
	h.a.Wait()
	return rec
}

func (h *intakeHarness) event(id string, ev map[string]any) *httptest.ResponseRecorder {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "event_callback", "event_id": id, "team_id": "T0", "event": ev})
	rec := h.postJSON("/slack/events", string(body))
	if rec.Code != http.StatusOK {
		h.t.Fatalf("event %s: HTTP %d %s", id, rec.Code, rec.Body)
	}
	return rec
}

func (h *intakeHarness) reaction(id, user string) {
	h.event(id, map[string]any{"type": "reaction_added", "user": user, "reaction": "ticket",
		"item": map[string]any{"type": "message", "channel": "C0GENERAL", "ts": sourceTS}})
}

func (h *intakeHarness) reply(id, user, ts, text string, extra map[string]any) {
	ev := map[string]any{"type": "message", "user": user, "channel": "C0GENERAL", "ts": ts, "thread_ts": sourceTS, "text": text}
	for k, v := range extra {
		ev[k] = v
	}
	h.event(id, ev)
}

func (h *intakeHarness) tickets() []storage.Ticket {
	var ts []storage.Ticket
	if err := h.env.Deps.Store.DB.Order("id").Find(&ts).Error; err != nil {
		h.t.Fatal(err)
	}
	return ts
}

func (h *intakeHarness) comments(id int64) []string {
	var evs []storage.TicketEvent
	h.env.Deps.Store.DB.Where("ticket_id = ? AND kind = ?", id, "comment").Order("id").Find(&evs)
	var out []string
	for _, e := range evs {
		out = append(out, e.Actor+": "+e.Text)
	}
	return out
}

// threadPosts are the outbox rows aimed at the source message's thread.
func (h *intakeHarness) threadPosts() []string {
	var out []string
	for _, m := range h.env.Outbox() {
		var t bot.Target
		_ = json.Unmarshal([]byte(m.Target), &t)
		if t.Thread == sourceTS && t.Channel == "C0GENERAL" && t.Platform == bot.Slack {
			var r bot.Reply
			_ = json.Unmarshal([]byte(m.Body), &r)
			out = append(out, m.Key+" "+r.Fallback())
		}
	}
	return out
}

func TestSlackIntake(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newIntakeHarness(t, b)

			rec := h.postJSON("/slack/events", `{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"x"}`)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") {
				t.Fatalf("url_verification: %d %s", rec.Code, rec.Body)
			}

			// The same reaction delivered twice, and a second person reacting.
			h.reaction("Ev01", "U0BOB")
			h.reaction("Ev01", "U0BOB")
			h.reaction("Ev02", "U0CAROL")
			ts := h.tickets()
			if len(ts) != 1 {
				t.Fatalf("%d tickets, want exactly 1", len(ts))
			}
			tk := ts[0]
			if tk.Summary != "VPN drops every hour" || tk.Requester != "alice" || tk.FiledBy != "bob" {
				t.Errorf("ticket = %q requester=%s filed_by=%s", tk.Summary, tk.Requester, tk.FiledBy)
			}
			if !strings.Contains(tk.Description, "since the update & it hurts") || !strings.Contains(tk.Description, "https://example.slack.com/archives/C0GENERAL/p1700000000000100") {
				t.Errorf("description = %q", tk.Description)
			}
			posts := h.threadPosts()
			if len(posts) != 1 || !strings.HasPrefix(posts[0], "ticket:1:thread@slack Ticket #1") {
				t.Fatalf("thread posts after filing = %q", posts)
			}

			// Thread replies by the requester and the helpdesk become
			// comments, once each, and are not posted back into the thread.
			h.reply("Ev10", "U0ALICE", "1700000000.000200", "still broken <@U0CAROL>", nil)
			h.reply("Ev10", "U0ALICE", "1700000000.000200", "still broken <@U0CAROL>", nil)
			h.reply("Ev11", "U0ALICE", "1700000000.000200", "still broken <@U0CAROL>", nil) // redelivered with a new id
			h.reply("Ev12", "U0CAROL", "1700000000.000300", "looking", nil)
			// Not comments: a bystander, the bot's own post, edits and deletions.
			h.reply("Ev13", "U0BOB", "1700000000.000400", "me too", nil)
			h.reply("Ev14", "", "1700000000.000500", "Ticket #1 ...", map[string]any{"bot_id": "B0OPSBOT", "subtype": "bot_message"})
			h.event("Ev15", map[string]any{"type": "message", "subtype": "message_changed", "channel": "C0GENERAL", "ts": "1700000000.000600",
				"message": map[string]any{"ts": sourceTS, "text": "edited"}})
			h.event("Ev16", map[string]any{"type": "message", "subtype": "message_deleted", "channel": "C0GENERAL", "ts": "1700000000.000700",
				"deleted_ts": sourceTS})
			if got := strings.Join(h.comments(1), " | "); got != "alice: still broken @carol | carol: looking" {
				t.Errorf("comments = %q", got)
			}
			if got := h.threadPosts(); len(got) != 1 {
				t.Errorf("thread replies echoed back: %q", got)
			}
			if tk := h.tickets()[0]; tk.Summary != "VPN drops every hour" || tk.FirstResponseAt == nil {
				t.Errorf("after replies: summary %q, first response %v", tk.Summary, tk.FirstResponseAt)
			}

			// /ticket comment and state changes go into the thread.
			if r := h.env.Run("carol", `/ticket comment 1 "reset your token"`); r.Severity == bot.SeverityDanger {
				t.Fatal(r.Text)
			}
			h.env.Run("carol", "/ticket take 1")
			h.env.Run("carol", `/ticket resolve 1 "token reset"`)
			got := strings.Join(h.threadPosts(), "\n")
			for _, want := range []string{"@carol commented on #1: reset your token", "Ticket #1 is assigned to @carol", "Ticket #1 was resolved by @carol: token reset"} {
				if !strings.Contains(got, want) {
					t.Errorf("thread posts lack %q:\n%s", want, got)
				}
			}
			if n := len(h.comments(1)); n != 3 {
				t.Errorf("%d comments, want 3", n)
			}

			// The shortcut on the same message files nothing new.
			payload, _ := json.Marshal(map[string]any{"type": "message_action", "callback_id": "create_ticket", "trigger_id": "T1",
				"user": map[string]any{"id": "U0CAROL"}, "channel": map[string]any{"id": "C0GENERAL"},
				"message": map[string]any{"ts": sourceTS, "user": "U0ALICE", "text": "VPN drops every hour"}})
			form := url.Values{"payload": {string(payload)}}.Encode()
			req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(form))
			for k, v := range SignatureHeaders(testSecret, h.env.Clock.Now(), []byte(form)) {
				req.Header[k] = v
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h.http.ServeHTTP(w, req)
			h.a.Wait()
			if w.Code != 200 || len(h.tickets()) != 1 {
				t.Errorf("shortcut: HTTP %d, %d tickets", w.Code, len(h.tickets()))
			}
		})
	}
}

func TestSlackShortcutAndSuggestions(t *testing.T) {
	t.Parallel()
	b := storagetest.Backends(t)[0]
	h := newIntakeHarness(t, b)
	interact := func(p map[string]any) *httptest.ResponseRecorder {
		payload, _ := json.Marshal(p)
		form := url.Values{"payload": {string(payload)}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(form))
		for k, v := range SignatureHeaders(testSecret, h.env.Clock.Now(), []byte(form)) {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.http.ServeHTTP(w, req)
		h.a.Wait()
		return w
	}
	// A thread reply becomes a ticket whose card goes under the thread root.
	h.fake.AddMessage("C0GENERAL", fakeslack.Message{"type": "message", "ts": "1700000000.000900", "thread_ts": sourceTS, "user": "U0BOB", "text": "printer jams"})
	for range 2 {
		if w := interact(map[string]any{"type": "message_action", "callback_id": "create_ticket", "trigger_id": "T9",
			"user": map[string]any{"id": "U0CAROL"}, "channel": map[string]any{"id": "C0GENERAL"},
			"message": map[string]any{"ts": "1700000000.000900", "thread_ts": sourceTS, "user": "U0BOB", "text": "printer jams"}}); w.Code != 200 {
			t.Fatalf("shortcut: %d %s", w.Code, w.Body)
		}
	}
	ts := h.tickets()
	if len(ts) != 1 || ts[0].Requester != "bob" || ts[0].FiledBy != "carol" || ts[0].Summary != "printer jams" {
		t.Fatalf("tickets = %+v", ts)
	}
	// Type-ahead: bob sees his own ticket; alice sees none of his.
	for user, want := range map[string]int{"U0BOB": 1, "U0ALICE": 0, "U0CAROL": 1} {
		w := interact(map[string]any{"type": "block_suggestion", "action_id": "complete:ticket:show:n", "value": "print",
			"user": map[string]any{"id": user}})
		var got OptionsLoad
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Options) != want {
			t.Errorf("%s: %d options, want %d (%s)", user, len(got.Options), want, w.Body)
		}
		if want == 1 && got.Options[0].Value != fmt.Sprint(ts[0].ID) {
			t.Errorf("option = %+v", got.Options[0])
		}
	}
}

// A reaction on one of opsbot's own posts about a ticket (its card in the
// thread, the queue's card, a DM) files no second ticket from the card: the
// person is told which ticket it is.
func TestSlackReactionOnOwnTicketPost(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newIntakeHarness(t, b)
			h.reaction("Ev01", "U0BOB")
			// The notifier delivered the card into the thread.
			const cardTS = "1700000000.000900"
			if err := h.env.Deps.Store.DB.Model(&storage.OutboxMessage{}).Where("key = ?", "ticket:1:thread@slack").
				Updates(map[string]any{"state": storage.OutboxSent, "message_channel": "C0GENERAL", "message_id": cardTS}).Error; err != nil {
				t.Fatal(err)
			}
			h.fake.AddMessage("C0GENERAL", fakeslack.Message{"type": "message", "ts": cardTS, "thread_ts": sourceTS, "bot_id": "B0OPSBOT",
				"text": "Ticket #1: VPN drops every hour"})
			h.event("Ev02", map[string]any{"type": "reaction_added", "user": "U0CAROL", "reaction": "ticket",
				"item": map[string]any{"type": "message", "channel": "C0GENERAL", "ts": cardTS}})
			if n := len(h.tickets()); n != 1 {
				t.Errorf("%d tickets after a reaction on the bot's card, want 1", n)
			}
			if told := h.fake.Ephemeral(); len(told) != 1 || !strings.Contains(told[0], "ticket #1") {
				t.Errorf("told %q, want a word about ticket #1", told)
			}
		})
	}
}
