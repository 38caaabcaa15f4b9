package discord

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/storage/storagetest"
)

// interactionTable is the test commands plus one with a default subcommand
// beside a named one that has a required flag.
func interactionTable() []bot.Command {
	return append(testCommands(handlers.Deps{}, nil), bot.Command{Name: "grant", Summary: "Grants", Subs: []bot.Sub{
		{Args: []bot.Param{{Name: "resource", Kind: bot.KindString, Required: true}}},
		{Name: "deny", Args: []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}},
			Flags: []bot.Param{{Name: "reason", Kind: bot.KindString, Required: true}}},
	}})
}

// registered is the table as Discord holds it: generated, then read back
// from JSON, as a client of the registration call would.
func registered(t *testing.T, cmds []bot.Command) []*discordgo.ApplicationCommand {
	t.Helper()
	acs, err := ApplicationCommands(cmds)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(acs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := RegisteredCommands(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// interactionBody wraps data in an interaction from who, as Discord posts it.
func interactionBody(t *testing.T, who string, data discordgo.ApplicationCommandInteractionData) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": nextID(), "application_id": testApp, "type": 2, "token": "itoken-abc", "version": 1,
		"channel_id": channelID, "guild_id": "400000000000000001",
		"member": map[string]any{"user": map[string]any{"id": who, "username": "x"}},
		"data":   data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInteractionDataIsCommandLineInverse(t *testing.T) {
	t.Parallel()
	cmds := interactionTable()
	acs := registered(t, cmds)
	table := map[string]bot.Command{}
	for _, c := range cmds {
		table[c.Name] = c
	}
	for _, tc := range []struct{ line, want string }{
		{`/note add "VPN drops"`, ``},
		{`/note add "VPN drops" --priority "high" --for <@` + bobID + `> --ticket 12 --days -3 --within "1d12h" --quiet=true`, ``},
		{`/NOTE Add --priority=HIGH "VPN drops" --ticket #12 --for <@!` + bobID + `> --quiet`,
			`/note add "VPN drops" --priority "high" --for <@` + bobID + `> --ticket 12 --quiet=true`},
		{`/note add "x" --quiet=false`, `/note add "x" --quiet=false`},
		{`/note add "--not a flag" --days=4`, `/note add "--not a flag" --days 4`},
		{`/note close #7`, `/note close 7`},
		{`/note close 7 --reason "all done"`, ``},
		{`/slow`, ``},
		{`/slow --public --advance 2h`, `/slow --advance "2h" --public=true`},
		{`/grant vpn`, `/grant "vpn"`},
		{`/grant deny 3 --reason "no access"`, ``},
	} {
		want := tc.want
		if want == "" {
			want = tc.line
		}
		data, err := InteractionData(acs, tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		it, err := DecodeInteraction(interactionBody(t, aliceID, data))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		got, err := CommandLine(table, it.Data.(discordgo.ApplicationCommandInteractionData))
		if err != nil || got != want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.line, got, err, want)
		}
	}
}

func TestInteractionDataRefusesWhatDiscordWould(t *testing.T) {
	t.Parallel()
	acs := registered(t, interactionTable())
	for _, tc := range []struct{ line, want string }{
		{`/nope`, "not a registered slash command"},
		{`/note`, "needs a subcommand: one of add, close"},
		{`/note add`, "option text is required"},
		{`/note add VPN drops`, `option priority wants one of low, normal, high, not "drops"`},
		{`/note add "x" --bogus 1`, `has no option "bogus"`},
		{`/note add "x" --priority urgent`, "one of low, normal, high"},
		{`/note add "x" --for @alice`, "a mention"},
		{`/note add "x" --days`, "option days needs a value"},
		{`/note add "x" --days --quiet`, "option days needs a value"},
		{`/note add "x" --days many`, "a whole number"},
		{`/note add "x" --quiet --quiet`, "given twice"},
		{`/note add "x" --quiet=maybe`, "true or false"},
		{`/note close 0`, "a whole number in range"},
		{`/note close 1 "why" extra`, `nothing takes "extra"`},
		{`/grant deny 3`, "option reason is required"},
		// The subcommand comes first, as for the parser.
		{`/grant --reason "no" deny 3`, `/grant default has no option "reason"`},
		{`/note add "open`, "never closed"},
	} {
		_, err := InteractionData(acs, tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

// TestInteractionDataRunsTheCommand posts what InteractionData builds to the
// adapter: the command runs with every option as typed.
func TestInteractionDataRunsTheCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	data, err := InteractionData(registered(t, testCommands(e.Deps, e)),
		`/note add "VPN drops" --priority high --for <@`+bobID+`> --ticket #12 --days -3 --within 1d12h --quiet`)
	if err != nil {
		t.Fatal(err)
	}
	resp := response(t, e.post(t, interactionBody(t, aliceID, data), e.Clock.Now(), e.priv))
	if len(resp.Data.Embeds) != 1 || resp.Data.Embeds[0].Title != "Noted #1" {
		t.Fatalf("answer %+v", resp.Data)
	}
	audit := e.Audit()
	want := `text="VPN drops" priority=high for=bob ticket=12 days=-3 within=1d12h quiet=true`
	if len(audit) != 1 || audit[0].Detail != want || audit[0].Actor != "alice" {
		t.Fatalf("audit %+v\nwant detail %s", audit, want)
	}
}
