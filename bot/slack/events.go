package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"opsbot/bot"
)

// CreateTicketCallback is the callback_id of the "Create ticket" message
// shortcut (docs/slack-app-manifest.yaml).
const CreateTicketCallback = "create_ticket"

// CompletePrefix starts the action_id of an external_select whose options
// opsbot loads: complete:COMMAND:SUB:PARAM, e.g. complete:device:show:name.
const CompletePrefix = "complete:"

// Slack's limits on select menus: options per menu, and the length of an
// option's text and value.
const (
	maxOptions     = 100
	maxOptionText  = 75
	maxOptionValue = 150
)

// EventEnvelope is the part of an Events API request opsbot reads.
type EventEnvelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     Event  `json:"event"`
}

// Event is the part of an Events API event opsbot reads: reaction_added
// and message.
type Event struct {
	Type     string `json:"type"`
	Subtype  string `json:"subtype"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Text     string `json:"text"`
	Reaction string `json:"reaction"`
	Item     struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	} `json:"item"`
}

// ParseEvent reads a verified Events API body.
func ParseEvent(body []byte) (EventEnvelope, error) {
	var e EventEnvelope
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("parse event: %w", err)
	}
	if e.Type == "" {
		return e, errors.New("event without type")
	}
	return e, nil
}

// serveEvents is POST /slack/events: the url_verification handshake, and
// event callbacks, acknowledged at once and handled in the background (Slack
// retries anything not answered within three seconds).
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	e, err := ParseEvent(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if e.Type == "url_verification" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"challenge": e.Challenge})
		return
	}
	if err := a.event(r.Context(), e); err != nil {
		a.log.Error("slack event", "event_id", e.EventID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// event claims an event callback by its event_id, so a retried delivery
// (to this replica or another) is handled once, and handles it in the
// background.
func (a *Adapter) event(ctx context.Context, e EventEnvelope) error {
	if e.Type != "event_callback" || e.EventID == "" || a.intake == nil {
		return nil
	}
	ev := e.Event
	switch {
	case ev.Type == "reaction_added" && a.reaction != "" && ev.Reaction == a.reaction && ev.Item.Type == "message":
	case ev.Type == "message" && ev.ThreadTS != "" && ev.ThreadTS != ev.TS:
	default:
		return nil
	}
	first, err := a.store.ClaimSlackRequest(ctx, requestKey("event", e.EventID, nil), a.clock.Now())
	if err != nil || !first {
		return err
	}
	a.background(func(ctx context.Context) {
		var err error
		if ev.Type == "reaction_added" {
			err = a.reacted(ctx, ev)
		} else {
			err = a.threadMessage(ctx, ev)
		}
		if err != nil {
			a.log.Error("slack event", "event_id", e.EventID, "type", ev.Type, "err", err)
		}
	})
	return nil
}

// threadMessage passes a reply in a thread to the intake. Edits and
// deletions (message_changed, message_deleted) and bots' messages, opsbot's
// own posts among them, are not comments.
func (a *Adapter) threadMessage(ctx context.Context, ev Event) error {
	switch ev.Subtype {
	case "", "thread_broadcast", "file_share":
	default:
		return nil
	}
	if ev.BotID != "" || ev.User == "" {
		return nil
	}
	return a.intake.ThreadReply(ctx, bot.Message{Platform: bot.Slack, Channel: ev.Channel, ID: ev.TS, Thread: ev.ThreadTS,
		Author: a.dir.BySlack(ev.User), Text: Plain(a.dir, ev.Text)})
}

// reacted files a ticket from the message someone reacted to with the
// intake emoji. The event carries no text, so the message is read with
// conversations.history (or conversations.replies inside a thread).
func (a *Adapter) reacted(ctx context.Context, ev Event) error {
	if ev.User == "" || ev.Item.Channel == "" || ev.Item.TS == "" {
		return nil
	}
	m, err := a.fetchMessage(ctx, ev.Item.Channel, ev.Item.TS)
	if err != nil {
		return err
	}
	by := a.dir.BySlack(ev.User)
	reply, err := a.intake.FileFromMessage(ctx, m, by)
	if ue, ok := bot.AsUserError(err); ok {
		a.tellEphemeral(ctx, ev.Item.Channel, ev.User, bot.Reply{Text: ue.Msg, Severity: bot.SeverityDanger})
		return nil
	}
	_ = reply // the card in the message's thread is the answer
	return err
}

// tellEphemeral shows a reply to one person in a channel, best effort.
func (a *Adapter) tellEphemeral(ctx context.Context, channel, user string, r bot.Reply) {
	if _, err := a.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(escape(r.Fallback()), false)); err != nil {
		a.log.Warn("chat.postEphemeral", "channel", channel, "err", err)
	}
}

// fetchMessage reads one message with the bot token.
func (a *Adapter) fetchMessage(ctx context.Context, channel, ts string) (bot.Message, error) {
	var found *slack.Message
	hist, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1})
	if err != nil {
		return bot.Message{}, fmt.Errorf("conversations.history %s: %w", channel, err)
	}
	for i := range hist.Messages {
		if hist.Messages[i].Timestamp == ts {
			found = &hist.Messages[i]
		}
	}
	if found == nil {
		// Replies inside a thread are not in the channel's history.
		msgs, _, _, err := a.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: ts, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1})
		if err != nil {
			return bot.Message{}, fmt.Errorf("conversations.replies %s: %w", channel, err)
		}
		for i := range msgs {
			if msgs[i].Timestamp == ts {
				found = &msgs[i]
			}
		}
	}
	if found == nil {
		return bot.Message{}, fmt.Errorf("message %s/%s not found (is the bot in the channel?)", channel, ts)
	}
	return a.message(ctx, channel, found.Timestamp, found.ThreadTimestamp, found.User, found.BotID, found.Text), nil
}

// message builds the neutral message, with a permalink from
// chat.getPermalink (or, when that fails, the archive URL form).
func (a *Adapter) message(ctx context.Context, channel, ts, threadTS, user, botID, text string) bot.Message {
	link, err := a.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channel, Ts: ts})
	if err != nil {
		a.log.Warn("chat.getPermalink", "channel", channel, "err", err)
		link = "https://slack.com/archives/" + url.PathEscape(channel) + "/p" + strings.ReplaceAll(ts, ".", "")
	}
	if threadTS == ts {
		threadTS = ""
	}
	return bot.Message{Platform: bot.Slack, Channel: channel, ID: ts, Thread: threadTS, Author: a.dir.BySlack(user),
		Bot: botID != "" || user == "", Text: Plain(a.dir, text), Link: link}
}

// shortcut files a ticket from the message a "Create ticket" shortcut was
// used on and answers the person through response_url.
func (a *Adapter) shortcut(ctx context.Context, p Interaction, key string) error {
	if a.intake == nil || p.CallbackID != CreateTicketCallback || p.User.ID == "" || p.Message.TS == "" {
		return nil
	}
	first, err := a.store.ClaimSlackRequest(ctx, key, a.clock.Now())
	if err != nil || !first {
		return err
	}
	a.background(func(ctx context.Context) {
		m := a.message(ctx, p.Channel.ID, p.Message.TS, p.Message.ThreadTS, p.Message.User, p.Message.BotID, p.Message.Text)
		reply, err := a.intake.FileFromMessage(ctx, m, a.dir.BySlack(p.User.ID))
		if err != nil {
			ue, ok := bot.AsUserError(err)
			if !ok {
				a.log.Error("create ticket from message", "channel", p.Channel.ID, "ts", p.Message.TS, "err", err)
				reply = bot.Reply{Text: "Something went wrong on our side; nothing was filed. Try again in a moment.", Severity: bot.SeverityDanger}
			} else {
				reply = bot.Reply{Text: ue.Msg, Severity: bot.SeverityDanger}
			}
		}
		reply.InChannel = false
		if p.ResponseURL == "" {
			a.tellEphemeral(ctx, p.Channel.ID, p.User.ID, reply)
			return
		}
		if err := a.postResponse(ctx, p.ResponseURL, Render(reply).Webhook(false)); err != nil {
			a.log.Warn("answer message shortcut", "err", err)
		}
	})
	return nil
}

// OptionsLoad is the answer to a block_suggestion: an external_select's
// options, loaded as the person types.
type OptionsLoad struct {
	Options []Option `json:"options"`
}

// Option is one option of an external_select.
type Option struct {
	Text  slack.TextBlockObject `json:"text"`
	Value string                `json:"value"`
}

// suggest answers a block_suggestion whose action_id names a command
// argument (complete:COMMAND:SUB:PARAM) from the argument's completer.
func (a *Adapter) suggest(ctx context.Context, p Interaction) OptionsLoad {
	out := OptionsLoad{Options: []Option{}}
	spec, ok := strings.CutPrefix(p.ActionID, CompletePrefix)
	parts := strings.Split(spec, ":")
	if !ok || len(parts) != 3 || p.User.ID == "" {
		return out
	}
	for _, c := range a.router.Complete(ctx, a.dir.BySlack(p.User.ID), parts[0], parts[1], parts[2], p.Value) {
		if len(out.Options) == maxOptions {
			break
		}
		if c.Value == "" || len(c.Value) > maxOptionValue {
			// A cut value would choose something else; leave it out.
			continue
		}
		out.Options = append(out.Options, Option{Text: slack.TextBlockObject{Type: slack.PlainTextType, Text: cut(orValue(c), maxOptionText)}, Value: c.Value})
	}
	return out
}
