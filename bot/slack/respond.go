package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/notify"
)

// responseURLLife is how long Slack accepts posts to a response_url (30
// minutes), less a margin for the call. opsbot posts to one at most twice
// (an in-channel answer and its note), within Slack's five uses.
const responseURLLife = 29 * time.Minute

// cutShortTimeout bounds posting the note about work that shutdown cut
// short; the outbox takes the note when the post does not make it.
const cutShortTimeout = 3 * time.Second

// deliver sends a reply that came after the acknowledgement to the request's
// response_url while Slack accepts it; after 30 minutes, or when the post
// fails (five uses, or Slack unreachable), the reply goes through the outbox
// instead: to the channel when the team should see it, else to the person
// directly. Work that shutdown cut short says so in place of its reply.
func (a *Adapter) deliver(ctx context.Context, req *bot.Request, reply bot.Reply, msg *slack.WebhookMessage) {
	if ctx.Err() != nil && a.base.Err() != nil {
		reply = bot.Reply{Text: fmt.Sprintf("opsbot was stopping and cut `%s` short; it may not have finished. "+
			"Check, then run it again if needed.", strings.TrimSpace(req.Line)), Severity: bot.SeverityWarning}
		msg = Render(reply).Webhook(false)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cutShortTimeout)
		defer cancel()
	}
	if req.Route.ResponseURL != "" && a.clock.Now().Sub(req.At) < responseURLLife {
		err := a.postResponse(ctx, req.Route.ResponseURL, msg)
		if err == nil {
			return
		}
		a.log.Warn("response_url failed, sending through the outbox", "request_id", req.ID, "err", err)
	}
	if err := a.fallback(ctx, req, reply); err != nil {
		a.log.Error("reply lost: response_url and outbox both failed", "request_id", req.ID, "command", req.Name(), "err", err)
	}
}

// postResponse posts a message to a response_url. Errors never include the
// URL: it works as a credential for half an hour.
func (a *Adapter) postResponse(ctx context.Context, rawURL string, msg *slack.WebhookMessage) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("response_url is not an http(s) URL")
	}
	body, err := webhookJSON(msg)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("build response_url request")
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to response_url on %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post to response_url on %s: HTTP %d %q", u.Host, resp.StatusCode, text)
	}
	return nil
}

// pictures handles a reply with pictures to a slash command or a click.
// A response_url takes no files, so the whole reply, words and pictures,
// goes through the outbox as one message (the Sender's upload flow, safe
// from outages and never posted twice): into the channel when it is for the
// channel, else to the person by direct message. The person's answer says
// where it went. A reply without pictures is returned as it is.
func (a *Adapter) pictures(ctx context.Context, req *bot.Request, reply bot.Reply) bot.Reply {
	n := len(reply.Images)
	if n == 0 {
		return reply
	}
	what := "The answer"
	if reply.Title != "" {
		what = "“" + reply.Title + "”"
	}
	count := fmt.Sprintf("its %d pictures", n)
	if n == 1 {
		count = "its picture"
	}
	where := "in this channel"
	if !reply.InChannel || req.Channel == "" {
		where = "to you by direct message"
	} else if !a.member(ctx, req.Channel) {
		// Slack shares files only where the bot is a member: the
		// person gets the answer instead, and learns how to fix it.
		reply.InChannel = false
		where = "to you by direct message, because opsbot is not in this channel and Slack shares pictures " +
			"only where it is (/invite @opsbot to have them here)"
	}
	if err := a.fallback(ctx, req, reply); err != nil {
		a.log.Error("queue a reply with pictures", "request_id", req.ID, "command", req.Name(), "err", err)
		words := reply
		words.Images, words.InChannel = nil, false
		note := "Its pictures could not be queued for upload; run the command again in a moment to get them."
		if words.Footer != "" {
			note = words.Footer + " · " + note
		}
		words.Footer = note
		return words
	}
	return bot.Reply{Text: fmt.Sprintf("%s with %s is on its way %s: Slack takes pictures as uploads, "+
		"which a command's answer cannot carry.", what, count, where), Severity: bot.SeverityInfo}
}

// member reports whether opsbot is in a channel, joining a public one it
// is not in (channels:join). It reads one message of the channel's history
// to tell; when it cannot tell (Slack unreachable, a scope missing) it says
// yes, and the outbox reports what goes wrong.
func (a *Adapter) member(ctx context.Context, channel string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cutShortTimeout)
	defer cancel()
	_, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 1})
	var se slack.SlackErrorResponse
	if err == nil || !errors.As(err, &se) || (se.Err != "not_in_channel" && se.Err != "channel_not_found") {
		return true
	}
	if strings.HasPrefix(channel, "C") {
		if _, _, _, err := a.api.JoinConversationContext(ctx, channel); err == nil {
			return true
		}
	}
	return false
}

// fallback queues the reply as a message in the outbox.
func (a *Adapter) fallback(ctx context.Context, req *bot.Request, reply bot.Reply) error {
	t := bot.Target{Platform: bot.Slack, Channel: req.Channel, Thread: req.Route.Thread, Name: req.Channel}
	if !reply.InChannel || req.Channel == "" {
		if req.Person.SlackID == "" {
			return errors.New("no channel and no Slack user to send the reply to")
		}
		// A personal reply stays personal: a direct message.
		t = bot.Target{Platform: bot.Slack, User: req.Person.SlackID, Name: req.Person.Mention()}
	}
	n := notify.Notification{Key: "slack-reply:" + req.ID, To: notify.Destination{Target: &t}, Reply: reply}
	// The request's own context may be over; the message must still be queued.
	ctx = context.WithoutCancel(ctx)
	if err := a.store.Tx(ctx, func(tx *gorm.DB) error { return a.outbox.Enqueue(tx, n) }); err != nil {
		return err
	}
	a.outbox.Wake()
	return nil
}

// Interaction is the part of an interaction payload opsbot reads.
type Interaction struct {
	Type       string `json:"type"`
	CallbackID string `json:"callback_id"`
	// ActionID and Value are a block_suggestion's field and typed text.
	ActionID    string `json:"action_id"`
	Value       string `json:"value"`
	TriggerID   string `json:"trigger_id"`
	ResponseURL string `json:"response_url"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS string `json:"message_ts"`
		ThreadTS  string `json:"thread_ts"`
	} `json:"container"`
	Message struct {
		TS       string `json:"ts"`
		ThreadTS string `json:"thread_ts"`
		User     string `json:"user"`
		BotID    string `json:"bot_id"`
		Text     string `json:"text"`
	} `json:"message"`
	Actions []Action `json:"actions"`
}

// Action is one element of a block_actions payload: a button click, which
// carries its command as its value, or a menu choice, whose action_id names
// the command (complete:COMMAND:SUB:PARAM) and whose selected_option holds
// the chosen value.
type Action struct {
	Type     string `json:"type"`
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
	Text     struct {
		Text string `json:"text"`
	} `json:"text"`
	SelectedOption *struct {
		Value string `json:"value"`
		Text  struct {
			Text string `json:"text"`
		} `json:"text"`
	} `json:"selected_option"`
}

// Line is the command an action runs, as the person who acted, and how the
// updated message names what they did. A button runs its value; a menu
// choice runs the command its action_id names with the chosen value as one
// quoted argument, so the value can never add flags or another command.
// ok is false for actions that run nothing.
func (a Action) Line() (line, did string, ok bool) {
	if a.SelectedOption != nil {
		spec, isMenu := strings.CutPrefix(a.ActionID, CompletePrefix)
		parts := strings.Split(spec, ":")
		if !isMenu || len(parts) != 3 || a.SelectedOption.Value == "" {
			return "", "", false
		}
		m := bot.Menu{Command: strings.TrimSpace("/" + parts[0] + " " + parts[1]), Param: parts[2]}
		cmd, sub, valid := m.Target()
		if !valid {
			return "", "", false
		}
		label := a.SelectedOption.Text.Text
		if label == "" {
			label = a.SelectedOption.Value
		}
		return bot.MenuLine(cmd, sub, a.SelectedOption.Value), "chose " + label, true
	}
	if !strings.HasPrefix(a.Value, "/") {
		// Not an opsbot button: every one of those carries a command.
		return "", "", false
	}
	if a.Text.Text != "" {
		did = "clicked " + a.Text.Text
	}
	return a.Value, did, true
}

// runnable reports whether a block_actions payload carries something to run.
func (p Interaction) runnable() bool {
	if p.Type != "block_actions" || len(p.Actions) == 0 {
		return false
	}
	_, _, ok := p.Actions[0].Line()
	return ok
}

// ParseInteraction reads a verified interaction body: a form whose payload
// field holds JSON. It reports ok=false for interactions opsbot ignores
// (anything but a button click, a menu choice, a message shortcut or an
// options load).
func ParseInteraction(body []byte) (p Interaction, ok bool, err error) {
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return p, false, fmt.Errorf("parse interaction form: %w", err)
	}
	raw := f.Get("payload")
	if raw == "" {
		return p, false, errors.New("interaction without payload")
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return p, false, fmt.Errorf("parse interaction payload: %w", err)
	}
	if p.Type == "message_action" || p.Type == "block_suggestion" {
		return p, true, nil
	}
	if !p.runnable() {
		return p, false, nil
	}
	if p.User.ID == "" {
		return p, false, errors.New("interaction without user.id")
	}
	return p, true, nil
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	p, run, err := ParseInteraction(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case run && p.Type == "block_suggestion":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.suggest(r.Context(), p))
		return
	case run && p.Type == "message_action":
		if err := a.shortcut(r.Context(), p, requestKey("interaction", p.TriggerID, r.Header)); err != nil {
			a.log.Error("slack message shortcut", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	case run:
		if err := a.click(r.Context(), p, requestKey("interaction", p.TriggerID, r.Header)); err != nil {
			a.log.Error("slack button click", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// click runs the command a button carries, as the person who clicked, and
// updates the message through response_url in the background: Slack ignores
// the body of the answer to a click.
func (a *Adapter) click(ctx context.Context, p Interaction, key string) error {
	first, err := a.store.ClaimSlackRequest(ctx, key, a.clock.Now())
	if err != nil {
		return err
	}
	if !first {
		a.log.Info("slack retry acknowledged, not run again", "user", p.User.ID)
		return nil
	}
	line, did, _ := p.Actions[0].Line()
	thread := p.Message.ThreadTS
	if thread == "" {
		thread = p.Container.ThreadTS
	}
	messageTS := p.Container.MessageTS
	if messageTS == "" {
		messageTS = p.Message.TS
	}
	call := a.router.Parse(bot.Incoming{
		Platform: bot.Slack,
		Person:   a.dir.BySlack(p.User.ID),
		Channel:  p.Channel.ID,
		Line:     line,
		Route: bot.Route{Platform: bot.Slack, Channel: p.Channel.ID, ResponseURL: p.ResponseURL,
			Thread: thread, MessageID: messageTS},
		At: a.clock.Now(),
	})
	a.background(func(ctx context.Context) {
		reply := a.router.Run(ctx, call)
		if len(reply.Images) > 0 {
			// The answer goes through the outbox with its pictures; the
			// clicked message stays, and the clicker alone reads where.
			note := a.pictures(ctx, call.Req, reply)
			a.deliver(ctx, call.Req, note, Render(note).Webhook(false))
			return
		}
		a.deliver(ctx, call.Req, reply, clickUpdate(call.Req, did, reply))
	})
	return nil
}

// clickUpdate is what a click's (or menu choice's) reply does to the message
// that carried the button or menu. A refusal or mistake goes to the clicker
// alone and leaves the message and its buttons for someone who may; any
// other outcome replaces the message, marked with who did what ("clicked
// Take", "chose core-sw-1").
func clickUpdate(req *bot.Request, did string, reply bot.Reply) *slack.WebhookMessage {
	if reply.Severity == bot.SeverityDanger && !reply.InChannel {
		return Render(reply).Webhook(false)
	}
	note := req.Person.Mention() + " " + did
	if did == "" {
		note = "by " + req.Person.Mention()
	}
	if reply.Footer != "" {
		reply.Footer += " · " + note
	} else {
		reply.Footer = note
	}
	reply.InChannel = true
	return Render(reply).Webhook(true)
}
