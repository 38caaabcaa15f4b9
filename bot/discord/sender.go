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

var _ bot.Sender = (*Sender)(nil)

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

// Post sends a message to a channel, or to a person by direct message.
func (s *Sender) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	channel := to.Channel
	if to.User != "" {
		if !snowflake(to.User) {
			return bot.MessageRef{}, bot.Permanent(fmt.Errorf("discord: %q is not a user id", to.User))
		}
		var dm discordgo.Channel
		if err := s.api.do(ctx, "open direct message", http.MethodPost, "/users/@me/channels", true,
			map[string]string{"recipient_id": to.User}, &dm); err != nil {
			return bot.MessageRef{}, err
		}
		channel = dm.ID
	}
	if !snowflake(channel) {
		return bot.MessageRef{}, bot.Permanent(fmt.Errorf("discord: %q is not a channel id", channel))
	}
	m := Render(msg.Reply)
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
	if err := s.api.do(ctx, "post message to "+to.Name, http.MethodPost, "/channels/"+url.PathEscape(channel)+"/messages",
		true, out, &sent); err != nil {
		return bot.MessageRef{}, err
	}
	if sent.ID == "" {
		return bot.MessageRef{}, bot.Permanent(errors.New("discord: post message: answer has no message id"))
	}
	return bot.MessageRef{Channel: channel, ID: sent.ID}, nil
}

// Update replaces the content of a message posted before.
func (s *Sender) Update(ctx context.Context, ref bot.MessageRef, msg bot.Outgoing) error {
	if !snowflake(ref.Channel) || !snowflake(ref.ID) {
		return bot.Permanent(fmt.Errorf("discord: %q/%q is not a message reference", ref.Channel, ref.ID))
	}
	m := Render(msg.Reply)
	if err := s.save(ctx, m); err != nil {
		return err
	}
	return s.api.do(ctx, "edit message", http.MethodPatch,
		"/channels/"+url.PathEscape(ref.Channel)+"/messages/"+url.PathEscape(ref.ID), true, m, nil)
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
