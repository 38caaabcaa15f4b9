// Package slack is opsbot's Slack adapter: slash commands and button clicks
// over HTTP (signed requests) or Socket Mode, replies rendered as Block Kit,
// and the outbox's Sender for messages. It is the only package that imports
// slack-go.
package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/notify"
	"opsbot/storage"
)

// DefaultBudget is how long a command may run before the adapter stops
// waiting, acknowledges, and delivers the reply later: well inside Slack's
// three seconds.
const DefaultBudget = 1500 * time.Millisecond

// maxBody bounds a request body, as the server does; Slack's are a few KiB.
const maxBody = 1 << 20

// seenFor is how long a handled request is remembered; Slack retries
// within minutes and refuses timestamps older than MaxSkew anyway.
const seenFor = time.Hour

// Options configure an Adapter.
type Options struct {
	Config config.SlackConfig
	Router *bot.Router
	Store  *storage.Store
	Clock  clock.Clock
	Log    *slog.Logger
	// Budget overrides DefaultBudget, for tests.
	Budget time.Duration
	// HTTPClient posts to response_url; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// Intake files tickets from messages and records thread replies; the
	// Events API and the message shortcut are ignored without it.
	Intake bot.Intake
	// Reaction is the emoji name whose reaction files a ticket
	// (tickets.intake_reaction); "" or "off" turns reactions off.
	Reaction string
	// Grace is how long shutdown waits for replies still being worked
	// out before it cuts them short; DefaultGrace when zero.
	Grace time.Duration
	// Outbox queues the replies that outlive their response_url; when nil,
	// an outbox that reaches Slack alone (an adapter used on its own).
	Outbox *notify.Outbox
}

// DefaultGrace is how long shutdown waits for replies in flight, as long
// as the HTTP server waits for its requests.
const DefaultGrace = 10 * time.Second

// Adapter receives slash commands and button clicks and answers them.
type Adapter struct {
	cfg      config.SlackConfig
	router   *bot.Router
	dir      *bot.Directory
	store    *storage.Store
	clock    clock.Clock
	log      *slog.Logger
	verifier *Verifier
	budget   time.Duration
	grace    time.Duration
	client   *http.Client
	intake   bot.Intake
	reaction string
	outbox   *notify.Outbox
	// api reads messages and permalinks with the bot token (api_url).
	api *slack.Client

	// base outlives single requests: replies delivered after the HTTP
	// answer run under it, and Run cancels it on shutdown once they finish.
	base     context.Context
	stopBase context.CancelFunc
	inflight sync.WaitGroup
}

// New builds an adapter; Mount and Run put it to work.
func New(o Options) *Adapter {
	a := &Adapter{cfg: o.Config, router: o.Router, dir: o.Router.Directory(), store: o.Store, clock: o.Clock,
		log: o.Log.With("platform", "slack"), budget: o.Budget, grace: o.Grace, client: o.HTTPClient}
	if a.budget <= 0 {
		a.budget = DefaultBudget
	}
	if a.grace <= 0 {
		a.grace = DefaultGrace
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 10 * time.Second}
	}
	a.verifier = NewVerifier(o.Config.SigningSecret, o.Clock.Now)
	a.intake = o.Intake
	a.outbox = o.Outbox
	if a.outbox == nil {
		a.outbox = notify.ForPlatform(bot.Slack, o.Clock)
	}
	if o.Reaction != "off" {
		a.reaction = strings.Trim(o.Reaction, ":")
	}
	a.api = slack.New(o.Config.BotToken.Reveal(), slack.OptionAPIURL(apiURL(o.Config.APIURL)),
		slack.OptionHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	a.base, a.stopBase = context.WithCancel(context.Background())
	return a
}

// Mounter is where the HTTP endpoints go: server.Server.
type Mounter interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds POST /slack/commands, /slack/interactions and /slack/events in HTTP
// mode; in Socket Mode Slack reaches no URL, so it adds nothing.
func (a *Adapter) Mount(m Mounter) {
	if a.cfg.Mode == "socket" {
		return
	}
	m.Handle("POST /slack/commands", http.HandlerFunc(a.serveCommand))
	m.Handle("POST /slack/interactions", http.HandlerFunc(a.serveInteraction))
	m.Handle("POST /slack/events", http.HandlerFunc(a.serveEvents))
}

// Tick forgets handled requests older than an hour. Idempotent, and safe on
// several replicas at once.
func (a *Adapter) Tick(ctx context.Context) error {
	_, err := storage.PruneSlackRequests(ctx, a.store.DB, a.clock.Now().Add(-seenFor))
	return err
}

// Run prunes the seen requests every few minutes and, in Socket Mode, holds
// the connection to Slack. When ctx ends it waits (up to the grace period)
// for replies still being delivered, then cuts the rest short: each tells
// the person so, or leaves it in the outbox.
func (a *Adapter) Run(ctx context.Context) error {
	defer a.drain(a.grace)
	errc := make(chan error, 1)
	if a.cfg.Mode == "socket" {
		go func() { errc <- a.runSocket(ctx) }()
	}
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		if err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("prune handled slack requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-t.C:
		}
	}
}

// drain waits for background deliveries, then cancels what is left.
func (a *Adapter) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() { a.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		a.log.Warn("shutting down with slack replies still in flight; cutting them short", "grace", grace)
		a.stopBase()
		// Cut short, they tell the person so; a reply that ignores its
		// context is not waited for past a second grace period.
		select {
		case <-done:
		case <-time.After(grace):
			a.log.Error("slack replies still in flight after being cut short")
		}
	}
	a.stopBase()
}

// Wait blocks until every reply handed to the background is delivered; tests
// use it.
func (a *Adapter) Wait() { a.inflight.Wait() }

// readVerified reads the body and checks its signature before anything else
// looks at it. On failure it has answered and returns false.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return nil, false
	}
	if err := a.verifier.Verify(r.Header, body); err != nil {
		a.log.Warn("slack request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
		http.Error(w, "invalid or missing Slack signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// requestKey names a request for deduplication: its trigger_id, which
// retries share, or else its timestamp and signature.
func requestKey(kind, triggerID string, h http.Header) string {
	id := triggerID
	if id == "" && h != nil {
		id = h.Get("X-Slack-Request-Timestamp") + ":" + h.Get("X-Slack-Signature")
	}
	sum := sha256.Sum256([]byte(kind + ":" + id))
	return hex.EncodeToString(sum[:])
}

// Command is the part of a slash command opsbot reads.
type Command struct {
	UserID      string `json:"user_id"`
	ChannelID   string `json:"channel_id"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	ResponseURL string `json:"response_url"`
	TriggerID   string `json:"trigger_id"`
}

func slashFromForm(f url.Values) Command {
	return Command{UserID: f.Get("user_id"), ChannelID: f.Get("channel_id"), Command: f.Get("command"),
		Text: f.Get("text"), ResponseURL: f.Get("response_url"), TriggerID: f.Get("trigger_id")}
}

// SSLCheck reports whether a verified slash command body is Slack's
// certificate check (ssl_check=1), which carries no command.
func SSLCheck(body []byte) bool {
	f, err := url.ParseQuery(string(body))
	return err == nil && f.Get("ssl_check") == "1"
}

// ParseCommand reads a verified slash command body.
func ParseCommand(body []byte) (Command, error) {
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return Command{}, fmt.Errorf("parse slash command form: %w", err)
	}
	sc := slashFromForm(f)
	if sc.UserID == "" || sc.Command == "" {
		return Command{}, errors.New("slash command without user_id or command")
	}
	return sc, nil
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	if SSLCheck(body) {
		// Slack checks the certificate of the command's URL now and then;
		// it expects 200 and reads nothing.
		w.WriteHeader(http.StatusOK)
		return
	}
	sc, err := ParseCommand(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := a.command(r.Context(), sc, requestKey("command", sc.TriggerID, r.Header))
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		// Storage is unreachable: nothing ran. Slack shows a 500 as a
		// bare "dispatch_failed", so tell the person what to do instead.
		a.log.Error("slack command", "err", err)
		_ = json.NewEncoder(w).Encode(ack(bot.TryAgain))
		return
	}
	if msg == nil {
		// A retry of a request already handled: acknowledge, show nothing.
		return
	}
	_ = json.NewEncoder(w).Encode(flatWebhook(msg))
}

// command handles a verified slash command and returns the immediate answer;
// a retry of one already handled is not run again but gets its answer.
//
// The request is recorded as handled in the transaction of its first write
// (storage.WithRequest): a command that changes nothing writes nothing, and
// one that does commits its effects and its record together. Slow commands,
// whose work starts outside the database after the acknowledgement, are
// recorded first.
func (a *Adapter) command(ctx context.Context, sc Command, key string) (*slack.WebhookMessage, error) {
	line := Plain(a.dir, sc.Text)
	if sc.Command != "" {
		line = sc.Command + " " + line
	}
	call := a.router.Parse(bot.Incoming{
		Platform: bot.Slack,
		Person:   a.dir.BySlack(sc.UserID),
		Channel:  sc.ChannelID,
		Line:     line,
		Route:    bot.Route{Platform: bot.Slack, Channel: sc.ChannelID, ResponseURL: sc.ResponseURL},
		At:       a.clock.Now(),
	})
	late := func(ctx context.Context, reply bot.Reply) {
		reply = a.pictures(ctx, call.Req, reply)
		// Replace the ephemeral acknowledgement when the answer is
		// ephemeral too; an in-channel answer is a new message.
		a.deliver(ctx, call.Req, reply, Render(reply).Webhook(!reply.InChannel))
	}
	_, rec := storage.WithRequest(ctx, storage.SlackRequests, key, a.clock.Now())
	if call.Slow() {
		if err := a.store.Claim(ctx, rec); errors.Is(err, storage.ErrDuplicateRequest) {
			a.log.Info("slack retry answered, not run again", "user", sc.UserID)
			return a.earlierAnswer(ctx, key)
		} else if err != nil {
			return nil, err
		}
		a.background(func(ctx context.Context) { late(ctx, a.router.Run(ctx, call)) })
		return a.remember(ctx, key, ack(call.AckText())), nil
	}
	reply, done := a.runWithin(rec, call, late)
	if rec.Duplicate() {
		a.log.Info("slack retry answered, not run again", "user", sc.UserID)
		return a.earlierAnswer(ctx, key)
	}
	msg := ack(call.AckText())
	if done {
		msg = Render(a.pictures(ctx, call.Req, reply)).Webhook(false)
	}
	if !rec.Claimed() {
		// Nothing was written (a read-only command, or one still running
		// past the budget that has not written yet): no answer to keep.
		return msg, nil
	}
	return a.remember(ctx, key, msg), nil
}

// remember records msg as the answer to the request with key, so a retry
// reaching any replica gets it too, and returns msg. Failing to record is
// only logged: the answer still goes out.
func (a *Adapter) remember(ctx context.Context, key string, msg *slack.WebhookMessage) *slack.WebhookMessage {
	b, err := webhookJSON(msg)
	if err == nil {
		err = a.store.SaveSlackReply(context.WithoutCancel(ctx), key, string(b))
	}
	if err != nil {
		a.log.Warn("record slack answer for retries", "err", err)
	}
	return msg
}

// earlierAnswer is the answer to a retry: the first attempt's, or, when it
// gave none (it is still running, or its replica stopped first), a note
// saying so rather than a blank.
func (a *Adapter) earlierAnswer(ctx context.Context, key string) (*slack.WebhookMessage, error) {
	stored, err := storage.SlackReply(ctx, a.store.DB, key)
	if err != nil {
		return nil, err
	}
	var msg slack.WebhookMessage
	if stored != "" && json.Unmarshal([]byte(stored), &msg) == nil {
		return &msg, nil
	}
	return ack("opsbot received this command before and has not answered it yet (it may still be running, " +
		"or the server handling it stopped). Check whether it took effect before sending it again."), nil
}

func ack(text string) *slack.WebhookMessage {
	return &slack.WebhookMessage{ResponseType: "ephemeral", Text: escape(text)}
}

// background runs fn under the adapter's base context, counted so shutdown
// waits for it.
func (a *Adapter) background(fn func(ctx context.Context)) {
	a.inflight.Add(1)
	go func() {
		defer a.inflight.Done()
		ctx, cancel := context.WithTimeout(a.base, 5*time.Minute)
		defer cancel()
		fn(ctx)
	}()
}

// runWithin runs the call and waits up to the budget. When it finishes in
// time its reply is returned; otherwise late receives the reply when it is
// ready and runWithin returns at once.
func (a *Adapter) runWithin(rec *storage.Request, call *bot.Call, late func(context.Context, bot.Reply)) (bot.Reply, bool) {
	result := make(chan bot.Reply, 1)
	var mu sync.Mutex
	waiting := true
	a.background(func(ctx context.Context) {
		reply := a.router.Run(rec.Context(ctx), call)
		mu.Lock()
		if waiting {
			result <- reply
			mu.Unlock()
			return
		}
		mu.Unlock()
		late(ctx, reply)
	})
	timer := time.NewTimer(a.budget)
	defer timer.Stop()
	select {
	case reply := <-result:
		return reply, true
	case <-timer.C:
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case reply := <-result:
		// Finished just as the budget ran out: still answer directly.
		return reply, true
	default:
		waiting = false
		return bot.Reply{}, false
	}
}
