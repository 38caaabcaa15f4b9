package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
)

// Sender delivers the outbox's notifications to Discord: channel messages,
// edits, and direct messages.
type Sender struct {
	api   *client
	db    *gorm.DB
	clock clock.Clock
	log   *slog.Logger
}

var (
	_ bot.Sender = (*Sender)(nil)
	_ bot.Finder = (*Sender)(nil)
)

// NewSender builds a sender with the bot token; discord.api_url, when set,
// replaces Discord's REST base. The store keeps long button commands.
func NewSender(cfg config.DiscordConfig, store *storage.Store, clk clock.Clock, log *slog.Logger, opts Options) *Sender {
	return &Sender{api: newClient(cfg.APIURL, cfg.Token, opts.HTTPClient), db: store.DB, clock: clk,
		log: log.With("platform", "discord")}
}

// outgoing is a channel message with the nonce that lets Discord drop a
// duplicate of the same notification.
type outgoing struct {
	Message
	Nonce        string                      `json:"nonce,omitempty"`
	EnforceNonce bool                        `json:"enforce_nonce,omitempty"`
	Reference    *discordgo.MessageReference `json:"message_reference,omitempty"`
}

// Nonce is the stable nonce of a notification key: Discord accepts at most
// 25 characters and, with enforce_nonce, drops a second message with the
// same nonce sent within a few minutes.
func Nonce(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:25]
}

// Marker is what opsbot writes into the embed footer of each notification
// so that Find recognises it among a channel's messages: Discord returns no
// nonce on fetched messages and forgets nonces after a few minutes.
func Marker(key string) string { return "opsbot ref " + Nonce(key) }

// channel is the channel id to post into: the target's channel, or the
// direct-message channel with the target's user.
func (s *Sender) channel(ctx context.Context, to bot.Target) (string, error) {
	channel := to.Channel
	if to.User != "" {
		if !snowflake(to.User) {
			return "", bot.Permanent(fmt.Errorf("discord: %q is not a user id", to.User))
		}
		var dm discordgo.Channel
		if err := s.api.do(ctx, "open direct message", http.MethodPost, "/users/@me/channels", true,
			map[string]string{"recipient_id": to.User}, &dm); err != nil {
			return "", err
		}
		channel = dm.ID
	}
	if !snowflake(channel) {
		return "", bot.Permanent(fmt.Errorf("discord: %q is not a channel id", channel))
	}
	return channel, nil
}

// Post sends a message to a channel, or to a person by direct message,
// with its nonce (enforce_nonce) and its marker in the embed footer. A
// reply's pictures go in the same request (multipart/form-data), so the
// message arrives whole or not at all and Find's marker covers them too.
func (s *Sender) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	channel, err := s.channel(ctx, to)
	if err != nil {
		return bot.MessageRef{}, err
	}
	reply := msg.Reply
	if msg.Key != "" {
		if reply.Footer != "" {
			reply.Footer += "\n"
		}
		reply.Footer += Marker(msg.Key)
	}
	m := Render(reply)
	if err := attach(&m, reply.Images); err != nil {
		return bot.MessageRef{}, err
	}
	if err := s.save(ctx, m); err != nil {
		return bot.MessageRef{}, err
	}
	out := outgoing{Message: m}
	if msg.Key != "" {
		out.Nonce, out.EnforceNonce = Nonce(msg.Key), true
	}
	if to.Thread != "" && snowflake(to.Thread) {
		no := false
		out.Reference = &discordgo.MessageReference{MessageID: to.Thread, ChannelID: channel, FailIfNotExists: &no}
	}
	var sent discordgo.Message
	if err := s.api.send(ctx, "post message to "+to.Name, http.MethodPost, "/channels/"+url.PathEscape(channel)+"/messages",
		true, out, m.Files, &sent); err != nil {
		return bot.MessageRef{}, err
	}
	if sent.ID == "" {
		return bot.MessageRef{}, bot.Permanent(errors.New("discord: post message: answer has no message id"))
	}
	return bot.MessageRef{Channel: channel, ID: sent.ID}, nil
}

// Find looks for the message with the key's marker among the channel's
// recent messages (Discord returns no nonce on them), so a send whose
// answer was lost is not posted again once Discord has forgotten its nonce.
// Without the permission to read the channel's history the lookup is
// impossible: a bot.LookupError says what to grant.
func (s *Sender) Find(ctx context.Context, to bot.Target, key string) (bot.MessageRef, bool, error) {
	channel, err := s.channel(ctx, to)
	if err != nil {
		return bot.MessageRef{}, false, err
	}
	var msgs []discordgo.Message
	err = s.api.do(ctx, "list recent messages in "+to.Name, http.MethodGet, "/channels/"+url.PathEscape(channel)+"/messages?limit=100",
		true, nil, &msgs)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Code == 50001 || ae.Code == 50013) {
		return bot.MessageRef{}, false, &bot.LookupError{Err: err,
			Fix: fmt.Sprintf("give opsbot the View Channel and Read Message History permissions in %s", to.Name)}
	}
	if err != nil {
		return bot.MessageRef{}, false, err
	}
	marker := Marker(key)
	for _, m := range msgs {
		for _, e := range m.Embeds {
			if e != nil && e.Footer != nil && strings.Contains(e.Footer.Text, marker) {
				return bot.MessageRef{Channel: channel, ID: m.ID}, true, nil
			}
		}
	}
	return bot.MessageRef{}, false, nil
}

// Update replaces the content of a message posted before.
func (s *Sender) Update(ctx context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	if !snowflake(ref.Channel) || !snowflake(ref.ID) {
		return bot.Permanent(fmt.Errorf("discord: %q/%q is not a message reference", ref.Channel, ref.ID))
	}
	m := Render(msg.Reply)
	if err := attach(&m, msg.Reply.Images); err != nil {
		return err
	}
	if err := s.save(ctx, m); err != nil {
		return err
	}
	// With pictures, the attachments list replaces the message's files.
	return s.api.send(ctx, "edit message", http.MethodPatch,
		"/channels/"+url.PathEscape(ref.Channel)+"/messages/"+url.PathEscape(ref.ID), true, m, m.Files, nil)
}

// save stores the commands of long buttons before the message that carries
// them goes out; a failure is retried with the message.
func (s *Sender) save(ctx context.Context, m Message) error {
	for hash, cmd := range m.Stored {
		if err := storage.SaveDiscordButton(ctx, s.db, hash, cmd, s.clock.Now()); err != nil {
			return bot.Retryable(err, 0)
		}
	}
	return nil
}
