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
	"github.com/gorilla/websocket"

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
	// Short, so that the first heartbeat comes soon, and long enough that
	// a busy machine acknowledges each before the next.
	env.gw.SetInterval(2 * time.Second)
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
	if id.Token != testToken || id.Intents != discordgo.IntentGuildMessages|discordgo.IntentMessageContent || id.OS == "" || id.Path != "/" {
		t.Fatalf("IDENTIFY %+v", id)
	}
	// The first heartbeat after READY carries READY's sequence number (one
	// may come before READY is read, with null).
	hb := env.gw.Await(t, "heartbeat")
	for hb.Seq == -1 {
		hb = env.gw.Await(t, "heartbeat")
	}
	if hb.Seq != 1 {
		t.Fatalf("first heartbeat after READY d=%d, want 1", hb.Seq)
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
	for _, f := range []string{"(*Adapter).runGateway", "(*Adapter).OnInteraction", "(*Adapter).OnMessage", "(*Adapter).prune",
		"(*gateway).connection"} {
		if goroutines("bot/discord" + "." + f) {
			t.Errorf("a goroutine in %s outlived Run", f)
		}
	}

	// The 1000 close ended the session: the next Run identifies afresh.
	env.gw.Flush()
	start(t, env.adapter)
	if e := env.gw.Await(t, "resume", "identify"); e.Kind != "identify" {
		t.Fatalf("after a 1000 close the client sent %+v, want IDENTIFY", e)
	}
	env.ticketNew(t, "after a restart", 3)
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
// checks what the adapter does after each, as Discord's documentation asks:
// RESUME at READY's resume_gateway_url while the session lives (the
// interaction dispatched meanwhile is replayed and answered), IDENTIFY
// afresh once it has ended (after 4007 and 4009 at once, after INVALID
// SESSION d:false after the wait), and a reconnect after a single
// heartbeat without an acknowledgement.
func TestGatewayReconnects(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
	const invalidWait = 300 * time.Millisecond
	env.adapter.invalidWait = func() time.Duration { return invalidWait }
	start(t, env.adapter)
	env.gw.Await(t, "identify")
	env.ticketNew(t, "first", 1)

	var sent time.Time
	cases := []struct {
		name    string
		disrupt func()
		// resumed: the session resumes and an interaction dispatched
		// meanwhile is replayed; else a new session is identified.
		resumed bool
		// closes: the client closes the connection itself, with a code
		// that keeps its session.
		closes bool
		// wait: IDENTIFY comes no sooner than the injected wait.
		wait bool
	}{
		{name: "close 4000 unknown error", disrupt: func() { env.gw.Drop(fakediscord.CloseUnknownError) }, resumed: true},
		{name: "dropped TCP connection", disrupt: func() { env.gw.Cut() }, resumed: true},
		{name: "op 7 reconnect", disrupt: func() { env.gw.Reconnect() }, resumed: true, closes: true},
		{name: "op 9 invalid session, resumable", disrupt: func() { env.gw.Invalidate(true) }, resumed: true, closes: true},
		{name: "close 4009 session timed out", disrupt: func() { env.gw.Drop(fakediscord.CloseSessionTimedOut) }},
		{name: "close 4007 invalid seq", disrupt: func() { env.gw.Drop(fakediscord.CloseInvalidSeq) }},
		{name: "op 9 invalid session, not resumable", disrupt: func() { sent = env.gw.Invalidate(false) }, closes: true, wait: true},
		{name: "heartbeat not acknowledged", disrupt: func() {
			// A short interval on a new connection, one acknowledged
			// heartbeat, then silence.
			env.gw.SetInterval(300 * time.Millisecond)
			env.gw.Cut()
			if r := env.gw.Await(t, "resume"); r.Outcome != "resumed" {
				t.Fatalf("RESUME %+v", r)
			}
			env.gw.Await(t, "heartbeat")
			env.gw.Flush()
			env.gw.SetAck(false)
			beats := 0
			e := env.gw.Await(t, "heartbeat", "close")
			for ; e.Kind != "close"; e = env.gw.Await(t, "heartbeat", "close") {
				beats++
			}
			if e.Code == websocket.CloseNormalClosure || e.Code == websocket.CloseGoingAway {
				t.Fatalf("the client closed a zombied connection with %d, which ends its session", e.Code)
			}
			env.gw.SetAck(true)
			env.gw.SetInterval(41250 * time.Millisecond)
			// One unacknowledged heartbeat; the next one due finds it so.
			// (One more may have been in flight as the acks stopped.)
			if beats > 2 {
				t.Fatalf("%d heartbeats went unacknowledged before the client reconnected; want 1", beats)
			}
		}, resumed: true},
	}
	for i, tc := range cases {
		n := i + 2
		summary := "after " + tc.name
		env.gw.Flush()
		tc.disrupt()
		if tc.closes {
			if c := env.gw.Await(t, "close"); c.Code == websocket.CloseNormalClosure || c.Code == websocket.CloseGoingAway {
				t.Fatalf("%s: the client closed with %d, which ends its session", tc.name, c.Code)
			}
		}
		if tc.resumed {
			// Sent while the connection is down or going: Discord keeps
			// it for the session and replays it on RESUME.
			id, d := env.slashCommand(t, aliceID, `/ticket new "`+summary+`"`)
			env.gw.Dispatch("INTERACTION_CREATE", d)
			if r := env.gw.Await(t, "resume", "identify"); r.Kind != "resume" || r.Outcome != "resumed" || r.Token != testToken || r.Path != "/resume" {
				t.Fatalf("%s: %+v, want a RESUME at resume_gateway_url", tc.name, r)
			}
			if c := env.callback(t, id); !strings.Contains(string(c.Raw), "#"+strconv.Itoa(n)) {
				t.Fatalf("%s: answer %s", tc.name, c.Raw)
			}
			continue
		}
		id := env.gw.Await(t, "resume", "identify")
		if id.Kind != "identify" || id.Path != "/" || id.Intents != discordgo.IntentGuildMessages|discordgo.IntentMessageContent {
			t.Fatalf("%s: %+v, want IDENTIFY at the gateway url", tc.name, id)
		}
		if tc.wait && id.At.Sub(sent) < invalidWait {
			t.Fatalf("%s: IDENTIFY %s after INVALID SESSION, want at least %s", tc.name, id.At.Sub(sent), invalidWait)
		}
		env.ticketNew(t, summary, n)
	}
}

// TestGatewayStopsOnBadToken: a close that no reconnect heals (4004, a
// token Discord refuses) stops the gateway with a clear error; Run goes on
// until its context ends.
func TestGatewayStopsOnBadToken(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
	cfg := env.Deps.Config.Discord
	cfg.Token = "wrong-" + testToken
	a, err := New(cfg, env.Router, env.Deps.Store, env.Clock, env.log, Options{Intake: env.intake})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, a)
	env.gw.Await(t, "identify")
	deadline := time.Now().Add(20 * time.Second)
	for goroutines("bot/discord.(*Adapter).runGateway") {
		if time.Now().After(deadline) {
			t.Fatal("the gateway goes on after 4004")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if connects := env.gw.Flush()["connect"]; connects != 0 {
		t.Errorf("%d more connections after 4004", connects)
	}
	if !strings.Contains(env.logs.String(), "discord gateway stopped: Discord refused the bot token (4004") {
		t.Errorf("the log does not say why the gateway stopped:\n%s", env.logs)
	}
	stop()
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

// useTestCommands swaps the tickets commands for the test commands
// (/slow waits for release) and builds the adapter over them.
func (e *gatewayEnv) useTestCommands(t *testing.T, opts Options) {
	t.Helper()
	e.Use(testCommands(e.Deps, e.testEnv)...)
	e.cmds = registered(t, e.Router.Commands())
	opts.Intake = e.intake
	a, err := New(e.Deps.Config.Discord, e.Router, e.Deps.Store, e.Clock, e.log, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.adapter = a
}

// run starts a.Run and returns its cancel and a channel that closes when
// it has returned.
func run(t *testing.T, a *Adapter) (context.CancelFunc, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, done
}

// deferSlow sends /slow over the gateway and waits for its deferral.
func (e *gatewayEnv) deferSlow(t *testing.T, line string) string {
	t.Helper()
	id, d := e.slashCommand(t, aliceID, line)
	e.gw.Dispatch("INTERACTION_CREATE", d)
	if c := e.callback(t, id); c.Body["type"] != 5.0 {
		t.Fatalf("want a deferral (type 5), got %s", c.Raw)
	}
	return id
}

// TestGatewayDeferredAnswerOutlivesSession: a deferred answer still being
// worked out when the gateway session ends (shutdown, or the lead lost) is
// delivered, by editing the original response, before Run returns; one
// whose interaction token expired meanwhile (a long outage) goes to the
// person by direct message through the outbox.
func TestGatewayDeferredAnswerOutlivesSession(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
		env.useTestCommands(t, Options{})
		cancel, done := run(t, env.adapter)
		env.gw.Await(t, "identify")
		env.deferSlow(t, "/slow")
		cancel()
		if c := env.gw.Await(t, "close"); c.Code != websocket.CloseNormalClosure {
			t.Fatalf("closed with %d, want 1000", c.Code)
		}
		select {
		case <-done:
			t.Fatal("Run returned with an answer still being worked out")
		default:
		}
		close(env.release)
		c := env.fake.WaitFor(t, "the edit of the deferred answer", func(c fakediscord.Call) bool { return c.Method == http.MethodPatch })
		if c.Path != "/webhooks/"+testApp+"/itoken-abc/messages/@original" || c.Body["content"] != "done: slow" {
			t.Fatalf("edit %s %s", c.Path, c.Raw)
		}
		<-done
		if rows := env.Outbox(); len(rows) != 0 {
			t.Fatalf("delivered, and queued as well: %+v", rows)
		}
	})
	t.Run("token expired during an outage", func(t *testing.T) {
		env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
		env.useTestCommands(t, Options{})
		run(t, env.adapter)
		env.gw.Await(t, "identify")
		id := env.deferSlow(t, "/slow --advance 20m")
		env.gw.SetDown(true)
		env.gw.Cut()
		env.gw.Await(t, "refused")
		// The answer comes 20 minutes later, past the token's 15.
		close(env.release)
		var rows []storage.OutboxMessage
		deadline := time.Now().Add(20 * time.Second)
		for rows = env.Outbox(); len(rows) == 0; rows = env.Outbox() {
			if time.Now().After(deadline) {
				t.Fatal("the late answer never reached the outbox")
			}
			time.Sleep(10 * time.Millisecond)
		}
		var to bot.Target
		if err := json.Unmarshal([]byte(rows[0].Target), &to); err != nil || len(rows) != 1 || to.User != aliceID || to.Channel != "" ||
			rows[0].Key != "discord:interaction:"+id+"@discord" {
			t.Fatalf("outbox %+v (target %+v)", rows, to)
		}
		for _, c := range env.fake.All() {
			if strings.HasPrefix(c.Path, "/webhooks/") {
				t.Fatalf("the expired token was used: %s %s", c.Method, c.Path)
			}
		}
		// The outbox's sender delivers it as a direct message.
		var r bot.Reply
		if err := json.Unmarshal([]byte(rows[0].Body), &r); err != nil {
			t.Fatal(err)
		}
		s := NewSender(env.Deps.Config.Discord, env.Deps.Store, env.Clock, env.log, Options{})
		if _, err := s.Post(context.Background(), to, bot.Outgoing{Key: rows[0].Key, Reply: r}); err != nil {
			t.Fatal(err)
		}
		dm := env.fake.WaitFor(t, "the direct message", func(c fakediscord.Call) bool {
			return c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/channels/") && strings.HasSuffix(c.Path, "/messages")
		})
		// With its key the answer is an embed, its marker in the footer.
		if !strings.Contains(string(dm.Raw), "done: slow") {
			t.Fatalf("direct message %s", dm.Raw)
		}
		env.gw.SetDown(false)
		if r := env.gw.Await(t, "resume"); r.Outcome != "resumed" {
			t.Fatalf("RESUME after the outage %+v", r)
		}
	})
}
