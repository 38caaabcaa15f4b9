package discord

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// choose builds a component interaction: who picked values from the string
// select customID on message 700000000000000042.
func choose(who, customID string, values ...string) []byte {
	it := map[string]any{
		"id": nextID(), "application_id": testApp, "type": 3, "token": "itoken-choose", "version": 1,
		"channel_id": channelID, "member": map[string]any{"user": map[string]any{"id": who}},
		"message": map[string]any{"id": "700000000000000042", "channel_id": channelID},
		"data":    map[string]any{"custom_id": customID, "component_type": 3, "values": values},
	}
	b, _ := json.Marshal(it)
	return b
}

// rawAnswer is an interaction response with its components.
type rawAnswer struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data struct {
		Content    string                    `json:"content"`
		Flags      discordgo.MessageFlags    `json:"flags"`
		Embeds     []*discordgo.MessageEmbed `json:"embeds"`
		Components []struct {
			Type       int `json:"type"`
			Components []struct {
				Type        int    `json:"type"`
				CustomID    string `json:"custom_id"`
				Placeholder string `json:"placeholder"`
				MaxValues   int    `json:"max_values"`
				Options     []struct {
					Label string `json:"label"`
					Value string `json:"value"`
				} `json:"options"`
			} `json:"components"`
		} `json:"components"`
	} `json:"data"`
}

func (e *testEnv) answer(t *testing.T, body []byte) rawAnswer {
	t.Helper()
	rec := e.post(t, body, e.Clock.Now(), e.priv)
	var a rawAnswer
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return a
}

func (a rawAnswer) text() string {
	s := a.Data.Content
	for _, e := range a.Data.Embeds {
		s += "\n" + e.Title + "\n" + e.Description
		if e.Footer != nil {
			s += "\n" + e.Footer.Text
		}
	}
	return s
}

// TestDiscordMenuRunsAsChooser: /ticket list answers with a string select
// over /ticket show; choosing from it runs /ticket show as the person who
// chose and updates the message; values that are not one ticket number
// are refused by the parser and change nothing.
func TestDiscordMenuRunsAsChooser(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newIntakeEnv(t, b)
			for i := 1; i <= 30; i++ {
				e.Run("alice", fmt.Sprintf(`/ticket new "problem %d"`, i))
			}
			list := e.answer(t, slash(bobID, "ticket", sub("list", opt("limit", discordgo.ApplicationCommandOptionInteger, 30.0))))
			var sel *struct {
				Type        int    `json:"type"`
				CustomID    string `json:"custom_id"`
				Placeholder string `json:"placeholder"`
				MaxValues   int    `json:"max_values"`
				Options     []struct {
					Label string `json:"label"`
					Value string `json:"value"`
				} `json:"options"`
			}
			for _, row := range list.Data.Components {
				for i, c := range row.Components {
					if c.Type == 3 {
						sel = &row.Components[i]
					}
				}
			}
			if sel == nil {
				t.Fatalf("no string select in %+v", list.Data.Components)
			}
			if sel.CustomID != "menu:/ticket show" || sel.Placeholder != "Open a ticket" || sel.MaxValues != 1 ||
				len(sel.Options) != 25 || sel.Options[0].Value != "30" || sel.Options[0].Label != "#30 problem 30" {
				t.Fatalf("select = %+v", *sel)
			}
			if !strings.Contains(list.text(), "Or type /ticket show: Discord suggests matches as you type.") {
				t.Errorf("no autocomplete hint:\n%s", list.text())
			}
			// bob (helpdesk) picks #7: the message becomes ticket #7.
			got := e.answer(t, choose(bobID, sel.CustomID, "7"))
			if got.Type != discordgo.InteractionResponseUpdateMessage || !strings.Contains(got.text(), "#7 problem 7") {
				t.Fatalf("bob's choice: type %d %s", got.Type, got.text())
			}
			// Someone who may not see alice's tickets picks one: refused,
			// told alone, the message stays.
			got = e.answer(t, choose("300000000000000003", sel.CustomID, "7"))
			if got.Type != discordgo.InteractionResponseChannelMessageWithSource || got.Data.Flags != discordgo.MessageFlagsEphemeral ||
				strings.Contains(got.text(), "problem 7") {
				t.Fatalf("stranger's choice: type %d %s", got.Type, got.text())
			}
			// Crafted values and menus run nothing they should not.
			for _, tt := range []struct {
				id     string
				values []string
				want   string
			}{
				{sel.CustomID, []string{"7 --status resolved"}, "must be a number"},
				{sel.CustomID, []string{`7"; /ticket close 7`}, "must be a number"},
				{sel.CustomID, []string{"7", "8"}, "choose exactly one"},
				{sel.CustomID, nil, "choose exactly one"},
				{"menu:/ticket show --x", []string{"7"}, "carries no command"},
				{"menu:/ticket close", []string{"7"}, "needs"}, // runs, as the chooser, and is refused
				{"menu:cmd:00112233445566778899aabbccddeeff", []string{"7"}, "carries no command"},
				{"menu:", []string{"7"}, "carries no command"},
			} {
				got := e.answer(t, choose("300000000000000003", tt.id, tt.values...))
				if got.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(got.text(), tt.want) {
					t.Errorf("%s %q: %s", tt.id, tt.values, got.text())
				}
			}
			tk, err := storage.GetTicket(e.Deps.Store.DB, 7, false)
			if err != nil || tk.Status != storage.TicketNew {
				t.Errorf("ticket 7 changed: %+v %v", tk, err)
			}
		})
	}
}

func TestSelectKeepsDiscordLimits(t *testing.T) {
	t.Parallel()
	var opts []bot.Choice
	for i := range 40 {
		opts = append(opts, bot.Choice{Label: strings.Repeat("é", 200), Value: fmt.Sprint(i)})
	}
	r := bot.Reply{Text: "x", Menus: []bot.Menu{{Placeholder: strings.Repeat("p", 200), Command: "/device show", Param: "name", Options: opts}}}
	for i := range 25 {
		r.Buttons = append(r.Buttons, bot.Button{Label: "b", Command: fmt.Sprintf("/ticket take %d", i)})
	}
	if m := Render(r); len(m.Components) != maxRows {
		t.Fatalf("%d rows: buttons fill all five, the menu must give way", len(m.Components))
	}
	r.Buttons = r.Buttons[:3]
	m := Render(r)
	if len(m.Components) != 2 {
		t.Fatalf("%d rows", len(m.Components))
	}
	s := m.Components[1].(discordgo.ActionsRow).Components[0].(discordgo.SelectMenu)
	if len(s.Options) != maxSelectOptions || len([]rune(s.Options[0].Label)) > maxLabel || len([]rune(s.Placeholder)) > maxPlaceholder ||
		s.CustomID != "menu:/device show" {
		t.Fatalf("select: %d options, label %d, placeholder %d, id %q", len(s.Options), len([]rune(s.Options[0].Label)), len([]rune(s.Placeholder)), s.CustomID)
	}
}
