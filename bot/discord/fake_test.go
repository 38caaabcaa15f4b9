package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/harness/fakediscord"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const (
	testToken = "test-bot-token-SECRET-9f8e7d"
	testApp   = fakediscord.ApplicationID
	aliceID   = "100000000000000001"
	bobID     = "100000000000000002"
	channelID = "200000000000000001"
)

// newFake starts the shared fake Discord with the test token.
func newFake(t testing.TB) *fakediscord.Server { return fakediscord.New(t, testToken) }

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a store, a fake clock, a router over the test commands, the
// adapter, and a key pair standing in for the application's.
type testEnv struct {
	*handlertest.Env
	fake    *fakediscord.Server
	adapter *Adapter
	priv    ed25519.PrivateKey
	logs    *syncBuffer
	release chan struct{}
}

func testConfig(apiURL, pub string) *config.Config {
	return &config.Config{
		People: []config.Person{
			{Name: "alice", DiscordID: aliceID, Roles: []string{"admin"}},
			{Name: "bob", DiscordID: bobID, Roles: []string{"helpdesk"}},
		},
		Discord: config.DiscordConfig{Enabled: true, Mode: "http", Token: config.Secret(testToken),
			ApplicationID: testApp, PublicKey: pub, APIURL: apiURL},
	}
}

func newEnv(t testing.TB, b storagetest.Backend, extra ...bot.Command) *testEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(t)
	cfg := testConfig(fake.URL(), hex.EncodeToString(pub))
	env := &testEnv{Env: handlertest.New(t, b, cfg), fake: fake, priv: priv, logs: &syncBuffer{}, release: make(chan struct{})}
	env.Use(append(testCommands(env.Deps, env), extra...)...)
	log := slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg.Discord, env.Router, env.Deps.Store, env.Clock, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env.adapter = a
	t.Cleanup(func() {
		if strings.Contains(env.logs.String(), testToken) {
			t.Errorf("the bot token reached the log:\n%s", env.logs)
		}
	})
	return env
}

// testCommands stand in for the areas: /note add writes an audit row (the
// lead swaps in /ticket new), /slow is a Slow command, /block runs past the
// budget until the test releases it.
func testCommands(d handlers.Deps, env *testEnv) []bot.Command {
	note := func(_ context.Context, req *bot.Request) (bot.Reply, error) {
		detail := fmt.Sprintf("text=%q", req.String("text"))
		if req.Has("priority") {
			detail += " priority=" + req.String("priority")
		}
		if p, ok := req.PersonArg("for"); ok {
			detail += " for=" + p.Name
		}
		if req.Has("ticket") {
			detail += fmt.Sprintf(" ticket=%d", req.Int("ticket"))
		}
		if req.Has("days") {
			detail += fmt.Sprintf(" days=%d", req.Int("days"))
		}
		if req.Has("within") {
			detail += " within=" + bot.FormatDuration(req.Duration("within"))
		}
		if req.Has("quiet") {
			detail += fmt.Sprintf(" quiet=%t", req.Bool("quiet"))
		}
		err := d.Store.Tx(context.Background(), func(tx *gorm.DB) error {
			return storage.WriteAudit(tx, handlers.Audit(req, "note.add", "note:1", detail))
		})
		if err != nil {
			return bot.Reply{}, err
		}
		return bot.Reply{Title: "Noted #1", Text: req.String("text"), Severity: bot.SeveritySuccess,
			Buttons: []bot.Button{{Label: "Close", Command: "/note close 1", Style: bot.ButtonDanger}}}, nil
	}
	closeNote := func(_ context.Context, req *bot.Request) (bot.Reply, error) {
		if !req.Person.HasRole("helpdesk") {
			return bot.Reply{}, bot.Forbiddenf("closing notes needs the helpdesk role")
		}
		err := d.Store.Tx(context.Background(), func(tx *gorm.DB) error {
			return storage.WriteAudit(tx, handlers.Audit(req, "note.close", fmt.Sprintf("note:%d", req.Int("id")), req.String("reason")))
		})
		return bot.Reply{Text: fmt.Sprintf("Closed #%d", req.Int("id")), Severity: bot.SeveritySuccess}, err
	}
	wait := func(ctx context.Context, req *bot.Request) (bot.Reply, error) {
		<-env.release
		if req.Has("advance") {
			env.Clock.Advance(req.Duration("advance"))
		}
		return bot.Reply{Text: "done: " + req.Name(), InChannel: req.Bool("public")}, nil
	}
	waitFlags := []bot.Param{{Name: "advance", Kind: bot.KindDuration}, {Name: "public", Kind: bot.KindBool}}
	return []bot.Command{
		{Name: "note", Summary: "Notes", Subs: []bot.Sub{
			{Name: "add", Summary: "Add a note", Run: note,
				Args: []bot.Param{{Name: "text", Kind: bot.KindText, Required: true, Help: "What to note"}},
				Flags: []bot.Param{
					{Name: "priority", Kind: bot.KindChoice, Choices: []string{"low", "normal", "high"}},
					{Name: "for", Kind: bot.KindPerson},
					{Name: "ticket", Kind: bot.KindID},
					{Name: "days", Kind: bot.KindInt},
					{Name: "within", Kind: bot.KindDuration},
					{Name: "quiet", Kind: bot.KindBool},
				}},
			{Name: "close", Summary: "Close a note", Run: closeNote,
				Args:  []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}},
				Flags: []bot.Param{{Name: "reason", Kind: bot.KindText}}},
		}},
		{Name: "slow", Summary: "A slow command", Subs: []bot.Sub{{Slow: true, Run: wait, Flags: waitFlags}}},
		{Name: "block", Summary: "A command that overruns", Subs: []bot.Sub{{Run: wait, Flags: waitFlags}}},
	}
}

// post signs body with the test key at the given time and sends it to the
// adapter's HTTP handler.
func (e *testEnv) post(t testing.TB, body []byte, at time.Time, key ed25519.PrivateKey) *httptest.ResponseRecorder {
	t.Helper()
	return postTo(e.adapter, body, at, key)
}

// postTo signs body with key at the given time and sends it to h, one
// replica's POST /discord/interactions.
func postTo(h http.Handler, body []byte, at time.Time, key ed25519.PrivateKey) *httptest.ResponseRecorder {
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := ed25519.Sign(key, append([]byte(ts), body...))
	req := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	req.Header.Set("X-Signature-Timestamp", ts)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// ids numbers interactions after the first, which tests refer to by id.
var ids atomic.Int64

func nextID() string {
	n := ids.Add(1)
	if n == 1 {
		return "900000000000000001"
	}
	return strconv.FormatInt(910000000000000000+n, 10)
}

// slash builds an application command interaction from who.
func slash(who, name string, opts ...*discordgo.ApplicationCommandInteractionDataOption) []byte {
	return slashID(nextID(), who, name, opts...)
}

func slashID(id, who, name string, opts ...*discordgo.ApplicationCommandInteractionDataOption) []byte {
	it := map[string]any{
		"id": id, "application_id": testApp, "type": 2, "token": "itoken-abc", "version": 1,
		"channel_id": channelID, "guild_id": "400000000000000001",
		"member": map[string]any{"user": map[string]any{"id": who, "username": "x"}},
		"data":   map[string]any{"id": "1", "name": name, "type": 1, "options": opts},
	}
	b, _ := json.Marshal(it)
	return b
}

func click(who, customID string) []byte {
	it := map[string]any{
		"id": nextID(), "application_id": testApp, "type": 3, "token": "itoken-click", "version": 1,
		"channel_id": channelID, "user": map[string]any{"id": who},
		"message": map[string]any{"id": "700000000000000042", "channel_id": channelID},
		"data":    map[string]any{"custom_id": customID, "component_type": 2},
	}
	b, _ := json.Marshal(it)
	return b
}

func sub(name string, opts ...*discordgo.ApplicationCommandInteractionDataOption) *discordgo.ApplicationCommandInteractionDataOption {
	return &discordgo.ApplicationCommandInteractionDataOption{Name: name, Type: discordgo.ApplicationCommandOptionSubCommand, Options: opts}
}

func opt(name string, typ discordgo.ApplicationCommandOptionType, v any) *discordgo.ApplicationCommandInteractionDataOption {
	return &discordgo.ApplicationCommandInteractionDataOption{Name: name, Type: typ, Value: v}
}

// response decodes the adapter's answer.
func response(t *testing.T, rec *httptest.ResponseRecorder) discordgo.InteractionResponse {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var resp struct {
		Type discordgo.InteractionResponseType `json:"type"`
		Data *struct {
			Content string                    `json:"content"`
			Flags   discordgo.MessageFlags    `json:"flags"`
			Embeds  []*discordgo.MessageEmbed `json:"embeds"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	out := discordgo.InteractionResponse{Type: resp.Type}
	if resp.Data != nil {
		out.Data = &discordgo.InteractionResponseData{Content: resp.Data.Content, Flags: resp.Data.Flags, Embeds: resp.Data.Embeds}
	}
	return out
}

func (e *testEnv) postRaw(t *testing.T, body []byte, at time.Time, key ed25519.PrivateKey, mangle func([]byte) []byte) int {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := ed25519.Sign(key, append([]byte(ts), body...))
	req := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(mangle(body)))
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	req.Header.Set("X-Signature-Timestamp", ts)
	rec := httptest.NewRecorder()
	e.adapter.ServeHTTP(rec, req)
	return rec.Code
}

func (e *testEnv) postHeaders(t *testing.T, body []byte, sig, ts string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Signature-Ed25519", sig)
		req.Header.Set("X-Signature-Timestamp", ts)
	}
	rec := httptest.NewRecorder()
	e.adapter.ServeHTTP(rec, req)
	return rec.Code
}
