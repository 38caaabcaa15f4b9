package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	_ bot.Sender = (*Sender)(nil)
	_ bot.Finder = (*Sender)(nil)
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

// Update replaces a message sent before.
func (s *Sender) Update(ctx context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	if _, _, _, err := s.api.UpdateMessageContext(ctx, ref.Channel, ref.ID, s.options(msg)...); err != nil {
		return classify("chat.update "+ref.Channel+"/"+ref.ID, err)
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
			return bot.MessageRef{}, false, classify("conversations.replies "+to.Name, err)
		}
		return findKey(channel, msgs, key)
	}
	resp, err := s.api.GetConversationHistoryContext(ctx, params)
	if err != nil {
		return bot.MessageRef{}, false, classify("conversations.history "+to.Name, err)
	}
	return findKey(channel, resp.Messages, key)
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
