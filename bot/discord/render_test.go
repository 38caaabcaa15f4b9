package discord

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// renderFixtures are the same replies the other adapters' golden files use.
var renderFixtures = map[string]bot.Reply{
	"plain": {Text: "Ticket #12 is yours."},
	"empty": {},
	"ticket": {Title: "Ticket #12: VPN drops", Text: "Filed by @alice", Severity: bot.SeverityWarning, Footer: "queue it · SLA 1h",
		Fields: []bot.Field{{Name: "Priority", Value: "high", Short: true}, {Name: "Status", Value: "open", Short: true}, {Name: "Notes", Value: ""}},
		Buttons: []bot.Button{{Label: "Take", Command: "/ticket take 12", Style: bot.ButtonPrimary},
			{Label: "Close", Command: "/ticket close 12", Style: bot.ButtonDanger}, {Label: "Show", Command: "/ticket show 12"}},
		InChannel: true},
	"menu": {Title: `3 devices match "core" (by name)`, Text: "core-sw-1 — 10.0.0.1\ncore-sw-2 — 10.0.0.2\ncore-rtr-1 — 10.0.0.3",
		Buttons: []bot.Button{{Label: "Look up again", Command: "/device lookup core"}},
		Menus: []bot.Menu{
			{Placeholder: "Show a device", Command: "/device show", Param: "name", TypeAhead: true,
				Options: []bot.Choice{{Label: "core-sw-1", Value: "core-sw-1"}, {Label: "core-sw-2", Value: "core-sw-2"}}},
			{Placeholder: "Show a request", Command: "/access show", Param: "id",
				Options: []bot.Choice{{Label: "#4 prod-db (read) for @bob: pending", Value: "4"}, {Label: "", Value: "5"},
					{Label: "too long", Value: strings.Repeat("9", 101)}}},
			{Placeholder: "duplicate", Command: "/device show", Param: "name", TypeAhead: true, Options: []bot.Choice{{Value: "x"}}},
			{Placeholder: "invalid", Command: "/device show --oid 1", Param: "name", Options: []bot.Choice{{Value: "x"}}},
			{Placeholder: "no options", Command: "/ticket show", Param: "n", TypeAhead: true},
		}},
	// hostile is user text trying every markup both platforms have.
	"hostile": {Title: "#3 [Click](https://evil.example) <@U1>", Text: "[Click to approve](https://evil.example/approve)\n# Heading\n-# small print\n> quoted\n||spoiler|| @everyone <@100000000000000002> <!here> <#C01HELP|helpdesk> <https://evil.example|Approve> **bold** _it_ ~~gone~~ `code` <t:1700000000:R> https://intranet.example.com/a_b?x=1&y=2",
		Fields: []bot.Field{{Name: "Reason", Value: "[Approve](https://evil.example/a) & <script>", Short: true},
			{Name: "Requester", Value: "@slack:W111 @discord:100000000000000009", Short: true}},
		Code: "ok\n```\n<b>**out**</b> [x](https://evil.example)\n", Severity: bot.SeverityInfo, Footer: "<!channel> [f](https://evil.example)"},
	"error": {Text: "/ticket take needs the helpdesk role; ask someone who has it.", Severity: bot.SeverityDanger},
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for name, r := range renderFixtures {
		got, err := json.MarshalIndent(Render(r), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "render/"+name+".json", append(got, '\n'))
	}
}

func TestRenderKeepsDiscordLimits(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("é", 10000)
	r := bot.Reply{Title: huge, Text: huge, Footer: huge, Severity: bot.SeverityInfo}
	for i := range 40 {
		r.Fields = append(r.Fields, bot.Field{Name: huge, Value: huge})
		r.Buttons = append(r.Buttons, bot.Button{Label: huge, Command: fmt.Sprintf("/ticket take %d", i)})
	}
	r.Buttons = append(r.Buttons, bot.Button{Label: "dup", Command: "/ticket take 0"})
	m := Render(r)
	e := m.Embeds[0]
	total := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description) + utf8.RuneCountInString(e.Footer.Text)
	for _, f := range e.Fields {
		total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		if utf8.RuneCountInString(f.Value) > maxFieldValue || f.Value == "" {
			t.Fatalf("field value %d", utf8.RuneCountInString(f.Value))
		}
	}
	if total > maxEmbedTotal || utf8.RuneCountInString(e.Title) > maxTitle || len(e.Fields) > maxFields {
		t.Fatalf("embed total %d, title %d, fields %d", total, utf8.RuneCountInString(e.Title), len(e.Fields))
	}
	if len(m.Components) != maxRows {
		t.Fatalf("%d rows", len(m.Components))
	}
	for _, row := range m.Components {
		btns := row.(discordgo.ActionsRow).Components
		if len(btns) != buttonsPerRow {
			t.Fatalf("%d buttons in a row", len(btns))
		}
		for _, b := range btns {
			if utf8.RuneCountInString(b.(discordgo.Button).Label) > maxLabel {
				t.Fatal("label too long")
			}
		}
	}
	long := Render(bot.Reply{Text: strings.Repeat("a", 3000)})
	if long.Content != "" || len(long.Embeds) != 1 || len(long.Embeds[0].Description) != 3000 {
		t.Fatalf("text past 2000 characters belongs in the embed")
	}
}

// TestCommandLineRoundTrip proves the quoting: every string reaches the
// handler exactly as typed in Discord.
func TestCommandLineRoundTrip(t *testing.T) {
	t.Parallel()
	table := map[string]bot.Command{}
	for _, c := range testTable(t) {
		table[c.Name] = c
	}
	r, err := bot.NewRouter(bot.NewDirectory(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now, testCommands(handlersDeps(), nil)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{``, ` `, `"`, `\`, `\"`, `”`, `“x”`, `'`, `--priority high`, `a "b" c`, "line\nbreak\ttab", `#12`, `<@123>`, `'tis`, `„x“`} {
		line, err := CommandLine(table, discordgo.ApplicationCommandInteractionData{Name: "note", Options: []*discordgo.ApplicationCommandInteractionDataOption{
			sub("close", opt("id", discordgo.ApplicationCommandOptionInteger, 5.0), opt("reason", discordgo.ApplicationCommandOptionString, s))}})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		call := r.Parse(bot.Incoming{Line: line})
		if call.Req.Sub != "close" || call.Req.String("reason") != s || call.Req.Int("id") != 5 {
			t.Errorf("%q became %q via %s", s, call.Req.String("reason"), line)
		}
	}
}
