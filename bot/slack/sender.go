package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/slack-go/slack"

	"opsbot/bot"
	"opsbot/config"
)

// metadataType marks opsbot's messages so Find can recognise them by key.
const metadataType = "opsbot_message"

// Sender delivers the outbox's messages with the Web API: chat.postMessage,
// chat.update, and conversations.open for direct messages.
type Sender struct {
	api *slack.Client
	log *slog.Logger
}

var (
	_ bot.Sender    = (*Sender)(nil)
	_ bot.Finder    = (*Sender)(nil)
	_ bot.Completer = (*Sender)(nil)
)

// NewSender returns a sender using the bot token, against cfg.APIURL when set
// (tests, enterprise gateways). Every call times out after 15 s.
func NewSender(cfg config.SlackConfig, log *slog.Logger) *Sender {
	api := slack.New(cfg.BotToken.Reveal(), slack.OptionAPIURL(apiURL(cfg.APIURL)),
		slack.OptionHTTPClient(&http.Client{Timeout: 15 * time.Second}))
	return &Sender{api: api, log: log.With("platform", "slack")}
}

// Post sends a new message, opening the direct-message channel first when
// the target is a person. The message carries its key as metadata.
func (s *Sender) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	channel, err := s.channel(ctx, to)
	if err != nil {
		return bot.MessageRef{}, err
	}
	if len(msg.Reply.Images) > 0 {
		return s.postWithImages(ctx, to, channel, msg)
	}
	return s.postWords(ctx, to, channel, msg)
}

// postWords posts msg's words (its blocks, text and metadata) to channel,
// in to's thread when it names one.
func (s *Sender) postWords(ctx context.Context, to bot.Target, channel string, msg bot.Outgoing) (bot.MessageRef, error) {
	opts := s.options(msg)
	if to.Thread != "" {
		opts = append(opts, slack.MsgOptionTS(to.Thread))
	}
	ch, ts, err := s.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return bot.MessageRef{}, classify(fmt.Sprintf("chat.postMessage to %s", to.Name), err)
	}
	return bot.MessageRef{Channel: ch, ID: ts}, nil
}

// Update replaces a message sent before. Slack cannot swap the files of a
// message, so an update's pictures are shared under it, those whose title
// is not there yet (Complete).
func (s *Sender) Update(ctx context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	if _, _, _, err := s.api.UpdateMessageContext(ctx, ref.Channel, ref.ID, s.options(msg)...); err != nil {
		return classify("chat.update "+ref.Channel+"/"+ref.ID, err)
	}
	if len(msg.Reply.Images) > 0 {
		to := bot.Target{Platform: bot.Slack, Channel: ref.Channel, Name: ref.Channel}
		if err := s.Complete(ctx, to, ref, msg); err != nil {
			return err
		}
	}
	return nil
}

// Find looks through the destination's recent history for a message opsbot
// posted with the key, so a send whose outcome was lost is not repeated.
func (s *Sender) Find(ctx context.Context, to bot.Target, key string) (bot.MessageRef, bool, error) {
	channel, err := s.channel(ctx, to)
	if err != nil {
		return bot.MessageRef{}, false, err
	}
	params := &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 100, IncludeAllMetadata: true}
	if to.Thread != "" {
		msgs, _, _, err := s.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: to.Thread, Limit: 100, IncludeAllMetadata: true})
		if err != nil {
			return bot.MessageRef{}, false, lookupError("conversations.replies", to, channel, err)
		}
		return findKey(channel, msgs, key)
	}
	resp, err := s.api.GetConversationHistoryContext(ctx, params)
	if err != nil {
		return bot.MessageRef{}, false, lookupError("conversations.history", to, channel, err)
	}
	return findKey(channel, resp.Messages, key)
}

// historyScope is the scope that reads a conversation's history: by the
// kind of its id (D direct message, G private channel, C channel).
func historyScope(channel string) string {
	switch {
	case strings.HasPrefix(channel, "D"):
		return "im:history"
	case strings.HasPrefix(channel, "G"):
		return "groups:history"
	}
	return "channels:history"
}

// lookupError classifies a failed history call of Find: a missing scope or
// a channel the bot is not in make the lookup impossible (bot.LookupError,
// with what to fix), anything else is a send failure as usual.
func lookupError(method string, to bot.Target, channel string, err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		what := fmt.Sprintf("slack %s %s: %s", method, to.Name, se.Err)
		switch se.Err {
		case "missing_scope":
			return &bot.LookupError{Err: errors.New(what), Fix: fmt.Sprintf(
				"add the %s scope to the Slack app (docs/slack-app-manifest.yaml has it) and reinstall the app", historyScope(channel))}
		case "not_in_channel", "channel_not_found":
			return &bot.LookupError{Err: errors.New(what), Fix: fmt.Sprintf(
				"invite opsbot to %s (/invite @opsbot), or give the app the channels:join scope so serve joins it", to.Name)}
		}
	}
	return classify(method+" "+to.Name, err)
}

// Join makes the bot a member of a channel (conversations.join), so that
// it can look its own messages up there after a lost answer.
func (s *Sender) Join(ctx context.Context, channel string) error {
	if _, _, _, err := s.api.JoinConversationContext(ctx, channel); err != nil {
		return fmt.Errorf("slack conversations.join %s: %w", channel, err)
	}
	return nil
}

// CheckChannel reports whether opsbot can look its messages up in a channel
// (it is a member and has the history scope), reading its history without
// changing anything; the error says what to fix.
func (s *Sender) CheckChannel(ctx context.Context, name, channel string) error {
	_, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 1})
	if err == nil {
		return nil
	}
	return lookupError("conversations.history", bot.Target{Platform: bot.Slack, Channel: channel, Name: name}, channel, err)
}

// JoinChannels joins each configured channel, or logs, at start, each one
// opsbot is not in: a message there whose answer is lost cannot be looked
// up and is held for a person. It returns the channels it is not in.
func (s *Sender) JoinChannels(ctx context.Context, channels map[string]config.Channel) []string {
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(channels)) {
		id := channels[name].Slack
		if id == "" {
			continue
		}
		jerr := s.Join(ctx, id)
		if jerr == nil {
			continue
		}
		if err := s.CheckChannel(ctx, "#"+name, id); err != nil {
			s.log.Warn("opsbot is not in this Slack channel: a message there whose answer is lost will be held for opsbot outbox retry",
				"channel", "#"+name, "id", id, "err", err, "join", jerr)
			missing = append(missing, name)
		}
	}
	return missing
}

func findKey(channel string, msgs []slack.Message, key string) (bot.MessageRef, bool, error) {
	for _, m := range msgs {
		if m.Metadata.EventType == metadataType && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
			return bot.MessageRef{Channel: channel, ID: m.Timestamp}, true, nil
		}
	}
	return bot.MessageRef{}, false, nil
}

// channel is the channel id to post into: the target's channel, or the
// direct-message channel with the target's user.
func (s *Sender) channel(ctx context.Context, to bot.Target) (string, error) {
	if to.Channel != "" {
		return to.Channel, nil
	}
	if to.User == "" {
		return "", bot.Permanent(fmt.Errorf("slack target %q has neither channel nor user", to.Name))
	}
	ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{to.User}})
	if err != nil {
		return "", classify("conversations.open with "+to.Name, err)
	}
	return ch.ID, nil
}

func (s *Sender) options(msg bot.Outgoing) []slack.MsgOption {
	m := Render(msg.Reply)
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if msg.Key != "" {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType,
			EventPayload: map[string]any{"key": msg.Key}}))
	}
	return opts
}

// permanentErrors are Slack error codes that no retry will fix.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "invalid_auth": true, "not_authed": true,
	"account_inactive": true, "token_revoked": true, "no_permission": true, "missing_scope": true,
	"is_archived": true, "msg_too_long": true, "invalid_blocks": true, "user_not_found": true,
	"cant_update_message": true, "message_not_found": true, "edit_window_closed": true,
	"restricted_action": true, "invalid_arguments": true, "channel_is_archived": true,
}

// classify turns a slack-go error into a bot.SendError: rate limits with
// their Retry-After, server faults and refused connections as retryable, the
// codes in permanentErrors as permanent; other transport failures stay plain
// errors because Slack may have the message.
func classify(what string, err error) error {
	wrapped := fmt.Errorf("slack %s: %w", what, err)
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return bot.Retryable(wrapped, rl.RetryAfter)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests || sc.Code == http.StatusRequestTimeout {
			return bot.Retryable(wrapped, 0)
		}
		return bot.Permanent(wrapped)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if permanentErrors[se.Err] {
			return bot.Permanent(wrapped)
		}
		return bot.Retryable(wrapped, 0)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		// Nothing reached Slack: certainly not posted.
		return bot.Retryable(wrapped, 0)
	}
	// Transport trouble after the request may have left (a dropped
	// connection, a timeout, an unreadable answer): Slack may have posted
	// the message. A plain error tells the notifier the outcome is unknown,
	// so it looks for the message (Find) before posting it again; a
	// SendError would say Slack refused it, and the retry would duplicate.
	return wrapped
}
