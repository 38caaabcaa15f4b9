package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack/socketmode"

	"opsbot/config"
	"opsbot/handlers/devices"
	"opsbot/harness/handlertest"
	"opsbot/server"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// menuHarness is the Slack adapter over the real devices handler with
// 10,000 devices, all at 127.0.0.1 where nothing answers SNMP, and a fake
// response_url endpoint.
type menuHarness struct {
	t       testing.TB
	env     *handlertest.Env
	a       *Adapter
	http    http.Handler
	hooks   chan hook
	hookURL string
}

// closedUDPPort is a loopback UDP port nothing listens on: SNMP to it fails
// at once with "port unreachable".
func closedUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	_ = c.Close()
	return port
}

func newMenuHarness(t testing.TB, b storagetest.Backend) *menuHarness {
	t.Helper()
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", SlackID: "U0ALICE", Roles: []string{"admin"}},
		{Name: "bob", SlackID: "U0BOB"},
	}
	cfg.Devices.SNMP.Port = closedUDPPort(t)
	cfg.Devices.SNMP.Timeout = config.Duration(time.Second)
	cfg.Devices.SNMP.Retries = 0
	env := handlertest.New(t, b, cfg)
	devs := make([]storage.Device, 10000)
	for i := range devs {
		devs[i] = storage.Device{Name: fmt.Sprintf("site%02d-sw-%04d", i%50, i), Address: "127.0.0.1", Source: storage.DeviceFromChat,
			CreatedAt: env.Clock.Now(), UpdatedAt: env.Clock.Now()}
	}
	if err := env.Deps.Store.DB.CreateInBatches(devs, 500).Error; err != nil {
		t.Fatal(err)
	}
	dh, err := devices.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(dh.Command())
	h := &menuHarness{t: t, env: env, hooks: make(chan hook, 16)}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got hook
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("response_url body: %v", err)
		}
		h.hooks <- got
	}))
	t.Cleanup(hooks.Close)
	h.hookURL = hooks.URL + "/actions/T0/1/abc"
	h.a = New(Options{Config: config.SlackConfig{Enabled: true, Mode: "http", SigningSecret: config.Secret(testSecret),
		BotToken: config.Secret(testToken)}, Router: env.Router, Store: env.Deps.Store, Clock: env.Clock, Log: env.Deps.Log,
		Budget: time.Minute})
	t.Cleanup(h.a.Wait)
	srv := server.New(env.Deps.Log, env.Deps.Store, prometheus.NewRegistry())
	h.a.Mount(srv)
	h.http = srv.Handler()
	return h
}

// post sends a form signed the way Slack signs it.
func (h *menuHarness) post(path string, form url.Values) *httptest.ResponseRecorder {
	h.t.Helper()
	body := form.Encode()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	for k, v := range SignatureHeaders(testSecret, h.env.Clock.Now(), []byte(body)) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.http.ServeHTTP(rec, req)
	return rec
}

func (h *menuHarness) interact(p map[string]any) *httptest.ResponseRecorder {
	h.t.Helper()
	j, err := json.Marshal(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.post("/slack/interactions", url.Values{"payload": {string(j)}})
}

// suggest asks for the options of a menu as Slack does while someone types.
func (h *menuHarness) suggest(user, actionID, typed string) OptionsLoad {
	h.t.Helper()
	rec := h.interact(map[string]any{"type": "block_suggestion", "action_id": actionID, "block_id": "opsbot_menus", "value": typed,
		"user": map[string]any{"id": user}, "container": map[string]any{"type": "message", "message_ts": "1700000000.000100"}})
	if rec.Code != http.StatusOK {
		h.t.Fatalf("block_suggestion: status %d %s", rec.Code, rec.Body)
	}
	var got OptionsLoad
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		h.t.Fatalf("options load %q: %v", rec.Body, err)
	}
	return got
}

// choose sends a block_actions payload for a choice from a menu.
func (h *menuHarness) choose(user, actionID, value, trigger string) int {
	h.t.Helper()
	rec := h.interact(map[string]any{
		"type": "block_actions", "trigger_id": trigger, "response_url": h.hookURL,
		"user": map[string]any{"id": user, "username": "x"}, "channel": map[string]any{"id": "C0HELP"},
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000100"},
		"message":   map[string]any{"ts": "1700000000.000100"},
		"actions": []any{map[string]any{"type": "external_select", "action_id": actionID, "block_id": "opsbot_menus",
			"action_ts": "1700000001.000200", "placeholder": map[string]any{"type": "plain_text", "text": "Show a device"},
			"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": value}, "value": value}}},
	})
	return rec.Code
}

func (h *menuHarness) hook() hook {
	h.t.Helper()
	select {
	case got := <-h.hooks:
		return got
	case <-time.After(time.Minute): // a hang guard, not a timing check
		h.t.Fatal("no POST to response_url")
		return hook{}
	}
}

func TestSlackMenuLookupToShow(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newMenuHarness(t, b)
			// /device lookup with many matches answers with a type-ahead menu.
			rec := h.post("/slack/commands", url.Values{"user_id": {"U0BOB"}, "channel_id": {"C0HELP"}, "command": {"/device"},
				"text": {"lookup site07"}, "response_url": {h.hookURL}, "trigger_id": {"TL1"}})
			if rec.Code != http.StatusOK {
				t.Fatalf("lookup: %d %s", rec.Code, rec.Body)
			}
			for _, want := range []string{`"type":"external_select"`, `"action_id":"complete:device:show:name"`, `"min_query_length":0`, `Show a device`} {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("lookup answer lacks %s:\n%s", want, rec.Body)
				}
			}
			// Slack loads its options from the 10,000 devices as bob types.
			got := h.suggest("U0BOB", "complete:device:show:name", "site07-sw-000")
			if len(got.Options) != 1 || got.Options[0].Value != "site07-sw-0007" || got.Options[0].Text.Text != "site07-sw-0007" {
				t.Errorf("options for site07-sw-000 = %+v", got.Options)
			}
			if got := h.suggest("U0BOB", "complete:device:show:name", "sw-12"); len(got.Options) != 25 || !strings.Contains(got.Options[0].Value, "sw-12") {
				t.Errorf("options for sw-12: %d %+v", len(got.Options), got.Options)
			}
			if got := h.suggest("U0BOB", "complete:device:show:name", ""); len(got.Options) != 25 {
				t.Errorf("options on open: %d", len(got.Options))
			}
			// Choosing runs /device show with the value, as bob, and replaces
			// the message like a button click.
			if code := h.choose("U0BOB", "complete:device:show:name", "site07-sw-0007", "TC1"); code != http.StatusOK {
				t.Fatalf("choice: status %d", code)
			}
			up := h.hook()
			if !up.ReplaceOriginal || !strings.Contains(up.Text, "site07-sw-0007 (127.0.0.1)") ||
				!strings.Contains(string(up.Blocks), "@bob chose site07-sw-0007") {
				t.Fatalf("update = %+v %s", up, up.Blocks)
			}
			// A retried choice runs nothing again.
			h.choose("U0BOB", "complete:device:show:name", "site07-sw-0007", "TC1")
			h.a.Wait()
			if len(h.hooks) != 0 {
				t.Fatal("a retried choice ran again")
			}
		})
	}
}

// TestSlackMenuChoiceIsOneArgument: whatever a block_actions payload says was
// chosen, it reaches the command as one quoted argument, so it cannot add
// flags or run another command; and it runs as the chooser, whose roles
// decide.
func TestSlackMenuChoiceIsOneArgument(t *testing.T) {
	t.Parallel()
	h := newMenuHarness(t, storagetest.Backends(t)[0])
	for i, value := range []string{"x --role admin", `"; /access approve 1`, "site07-sw-0007 --oid 1.3.6.1.2.1.1.3.0",
		"--interfaces", `site07-sw-0007" --interfaces "`, "site07-sw-0007\n/device remove site07-sw-0007"} {
		if code := h.choose("U0BOB", "complete:device:show:name", value, fmt.Sprintf("TH%d", i)); code != http.StatusOK {
			t.Fatalf("%q: status %d", value, code)
		}
		got := h.hook()
		if got.ReplaceOriginal || got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "No device is called") {
			t.Errorf("%q: %+v", value, got)
		}
		if want := fmt.Sprintf("%q", value); !strings.Contains(strings.ReplaceAll(got.Text, "&quot;", `"`), want[:min(len(want), 20)]) {
			t.Errorf("%q: the reply does not name the whole value as one name: %s", value, got.Text)
		}
	}
	// bob may not remove devices; alice may. Each choice runs as its chooser.
	h.choose("U0BOB", "complete:device:remove:name", "site07-sw-0007", "TR1")
	if got := h.hook(); got.ReplaceOriginal || !strings.Contains(got.Text, "needs the admin role") {
		t.Errorf("bob's removal: %+v", got)
	}
	h.choose("U0ALICE", "complete:device:remove:name", "site07-sw-0007", "TR2")
	if got := h.hook(); !strings.Contains(got.Text, "Removed site07-sw-0007") || !strings.Contains(string(got.Blocks), "@alice chose site07-sw-0007") {
		t.Errorf("alice's removal: %+v %s", got, got.Blocks)
	}
	rows := h.env.Audit()
	if len(rows) == 0 || rows[len(rows)-1].Actor != "alice" {
		t.Errorf("audit = %+v", rows)
	}
	// Malformed menus run nothing.
	for i, id := range []string{"complete:device:show", "complete:device:show:name:x", "complete:device:sh ow:name", "opsbot_0", ""} {
		if code := h.choose("U0BOB", id, "site07-sw-0008", fmt.Sprintf("TM%d", i)); code != http.StatusOK {
			t.Errorf("%q: status %d", id, code)
		}
	}
	h.a.Wait()
	if len(h.hooks) != 0 {
		t.Errorf("a malformed menu ran something: %+v", <-h.hooks)
	}
}

// BenchmarkSignedMenuSuggest measures the whole options load Slack waits
// for: a signed block_suggestion over HTTP answered from 10,000 devices.
func BenchmarkSignedMenuSuggest(b *testing.B) {
	h := newMenuHarness(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)})
	for _, typed := range []string{"site4", "sw-12", ""} {
		b.Run("typed="+typed, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if got := h.suggest("U0BOB", "complete:device:show:name", typed); len(got.Options) == 0 {
					b.Fatal("no options")
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/load")
		})
	}
}

// TestSlackMenuOverSocketMode: the same options load and choice arrive as
// Socket Mode envelopes.
func TestSlackMenuOverSocketMode(t *testing.T) {
	t.Parallel()
	h := newMenuHarness(t, storagetest.Backends(t)[0])
	sm := &fakeAcker{}
	send := func(id string, p map[string]any) {
		j, _ := json.Marshal(p)
		h.a.socketEvent(context.Background(), sm, socketmode.Event{Type: socketmode.EventTypeInteractive,
			Request: &socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: id, Payload: j}})
	}
	send("E1", map[string]any{"type": "block_suggestion", "action_id": "complete:device:show:name", "value": "site07-sw-000",
		"user": map[string]any{"id": "U0BOB"}})
	send("E2", map[string]any{"type": "block_actions", "response_url": h.hookURL,
		"user": map[string]any{"id": "U0BOB"}, "channel": map[string]any{"id": "C0HELP"},
		"actions": []any{map[string]any{"type": "external_select", "action_id": "complete:device:show:name",
			"selected_option": map[string]any{"text": map[string]any{"text": "site07-sw-0007"}, "value": "site07-sw-0007 --interfaces"}}}})
	if len(sm.acks) != 2 {
		t.Fatalf("%d acks", len(sm.acks))
	}
	if load, ok := sm.acks[0].(OptionsLoad); !ok || len(load.Options) != 1 || load.Options[0].Value != "site07-sw-0007" {
		t.Errorf("options load ack = %+v", sm.acks[0])
	}
	if got := h.hook(); !strings.Contains(got.Text, `No device is called "site07-sw-0007 --interfaces"`) {
		t.Errorf("choice = %+v", got)
	}
}
