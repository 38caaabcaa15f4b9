// Package discord is the Discord adapter: slash commands and button clicks
// arrive as signed HTTP interactions (or over the gateway), run through the
// router as the person who sent them, and are answered within Discord's
// three seconds; replies render as embeds with buttons. It also sends the
// outbox's notifications. Nothing else in opsbot imports discordgo.
package discord

import (
	"context"
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

	"github.com/bwmarrin/discordgo"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/notify"
	"opsbot/storage"
)

// DefaultBudget is how long a command may run before the answer is
// deferred: Discord waits three seconds for the first response.
const DefaultBudget = 1500 * time.Millisecond

// tokenLife is how long an interaction token may edit its response; Discord
// allows 15 minutes, less a margin for the call itself.
const tokenLife = 14 * time.Minute

// maxInteractionBody bounds a request body; interactions are a few KiB.
const maxInteractionBody = 1 << 20

// DefaultGrace is how long shutdown waits for deferred answers still being
// worked out, as long as the HTTP server waits for its requests.
const DefaultGrace = 10 * time.Second

// cutShortTimeout bounds delivering the note about work that shutdown cut
// short, so that shutdown does not wait out a REST call's full timeout; the
// outbox takes the note when the call does not make it.
const cutShortTimeout = 3 * time.Second

// Adapter handles Discord interactions, over HTTP (ServeHTTP) or the gateway
// (Run in gateway mode).
type Adapter struct {
	router *bot.Router
	table  map[string]bot.Command
	db     *gorm.DB
	store  *storage.Store
	api    *client
	cfg    config.DiscordConfig
	verify *Verifier
	intake bot.Intake
	outbox *notify.Outbox
	clock  clock.Clock
	log    *slog.Logger
	// Budget is how long a command runs before the answer is deferred.
	Budget time.Duration
	// grace is how long shutdown waits for deferred answers.
	grace time.Duration
	// invalidWait is the pause before identifying again after Discord's
	// INVALID SESSION; tests shorten it.
	invalidWait func() time.Duration

	mu sync.Mutex
	// base is the context deferred answers and gateway events run in: it
	// outlives Run's context by the grace period, so that shutdown
	// delivers what is in flight, or queues it in the outbox.
	base context.Context
	cut  context.CancelFunc
	wg   sync.WaitGroup
}

// seenFor is how long a handled interaction is remembered (in the
// discord_interactions table, shared by the replicas). The verifier accepts
// a signed timestamp up to MaxSkew either side of now, so one signed request
// may arrive over a span of 2*MaxSkew; an hour covers that with room for
// clocks that disagree.
const seenFor = time.Hour

// maxInteractionID bounds the id stored for replay protection; Discord's
// are snowflakes of at most 20 digits.
const maxInteractionID = 64

// Options are the adapter's optional parts; tests set them.
type Options struct {
	// HTTPClient makes the REST calls; a client with a timeout when nil.
	HTTPClient *http.Client
	// Intake files tickets from messages ("Create ticket") and, in gateway
	// mode, records replies to them as comments.
	Intake bot.Intake
	// Grace is how long shutdown waits for deferred answers before it cuts
	// them short; DefaultGrace when zero.
	Grace time.Duration
	// Outbox queues the answers that outlive their interaction; when nil,
	// an outbox that reaches Discord alone (an adapter used on its own).
	Outbox *notify.Outbox
}

// New builds the adapter over the router's command table. The store keeps
// long button commands, the interactions already handled, and the fallback
// notifications of answers that outlived their interaction.
func New(cfg config.DiscordConfig, router *bot.Router, store *storage.Store, clk clock.Clock, log *slog.Logger, opts Options) (*Adapter, error) {
	a := &Adapter{router: router, table: map[string]bot.Command{}, db: store.DB, store: store, cfg: cfg, clock: clk,
		log: log.With("platform", "discord"), Budget: DefaultBudget, grace: opts.Grace, invalidWait: invalidSessionWait,
		api: newClient(cfg.APIURL, cfg.Token, opts.HTTPClient), intake: opts.Intake, outbox: opts.Outbox}
	if a.grace <= 0 {
		a.grace = DefaultGrace
	}
	if a.outbox == nil {
		a.outbox = notify.ForPlatform(bot.Discord, clk)
	}
	a.base, a.cut = context.WithCancel(context.Background())
	for _, c := range router.Commands() {
		a.table[c.Name] = c
	}
	if cfg.Mode != "gateway" || cfg.PublicKey != "" {
		v, err := NewVerifier(cfg.PublicKey, clk.Now)
		if err != nil {
			return nil, err
		}
		a.verify = v
	}
	return a, nil
}

// responder delivers the first response to an interaction: a
// *discordgo.InteractionResponse, or an autocompleteResponse.
type responder func(ctx context.Context, resp any) error

// ServeHTTP is POST /discord/interactions: it verifies the signature and
// timestamp, then answers the interaction. A forged or stale request, or
// one any replica has handled already, gets 401 and runs nothing.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInteractionBody+1))
	if err != nil || len(body) > maxInteractionBody {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if a.verify == nil {
		http.Error(w, "discord.public_key is not configured", http.StatusUnauthorized)
		return
	}
	if err := a.verify.Verify(r.Header.Get("X-Signature-Ed25519"), r.Header.Get("X-Signature-Timestamp"), body); err != nil {
		a.log.Warn("refused interaction", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	it, err := DecodeInteraction(body)
	if err != nil {
		a.log.Warn("undecodable interaction", "err", err)
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	if it.Type != discordgo.InteractionPing && !usableID(it) {
		a.log.Warn("interaction without a usable id", "remote", r.RemoteAddr)
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	if a.cfg.ApplicationID != "" && it.AppID != "" && it.AppID != a.cfg.ApplicationID {
		a.log.Warn("interaction for another application", "application_id", it.AppID)
		http.Error(w, "interaction for another application", http.StatusBadRequest)
		return
	}
	respond := func(_ context.Context, resp any) error {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(resp); err != nil {
			return fmt.Errorf("write interaction response: %w", err)
		}
		// The response must reach Discord before a deferred answer edits it.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		return nil
	}
	// A PING runs nothing, so it needs no record.
	if it.Type != discordgo.InteractionPing && !a.claim(w, r, it, respond) {
		return
	}
	a.dispatch(r.Context(), it, respond)
}

// claim records an HTTP interaction as handled and reports whether it is to
// run; a replay gets 401.
func (a *Adapter) claim(w http.ResponseWriter, r *http.Request, it *discordgo.Interaction, respond responder) bool {
	first, ok := a.record(r.Context(), it, respond)
	if ok && !first {
		a.log.Warn("refused a replayed interaction", "interaction", it.ID, "remote", r.RemoteAddr)
		http.Error(w, "interaction already handled", http.StatusUnauthorized)
	}
	return ok && first
}

// usableID reports whether the interaction has an id to record.
func usableID(it *discordgo.Interaction) bool {
	return it.ID != "" && len(it.ID) <= maxInteractionID
}

// record records the interaction as handled, in the table the replicas
// share, and reports whether this was its first delivery. ok is false when
// the record could not be written: the person has been told to try again
// and nothing may run.
func (a *Adapter) record(ctx context.Context, it *discordgo.Interaction, respond responder) (first, ok bool) {
	first, err := a.store.ClaimDiscordInteraction(ctx, it.ID, a.clock.Now())
	if err != nil {
		// A 500 shows as a bare "This interaction failed"; tell the
		// person what to do instead.
		a.log.Error("record discord interaction", "interaction", it.ID, "err", err)
		if err := respond(ctx, a.response(ctx, bot.Reply{Text: bot.TryAgain, Severity: bot.SeverityDanger}, false)); err != nil {
			a.log.Error("answer interaction", "interaction", it.ID, "err", err)
		}
		return false, false
	}
	return first, true
}

// dispatch answers one interaction through respond, exactly once, and
// leaves any deferred work running in the background.
func (a *Adapter) dispatch(ctx context.Context, it *discordgo.Interaction, respond responder) {
	reply := func(r bot.Reply) {
		if err := respond(ctx, a.response(ctx, r, false)); err != nil {
			a.log.Error("answer interaction", "interaction", it.ID, "err", err)
		}
	}
	switch it.Type {
	case discordgo.InteractionPing:
		if err := respond(ctx, &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}); err != nil {
			a.log.Error("answer ping", "err", err)
		}
	case discordgo.InteractionApplicationCommand:
		data, ok := it.Data.(discordgo.ApplicationCommandInteractionData)
		if !ok {
			reply(bot.Reply{Text: "That command arrived without its options; try again.", Severity: bot.SeverityDanger})
			return
		}
		switch data.CommandType {
		case discordgo.MessageApplicationCommand:
			if data.Name != CreateTicketCommand {
				reply(notOurs("The app command " + data.Name))
				return
			}
			a.createTicket(ctx, it, data, respond)
			return
		case 0, discordgo.ChatApplicationCommand:
		default:
			// A user command (Apps menu on a person), or an entry
			// point: opsbot registers none, so one is stale or foreign.
			reply(notOurs("The app command " + data.Name))
			return
		}
		line, err := CommandLine(a.table, data)
		a.run(ctx, it, line, err, false, respond)
	case discordgo.InteractionApplicationCommandAutocomplete:
		a.autocomplete(ctx, it, respond)
	case discordgo.InteractionMessageComponent:
		data, ok := it.Data.(discordgo.MessageComponentInteractionData)
		if !ok {
			reply(bot.Reply{Text: "That button arrived without its command; try again.", Severity: bot.SeverityDanger})
			return
		}
		var line string
		var err error
		switch id, isMenu := cutPrefix(data.CustomID, menuPrefix); {
		case data.ComponentType != discordgo.ButtonComponent && data.ComponentType != 0 && (!isMenu || data.ComponentType != discordgo.SelectMenuComponent):
			// A user, role, channel or mentionable select, or a string
			// select opsbot did not make: none carries a command.
			err = bot.Errorf("this menu carries no command; type the command instead (/help lists them)")
		case isMenu:
			line, err = menuCommand(id, data.Values)
		default:
			line, err = a.buttonCommand(ctx, data.CustomID)
		}
		a.run(ctx, it, line, err, true, respond)
	case discordgo.InteractionModalSubmit:
		// opsbot opens no modals, so a submission is a stale or foreign
		// form; its data is decoded (ModalSubmit) only to be answered.
		reply(notOurs("This form"))
	default:
		reply(bot.Reply{Text: "opsbot does not handle this kind of interaction; type /help.", Severity: bot.SeverityDanger})
	}
}

// notOurs is the polite answer to a well-formed interaction opsbot has no
// use for: what registered it is gone or was never opsbot.
func notOurs(what string) bot.Reply {
	return bot.Reply{Text: what + " is not one of opsbot's; type /help for what opsbot does.", Severity: bot.SeverityWarning}
}

// buttonCommand is the text command a button's custom_id stands for.
func (a *Adapter) buttonCommand(ctx context.Context, id string) (string, error) {
	if len(id) > 0 && id[0] == '/' {
		return id, nil
	}
	if hash, ok := cutPrefix(id, buttonPrefix); ok && len(hash) <= 64 {
		cmd, err := storage.DiscordButtonCommand(ctx, a.db, hash)
		if errors.Is(err, storage.ErrNotFound) {
			return "", bot.Errorf("this button is no longer known; type the command instead (/help lists them)")
		}
		if err != nil {
			return "", fmt.Errorf("button %s: %w", hash, err)
		}
		return cmd, nil
	}
	return "", bot.Errorf("this button carries no command; type the command instead (/help lists them)")
}

// menuCommand is the command line a choice from a string select runs: the
// command its custom_id names (after "menu:") with the chosen value as one
// quoted argument, so a value can never add flags or another command.
func menuCommand(id string, values []string) (string, error) {
	if len(values) != 1 {
		return "", bot.Errorf("choose exactly one option from the menu")
	}
	cmd, sub, ok := bot.Menu{Command: id, Param: "value"}.Target()
	if !ok {
		return "", bot.Errorf("this menu carries no command; type the command instead (/help lists them)")
	}
	return bot.MenuLine(cmd, sub, values[0]), nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// invoker is the Discord user behind an interaction: the member in a
// guild, the user in a direct message.
func invoker(it *discordgo.Interaction) (string, bool) {
	if it.Member != nil && it.Member.User != nil && snowflake(it.Member.User.ID) {
		return it.Member.User.ID, true
	}
	if it.User != nil && snowflake(it.User.ID) {
		return it.User.ID, true
	}
	return "", false
}

// run parses line and runs it as the invoker, answering within the budget:
// at once when the command is quick, else deferred and edited later.
func (a *Adapter) run(ctx context.Context, it *discordgo.Interaction, line string, lineErr error, click bool, respond responder) {
	answer := func(r bot.Reply, click bool) {
		if err := respond(ctx, a.response(ctx, r, click)); err != nil {
			a.log.Error("answer interaction", "interaction", it.ID, "err", err)
		}
	}
	if lineErr != nil {
		if ue, ok := bot.AsUserError(lineErr); ok {
			answer(bot.Reply{Text: ue.Msg, Severity: bot.SeverityDanger}, false)
			return
		}
		a.log.Error("read interaction", "interaction", it.ID, "err", lineErr)
		answer(bot.Reply{Text: "Something went wrong on our side; try again in a moment.", Severity: bot.SeverityDanger}, false)
		return
	}
	userID, ok := invoker(it)
	if !ok {
		answer(bot.Reply{Text: "Discord did not say who you are; try again.", Severity: bot.SeverityDanger}, false)
		return
	}
	route := bot.Route{Platform: bot.Discord, Channel: it.ChannelID, Token: it.Token}
	if click && it.Message != nil {
		route.MessageID = it.Message.ID
	}
	at := a.clock.Now()
	dir := a.router.Directory()
	call := a.router.Parse(bot.Incoming{Platform: bot.Discord, Person: dir.ByDiscord(userID),
		Channel: it.ChannelID, Line: Plain(dir, line), Route: route, At: at})
	bg := a.background()
	defer a.wg.Done()
	// later answers "thinking…" now and edits in reply's answer after.
	later := func(reply func() bot.Reply) {
		if err := respond(ctx, deferred(click)); err != nil {
			a.log.Error("defer interaction", "interaction", it.ID, "err", err)
			return
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.finish(bg, it, userID, at, reply(), click)
		}()
	}
	if call.Slow() {
		later(func() bot.Reply { return a.outcome(bg, call.Req.Line, a.router.Run(bg, call)) })
		return
	}
	done := make(chan bot.Reply, 1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		done <- a.router.Run(bg, call)
	}()
	timer := time.NewTimer(a.Budget)
	defer timer.Stop()
	select {
	case r := <-done:
		if len(r.Images) == 0 {
			answer(r, click)
			return
		}
		// Pictures are uploaded with the edit of a deferred answer
		// (multipart), not in the JSON of the immediate one.
		later(func() bot.Reply { return r })
	case <-timer.C:
		if err := respond(ctx, deferred(click)); err != nil {
			a.log.Error("defer interaction", "interaction", it.ID, "err", err)
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.finish(bg, it, userID, at, a.outcome(bg, call.Req.Line, <-done), click)
		}()
	}
}

// background is the context deferred work runs in: it outlives the HTTP
// request and Run's context, by the grace period. It counts one unit of
// work on the wait group, which the caller releases.
func (a *Adapter) background() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wg.Add(1)
	return a.base
}

// outcome is the answer to deliver for a deferred command: its reply, or,
// when shutdown cut the work short, a note saying so, since the reply is
// then only the error of the cut.
func (a *Adapter) outcome(bg context.Context, line string, r bot.Reply) bot.Reply {
	if bg.Err() == nil {
		return r
	}
	return bot.Reply{Text: fmt.Sprintf("opsbot was stopping and cut `%s` short; it may not have finished. "+
		"Check, then run it again if needed.", strings.TrimSpace(line)), Severity: bot.SeverityWarning}
}

// failed reports whether a reply is an error meant only for its reader.
func failed(r bot.Reply) bool { return r.Severity == bot.SeverityDanger && !r.InChannel }

// response is the immediate answer: a click updates the clicked message
// (type 7) unless it failed, which would wipe a shared message, so failures
// and commands answer with a new message (type 4), ephemeral unless the
// reply is for the channel.
func (a *Adapter) response(ctx context.Context, r bot.Reply, click bool) *discordgo.InteractionResponse {
	m := a.render(ctx, r)
	data := &discordgo.InteractionResponseData{Content: m.Content, Embeds: m.Embeds, Components: m.Components,
		AllowedMentions: m.AllowedMentions}
	if click && !failed(r) {
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseUpdateMessage, Data: data}
	}
	if !r.InChannel {
		data.Flags = discordgo.MessageFlagsEphemeral
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data}
}

// deferred acknowledges now and answers later: type 6 keeps the clicked
// message until it is edited, type 5 shows "thinking…" to the invoker only.
func deferred(click bool) *discordgo.InteractionResponse {
	if click {
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}
}

// render renders a reply and saves the commands of its long buttons; a
// failure to save is logged and the message still goes out.
func (a *Adapter) render(ctx context.Context, r bot.Reply) Message {
	m := Render(r)
	saveButtons(ctx, a.db, a.clock, a.log, m)
	return m
}

func saveButtons(ctx context.Context, db *gorm.DB, clk clock.Clock, log *slog.Logger, m Message) {
	for hash, cmd := range m.Stored {
		if err := storage.SaveDiscordButton(ctx, db, hash, cmd, clk.Now()); err != nil {
			log.Error("save button command", "err", err)
		}
	}
}

// finish delivers a deferred answer by editing the original response while
// the interaction token is valid; after that, or when the edit fails, the
// answer goes through the outbox: to the channel when it is for the
// channel, else to the invoker by direct message. The edit stops when
// shutdown cuts the work short; the outbox write never does, so an answer
// shutdown did not let through waits in the outbox for the next start.
func (a *Adapter) finish(ctx context.Context, it *discordgo.Interaction, userID string, at time.Time, r bot.Reply, click bool) {
	edit := ctx
	if ctx.Err() != nil {
		// Cut short by shutdown: still say so, briefly.
		var cancel context.CancelFunc
		edit, cancel = context.WithTimeout(context.WithoutCancel(ctx), cutShortTimeout)
		defer cancel()
	}
	if a.clock.Now().Sub(at) < tokenLife {
		err := a.editOriginal(edit, it, r, click)
		if err == nil {
			return
		}
		a.log.Warn("edit interaction response; sending through the outbox", "interaction", it.ID, "err", err)
	}
	t := bot.Target{Platform: bot.Discord, User: userID, Name: "discord:" + userID}
	if r.InChannel && it.ChannelID != "" {
		t = bot.Target{Platform: bot.Discord, Channel: it.ChannelID, Name: "discord channel " + it.ChannelID}
	}
	if err := a.enqueue(context.WithoutCancel(ctx), "discord:interaction:"+cut(it.ID, 40), t, r); err != nil {
		a.log.Error("queue deferred answer", "interaction", it.ID, "err", err)
	}
}

func (a *Adapter) editOriginal(ctx context.Context, it *discordgo.Interaction, r bot.Reply, click bool) error {
	appID := it.AppID
	if appID == "" {
		appID = a.cfg.ApplicationID
	}
	hook := "/webhooks/" + url.PathEscape(appID) + "/" + url.PathEscape(it.Token)
	m := a.render(ctx, r)
	// Pictures travel as attachments of the follow-up or the edit.
	if err := attach(&m, r.Images); err != nil {
		return err
	}
	if click && failed(r) {
		// Keep the clicked message; tell only the clicker.
		return a.api.send(ctx, "send follow-up", http.MethodPost, hook, false,
			followup{Message: m, Flags: discordgo.MessageFlagsEphemeral}, m.Files, nil)
	}
	if r.InChannel && !click {
		// The deferral was ephemeral; the channel sees a follow-up.
		if err := a.api.send(ctx, "send follow-up", http.MethodPost, hook, false, followup{Message: m}, m.Files, nil); err != nil {
			return err
		}
		m = Render(bot.Reply{Text: "Done; the answer is in the channel."})
	}
	return a.api.send(ctx, "edit interaction response", http.MethodPatch, hook+"/messages/@original", false, m, m.Files, nil)
}

// followup is a message sent through the interaction's webhook.
type followup struct {
	Message
	Flags discordgo.MessageFlags `json:"flags,omitempty"`
}

// enqueue queues one notification for a Discord id (not a configured
// channel or person name).
func (a *Adapter) enqueue(ctx context.Context, key string, t bot.Target, r bot.Reply) error {
	n := notify.Notification{Key: key, To: notify.Destination{Target: &t}, Reply: r}
	if err := a.outbox.Enqueue(a.db.WithContext(ctx), n); err != nil {
		return err
	}
	a.outbox.Wake()
	return nil
}

// Tick forgets handled interactions older than seenFor. Idempotent, and
// safe on several replicas at once.
func (a *Adapter) Tick(ctx context.Context) error {
	_, err := storage.PruneDiscordInteractions(ctx, a.db, a.clock.Now().Add(-seenFor))
	return err
}

// prune calls Tick every few minutes until ctx ends.
func (a *Adapter) prune(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		if err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("prune handled discord interactions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run keeps the adapter's background work alive until ctx ends and prunes
// the handled interactions every few minutes; in gateway mode it also holds
// the gateway session, reconnecting it, and answers interactions through
// the REST callback. Once ctx ends it closes the session and waits up to
// the grace period for deferred answers (then cuts them short), so that
// each is delivered or queued in the outbox; it returns when they are, and
// may be called again after that.
func (a *Adapter) Run(ctx context.Context) error {
	a.mu.Lock()
	work, cut := a.base, a.cut
	a.mu.Unlock()
	defer func() {
		a.drain(cut)
		// A fresh context for the work of a later Run.
		a.mu.Lock()
		a.base, a.cut = context.WithCancel(context.Background())
		a.mu.Unlock()
	}()
	if a.cfg.Mode != "gateway" {
		a.prune(ctx)
		return nil
	}
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		// Gateway interactions are recorded as HTTP ones are.
		a.prune(ctx)
	}()
	defer func() { <-pruned }()
	if err := a.runGateway(ctx, work); err != nil {
		// A close that no reconnect heals (it is logged): the gateway
		// stays down, the rest of opsbot and the answers in flight go on.
		<-ctx.Done()
	}
	return nil
}

// drain waits up to the grace period for deferred answers, then cuts the
// rest short (they tell the person so, or leave it in the outbox) and
// waits for them.
func (a *Adapter) drain(cut context.CancelFunc) {
	defer cut()
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(a.grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	a.log.Warn("discord: answers still being worked out at the end of the shutdown grace period; cutting them short", "grace", a.grace)
	cut()
	<-done
}

// OnInteraction answers an interaction that arrived over the gateway, with
// the same handling as HTTP; the response goes through the REST callback.
// Every gateway session of the bot receives every interaction, so the id is
// recorded first, as over HTTP: while two replicas hold a session (one
// losing the lead, one taking it), only the first to record it runs it.
func (a *Adapter) OnInteraction(ctx context.Context, it *discordgo.Interaction) {
	if it == nil {
		return
	}
	if !usableID(it) {
		a.log.Warn("gateway interaction without a usable id")
		return
	}
	respond := func(ctx context.Context, resp any) error {
		path := "/interactions/" + url.PathEscape(it.ID) + "/" + url.PathEscape(it.Token) + "/callback"
		return a.api.do(ctx, "answer interaction", http.MethodPost, path, false, resp, nil)
	}
	first, ok := a.record(ctx, it, respond)
	if !ok {
		return
	}
	if !first {
		a.log.Info("interaction already handled by another gateway session", "interaction", it.ID)
		return
	}
	a.dispatch(ctx, it, respond)
}

// OnMessage passes a gateway message that replies to another message (the
// source of a ticket, if it is one) to the intake as a thread reply. Only
// gateway mode sees messages; HTTP interactions carry none.
func (a *Adapter) OnMessage(ctx context.Context, m *discordgo.Message) {
	if a.intake == nil || m == nil || m.Author == nil || m.MessageReference == nil || !snowflake(m.Author.ID) {
		return
	}
	ref := m.MessageReference
	if !snowflake(ref.MessageID) || ref.ChannelID != "" && ref.ChannelID != m.ChannelID {
		return
	}
	err := a.intake.ThreadReply(ctx, bot.Message{Platform: bot.Discord, Channel: m.ChannelID, Guild: m.GuildID, ID: m.ID,
		Thread: ref.MessageID, Author: a.router.Directory().ByDiscord(m.Author.ID), Bot: m.Author.Bot, Text: Plain(a.router.Directory(), m.Content),
		Link: MessageLink(m.GuildID, m.ChannelID, m.ID)})
	if err != nil {
		a.log.Error("discord thread reply", "message", m.ID, "err", err)
	}
}
