package discord

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/handlers/tickets"
	"opsbot/harness/fakediscord"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// The gateway tests run one at a time (not in parallel): they inspect the
// goroutines left behind, and discordgo's reconnect pauses are real time.

const guildID = "400000000000000001"

// notifyingIntake is the tickets intake that says when it has taken a
// thread reply, so tests wait on it instead of sleeping.
type notifyingIntake struct {
	bot.Intake
	replied chan string
}

func (n notifyingIntake) ThreadReply(ctx context.Context, m bot.Message) error {
	err := n.Intake.ThreadReply(ctx, m)
	n.replied <- m.ID
	return err
}

// gatewayEnv is a store, the tickets commands and intake, the fake REST
// API and the fake gateway it points at, and the adapter in gateway mode.
type gatewayEnv struct {
	*testEnv
	gw      *fakediscord.Gateway
	intake  notifyingIntake
	log     *slog.Logger
	cmds    []*discordgo.ApplicationCommand
	handled chan string
}

// newGatewayEnv builds the environment; portal are the privileged intents
// the application has in the developer portal.
func newGatewayEnv(t *testing.T, b storagetest.Backend, portal discordgo.Intent) *gatewayEnv {
	t.Helper()
	fake := newFake(t)
	gw := fakediscord.NewGateway(t, testToken, portal)
	fake.SetGateway(gw.URL())
	cfg := testConfig(fake.URL(), "")
	cfg.Discord.Mode = "gateway"
	env := &gatewayEnv{testEnv: &testEnv{Env: handlertest.New(t, b, cfg), fake: fake, logs: &syncBuffer{}, release: make(chan struct{})}, gw: gw}
	tix, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(tix.Command())
	env.intake = notifyingIntake{Intake: tix, replied: make(chan string, 16)}
	env.log = slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.adapter = env.newAdapter(t)
	env.cmds = registered(t, env.Router.Commands())
	t.Cleanup(func() {
		if strings.Contains(env.logs.String(), testToken) {
			t.Errorf("the bot token reached the log:\n%s", env.logs)
		}
	})
	return env
}

// newAdapter is another replica's adapter: same database, same config.
func (e *gatewayEnv) newAdapter(t *testing.T) *Adapter {
	t.Helper()
	a, err := New(e.Deps.Config.Discord, e.Router, e.Deps.Store, e.Clock, e.log, Options{Intake: e.intake})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// start runs a.Run until the returned function (also a cleanup) cancels it
// and checks that Run returns.
func start(t *testing.T, a *Adapter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// interaction decodes an interaction body built by the HTTP tests'
// helpers into the d of an INTERACTION_CREATE.
func interaction(t *testing.T, body []byte) (string, map[string]any) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	return d["id"].(string), d
}

// slashCommand is the INTERACTION_CREATE Discord sends when who runs line.
func (e *gatewayEnv) slashCommand(t *testing.T, who, line string) (string, map[string]any) {
	t.Helper()
	data, err := InteractionData(e.cmds, line)
	if err != nil {
		t.Fatal(err)
	}
	return interaction(t, interactionBody(t, who, data))
}

// callback waits for the interaction's callback and returns it.
func (e *gatewayEnv) callback(t *testing.T, id string) fakediscord.Call {
	t.Helper()
	c := e.fake.WaitFor(t, "callback of interaction "+id, func(c fakediscord.Call) bool {
		return c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/interactions/"+id+"/")
	})
	if c.Path != "/interactions/"+id+"/itoken-abc/callback" || c.Auth != "" {
		t.Fatalf("callback %s %s (Authorization %q)", c.Method, c.Path, c.Auth)
	}
	return c
}

// ticketNew runs /ticket new over the gateway and checks the answer and
// the ticket it stored.
func (e *gatewayEnv) ticketNew(t *testing.T, summary string, n int) {
	t.Helper()
	id, d := e.slashCommand(t, aliceID, `/ticket new "`+summary+`"`)
	e.gw.Dispatch("INTERACTION_CREATE", d)
	c := e.callback(t, id)
	want := "#" + strconv.Itoa(n)
	if c.Body["type"] != 4.0 || !strings.Contains(string(c.Raw), want) {
		t.Fatalf("answer to /ticket new: %s", c.Raw)
	}
	var tk storage.Ticket
	if err := e.Deps.Store.DB.Where("summary = ?", summary).Take(&tk).Error; err != nil || tk.Requester != "alice" {
		t.Fatalf("ticket %q: %+v, %v", summary, tk, err)
	}
}

// goroutines reports whether any goroutine's stack has every one of the
// strings.
func goroutines(all ...string) bool {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		found := true
		for _, s := range all {
			found = found && strings.Contains(g, s)
		}
		if found {
			return true
		}
	}
	return false
}

// TestGatewaySession connects to the fake gateway as Discord expects,
// answers slash and message commands that arrive as INTERACTION_CREATE
// through the REST callback, turns a MESSAGE_CREATE that replies to a
// ticket's message into a comment, and ends the session on shutdown.
func TestGatewaySession(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
	stop := start(t, env.adapter)

	lookup := env.fake.WaitFor(t, "GET /gateway", func(c fakediscord.Call) bool { return c.Path == "/gateway" })
	if lookup.Method != http.MethodGet {
		t.Fatalf("gateway lookup %s %s", lookup.Method, lookup.Path)
	}
	conn := env.gw.Await(t, "connect")
	if conn.Version != "9" && conn.Version != "10" || conn.Encoding != "json" {
		t.Fatalf("dialled %s with v=%s encoding=%s", conn.Path, conn.Version, conn.Encoding)
	}
	id := env.gw.Await(t, "identify")
	if id.Token != "Bot "+testToken || id.Intents != discordgo.IntentGuildMessages|discordgo.IntentMessageContent || id.OS == "" {
		t.Fatalf("IDENTIFY %+v", id)
	}
	// The first heartbeat carries READY's sequence number.
	if hb := env.gw.Await(t, "heartbeat"); hb.Seq != 1 {
		t.Fatalf("first heartbeat d=%d, want 1", hb.Seq)
	}

	env.ticketNew(t, "printer jams", 1)

	// Create ticket on a message, then a reply to that message.
	mid, d := interaction(t, messageCommand(bobID))
	env.gw.Dispatch("INTERACTION_CREATE", d)
	if c := env.callback(t, mid); c.Body["type"] != 4.0 || !strings.Contains(string(c.Raw), "#2") {
		t.Fatalf("answer to Create ticket: %s", c.Raw)
	}
	reply := map[string]any{"id": "500000000000000002", "type": 19, "channel_id": channelID, "guild_id": guildID,
		"content": "on my way", "timestamp": "2025-01-01T00:00:00Z", "tts": false, "mention_everyone": false,
		"mentions": []any{}, "mention_roles": []any{}, "attachments": []any{}, "embeds": []any{}, "pinned": false,
		"author":            map[string]any{"id": bobID, "username": "bob", "discriminator": "0"},
		"message_reference": map[string]any{"type": 0, "message_id": sourceMsg, "channel_id": channelID, "guild_id": guildID}}
	env.gw.Dispatch("MESSAGE_CREATE", reply)
	waitReply(t, env, "500000000000000002")
	var comments []storage.TicketEvent
	env.Deps.Store.DB.Where("kind = ?", "comment").Find(&comments)
	if len(comments) != 1 || comments[0].TicketID != 2 || !strings.Contains(comments[0].Text, "on my way") {
		t.Fatalf("comments %+v", comments)
	}

	stop()
	if c := env.gw.Await(t, "close"); c.Code != 1000 {
		t.Fatalf("closed with %d, want 1000", c.Code)
	}
	for _, f := range []string{"(*Adapter).runGateway", "(*Adapter).OnInteraction", "(*Adapter).OnMessage", "(*Adapter).prune"} {
		if goroutines("bot/discord" + "." + f) {
			t.Errorf("a goroutine in %s outlived Run", f)
		}
	}
}

func waitReply(t *testing.T, env *gatewayEnv, id string) {
	t.Helper()
	select {
	case got := <-env.intake.replied:
		if got != id {
			t.Fatalf("intake took message %s, want %s", got, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("message %s never reached the intake", id)
	}
}

// TestGatewayReconnects breaks the connection the ways Discord does and
// checks that the adapter comes back, resuming when Discord allows it, and
// still answers interactions, including one sent while it was away.
func TestGatewayReconnects(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
	start(t, env.adapter)
	env.gw.Await(t, "identify")
	env.ticketNew(t, "first", 1)

	cases := []struct {
		name    string
		disrupt func()
		// resumed: the session resumes and an interaction dispatched
		// meanwhile is replayed; else a new session is identified.
		resumed bool
	}{
		{"close 4000 unknown error", func() { env.gw.Drop(fakediscord.CloseUnknownError) }, true},
		{"dropped TCP connection", func() { env.gw.Cut() }, true},
		{"op 7 reconnect", func() { env.gw.Reconnect() }, true},
		{"close 4009 session timed out", func() { env.gw.Drop(fakediscord.CloseSessionTimedOut) }, false},
		{"heartbeats not acknowledged", func() {
			// A short interval on a new connection, then silence.
			env.gw.SetInterval(100 * time.Millisecond)
			env.gw.Cut()
			env.gw.Await(t, "resume")
			env.gw.SetAck(false)
		}, false},
	}
	for i, tc := range cases {
		n := i + 2
		summary := "after " + tc.name
		tc.disrupt()
		if tc.resumed {
			// Sent while the connection is down or going: Discord keeps
			// it for the session and replays it on RESUME.
			id, d := env.slashCommand(t, aliceID, `/ticket new "`+summary+`"`)
			env.gw.Dispatch("INTERACTION_CREATE", d)
			if r := env.gw.Await(t, "resume"); r.Outcome != "resumed" || r.Token != "Bot "+testToken {
				t.Fatalf("%s: RESUME %+v", tc.name, r)
			}
			if c := env.callback(t, id); !strings.Contains(string(c.Raw), "#"+strconv.Itoa(n)) {
				t.Fatalf("%s: answer %s", tc.name, c.Raw)
			}
			continue
		}
		if r := env.gw.Await(t, "resume"); r.Outcome != "rejected" {
			t.Fatalf("%s: RESUME %+v, want it rejected", tc.name, r)
		}
		env.gw.SetAck(true)
		if id := env.gw.Await(t, "identify"); id.Intents != discordgo.IntentGuildMessages|discordgo.IntentMessageContent {
			t.Fatalf("%s: IDENTIFY %+v", tc.name, id)
		}
		env.ticketNew(t, summary, n)
	}
}

// TestGatewayWithoutMessageContent: an application without the Message
// Content intent in the developer portal is refused (4014) when it asks
// for it; the adapter connects without it and commands still work.
func TestGatewayWithoutMessageContent(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], 0)
	start(t, env.adapter)
	if id := env.gw.Await(t, "identify"); id.Intents != discordgo.IntentGuildMessages|discordgo.IntentMessageContent {
		t.Fatalf("first IDENTIFY %+v", id)
	}
	if id := env.gw.Await(t, "identify"); id.Intents != 0 {
		t.Fatalf("IDENTIFY after 4014 asked for intents %d", id.Intents)
	}
	env.ticketNew(t, "no content intent", 1)
	if !strings.Contains(env.logs.String(), "Message Content intent") {
		t.Errorf("the log does not say the Message Content intent is missing:\n%s", env.logs)
	}
}

// TestGatewayReplicasOverlap: while two replicas hold a gateway session
// (one losing the lead, the next taking it), Discord sends each interaction
// to both; it runs once and is answered once.
func TestGatewayReplicasOverlap(t *testing.T) {
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := newGatewayEnv(t, b, fakediscord.PrivilegedIntents)
			stopA := start(t, env.adapter)
			stopB := start(t, env.newAdapter(t))
			env.gw.Await(t, "identify")
			env.gw.Await(t, "identify")
			id, d := env.slashCommand(t, aliceID, `/ticket new "seen twice"`)
			env.gw.Dispatch("INTERACTION_CREATE", d)
			env.callback(t, id)
			// Run returns once its handlers have.
			stopA()
			stopB()
			var n int64
			env.Deps.Store.DB.Model(&storage.Ticket{}).Count(&n)
			callbacks := 0
			for _, c := range env.fake.All() {
				if strings.HasPrefix(c.Path, "/interactions/"+id+"/") {
					callbacks++
				}
			}
			if n != 1 || callbacks != 1 {
				t.Fatalf("%d tickets, %d callbacks; want 1 and 1", n, callbacks)
			}
		})
	}
}

// TestGatewayStopsWhileUnreachable: Run returns promptly when its context
// ends while Discord is unreachable or hangs mid-handshake, and leaves
// nothing behind that would reconnect later: a replica that lost the lead
// must not keep a session.
func TestGatewayStopsWhileUnreachable(t *testing.T) {
	t.Run("reconnecting", func(t *testing.T) {
		env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
		stop := start(t, env.adapter)
		env.gw.Await(t, "identify")
		env.gw.SetDown(true)
		env.fake.Status(http.StatusServiceUnavailable)
		env.gw.Cut()
		env.gw.Await(t, "refused")
		stop()
		if goroutines("[chan receive", "discordgo.(*Session).reconnect") {
			t.Fatal("discordgo is still trying to reconnect after Run returned")
		}
	})
	t.Run("handshake hangs", func(t *testing.T) {
		env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
		env.gw.SetSilent(true)
		stop := start(t, env.adapter)
		env.gw.Await(t, "connect")
		stop()
		env.gw.Await(t, "gone")
	})
}
