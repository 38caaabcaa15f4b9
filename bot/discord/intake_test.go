package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/handlers/tickets"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const sourceMsg = "500000000000000001"

func newIntakeEnv(t *testing.T, b storagetest.Backend) *testEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(t)
	cfg := testConfig(fake.URL(), hex.EncodeToString(pub))
	env := &testEnv{Env: handlertest.New(t, b, cfg), fake: fake, priv: priv, logs: &syncBuffer{}, release: make(chan struct{})}
	tix, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(tix.Command())
	log := slog.New(slog.NewTextHandler(env.logs, nil))
	if env.adapter, err = New(cfg.Discord, env.Router, env.Deps.Store, env.Clock, log, Options{Intake: tix}); err != nil {
		t.Fatal(err)
	}
	return env
}

func messageCommand(who string) []byte {
	it := map[string]any{
		"id": nextID(), "application_id": testApp, "type": 2, "token": "itoken-abc", "version": 1,
		"channel_id": channelID, "guild_id": "400000000000000001",
		"member": map[string]any{"user": map[string]any{"id": who, "username": "x"}},
		"data": map[string]any{"id": "2", "name": CreateTicketCommand, "type": 3, "target_id": sourceMsg,
			"resolved": map[string]any{"messages": map[string]any{sourceMsg: map[string]any{
				"id": sourceMsg, "channel_id": channelID, "content": "Printer on 3rd floor jams\nevery morning",
				"author": map[string]any{"id": aliceID, "username": "alice"}}}}},
	}
	b, _ := json.Marshal(it)
	return b
}

func TestDiscordIntake(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env := newIntakeEnv(t, b)
			for i, who := range []string{bobID, bobID, aliceID} {
				rec := env.post(t, messageCommand(who), env.Clock.Now(), env.priv)
				resp := response(t, rec)
				if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags&discordgo.MessageFlagsEphemeral == 0 {
					t.Fatalf("response = %+v", resp)
				}
				// HTTP mode sees no thread replies: the answer must not
				// promise that they become comments.
				if i == 0 && (strings.Contains(rec.Body.String(), "become comments") || !strings.Contains(rec.Body.String(), "/ticket comment 1")) {
					t.Errorf("HTTP-mode answer = %s, want the /ticket comment way and no thread-reply promise", rec.Body)
				}
			}
			for _, m := range env.Outbox() {
				if strings.Contains(m.Body, "become comments") {
					t.Errorf("HTTP-mode card promises thread replies become comments: %s", m.Body)
				}
			}
			var ts []storage.Ticket
			env.Deps.Store.DB.Find(&ts)
			if len(ts) != 1 || ts[0].Summary != "Printer on 3rd floor jams" || ts[0].Requester != "alice" || ts[0].FiledBy != "bob" ||
				!strings.Contains(ts[0].Description, "https://discord.com/channels/400000000000000001/"+channelID+"/"+sourceMsg) {
				t.Fatalf("tickets = %+v", ts)
			}
			thread := func() int {
				n := 0
				for _, m := range env.Outbox() {
					var tg bot.Target
					_ = json.Unmarshal([]byte(m.Target), &tg)
					if tg.Platform == bot.Discord && tg.Thread == sourceMsg && tg.Channel == channelID {
						n++
					}
				}
				return n
			}
			if thread() != 1 {
				t.Fatalf("%d posts under the message, want the card", thread())
			}
			// Gateway mode: a reply to the message by the helpdesk is a
			// comment, once; the bot's own reply is not.
			reply := &discordgo.Message{ID: "500000000000000002", ChannelID: channelID, Content: "on my way",
				Author: &discordgo.User{ID: bobID}, MessageReference: &discordgo.MessageReference{MessageID: sourceMsg, ChannelID: channelID}}
			env.adapter.OnMessage(t.Context(), reply)
			env.adapter.OnMessage(t.Context(), reply)
			env.adapter.OnMessage(t.Context(), &discordgo.Message{ID: "500000000000000003", ChannelID: channelID, Content: "Ticket #1",
				Author: &discordgo.User{ID: "600000000000000001", Bot: true}, MessageReference: &discordgo.MessageReference{MessageID: sourceMsg}})
			var n int64
			env.Deps.Store.DB.Model(&storage.TicketEvent{}).Where("kind = ?", "comment").Count(&n)
			if n != 1 || thread() != 1 {
				t.Errorf("%d comments, %d thread posts; want 1 and 1", n, thread())
			}
			// Autocomplete for /ticket show n.
			ac := map[string]any{"id": nextID(), "application_id": testApp, "type": 4, "token": "t", "version": 1,
				"channel_id": channelID, "member": map[string]any{"user": map[string]any{"id": aliceID}},
				"data": map[string]any{"id": "1", "name": "ticket", "type": 1, "options": []any{map[string]any{"type": 1, "name": "show",
					"options": []any{map[string]any{"type": 4, "name": "n", "value": "print", "focused": true}}}}}}
			body, _ := json.Marshal(ac)
			rec := env.post(t, body, env.Clock.Now(), env.priv)
			var resp struct {
				Type int `json:"type"`
				Data struct {
					Choices []struct {
						Name  string `json:"name"`
						Value any    `json:"value"`
					} `json:"choices"`
				} `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Type != 8 || len(resp.Data.Choices) != 1 || resp.Data.Choices[0].Value != float64(1) {
				t.Errorf("autocomplete = %s", rec.Body)
			}
		})
	}
}

func TestRegistrationHasMessageCommandAndAutocomplete(t *testing.T) {
	t.Parallel()
	env := newIntakeEnv(t, storagetest.Backends(t)[0])
	acs, err := ApplicationCommands(env.Router.Commands())
	if err != nil {
		t.Fatal(err)
	}
	var menu, auto bool
	for _, c := range acs {
		if c.Type == discordgo.MessageApplicationCommand && c.Name == CreateTicketCommand {
			menu = true
		}
		if c.Name == "ticket" {
			for _, s := range c.Options {
				if s.Name == "show" && s.Options[0].Autocomplete {
					auto = true
				}
			}
		}
	}
	if !menu || !auto {
		t.Errorf("message command %t, autocomplete on /ticket show n %t", menu, auto)
	}
}
