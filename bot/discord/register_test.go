package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func testTable(t *testing.T) []bot.Command {
	t.Helper()
	r, err := bot.NewRouter(bot.NewDirectory(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now,
		testCommands(handlers.Deps{}, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Commands()
}

func TestApplicationCommandsShape(t *testing.T) {
	t.Parallel()
	acs, err := ApplicationCommands(testTable(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(acs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "commands.json", append(got, '\n'))

	// The shape Discord needs, spelled out.
	var cmds []struct {
		Name, Description string
		Type              int
		Options           []struct {
			Type     int
			Name     string
			Required bool
			Options  []struct {
				Type     int
				Name     string
				Required bool
				MinValue *float64 `json:"min_value"`
				Choices  []struct{ Name, Value string }
			}
		}
	}
	if err := json.Unmarshal(got, &cmds); err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 4 || cmds[0].Name != "help" || cmds[1].Name != "note" || cmds[1].Type != 1 {
		t.Fatalf("commands %+v", cmds)
	}
	help := cmds[0].Options
	if len(help) != 1 || help[0].Type != 3 || help[0].Name != "command" || help[0].Required {
		t.Fatalf("/help takes one optional string: %+v", help)
	}
	add := cmds[1].Options[0]
	if add.Type != 1 || add.Name != "add" {
		t.Fatalf("subcommand %+v", add)
	}
	types := map[string]int{}
	for _, o := range add.Options {
		types[o.Name] = o.Type
	}
	want := map[string]int{"text": 3, "priority": 3, "for": 6, "ticket": 4, "days": 4, "within": 3, "quiet": 5}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("option %s has type %d, want %d", k, types[k], v)
		}
	}
	if o := add.Options[0]; o.Name != "text" || !o.Required {
		t.Errorf("the required option must come first: %+v", add.Options)
	}
	for _, o := range add.Options {
		if o.Name == "priority" && (len(o.Choices) != 3 || o.Choices[2].Value != "high") {
			t.Errorf("choices %+v", o.Choices)
		}
		if o.Name == "ticket" && (o.MinValue == nil || *o.MinValue != 1) {
			t.Errorf("an id needs min_value 1: %+v", o)
		}
	}
}

func TestApplicationCommandsRefusesWhatDiscordWould(t *testing.T) {
	t.Parallel()
	run := func(context.Context, *bot.Request) (bot.Reply, error) { return bot.Reply{}, nil }
	many := make([]string, 26)
	for i := range many {
		many[i] = strings.Repeat("c", i+1)
	}
	cases := []struct {
		name string
		cmd  bot.Command
		want string
	}{
		{"upper-case command", bot.Command{Name: "Ticket", Subs: []bot.Sub{{Run: run}}}, `name "Ticket"`},
		{"long option", bot.Command{Name: "t", Subs: []bot.Sub{{Run: run, Flags: []bot.Param{{Name: strings.Repeat("x", 33)}}}}}, "1 to 32"},
		{"space in sub", bot.Command{Name: "t", Subs: []bot.Sub{{Name: "a b", Run: run}}}, `name "a b"`},
		{"too many choices", bot.Command{Name: "t", Subs: []bot.Sub{{Run: run, Flags: []bot.Param{{Name: "p", Kind: bot.KindChoice, Choices: many}}}}}, "26 choices"},
		{"arg and flag share a name", bot.Command{Name: "t", Subs: []bot.Sub{{Run: run, Args: []bot.Param{{Name: "x"}}, Flags: []bot.Param{{Name: "x"}}}}}, `two options named "x"`},
		{"default clashes", bot.Command{Name: "t", Subs: []bot.Sub{{Run: run}, {Name: "default", Run: run}}}, "default subcommand"},
	}
	for _, c := range cases {
		_, err := ApplicationCommands([]bot.Command{c.cmd})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/t") && c.name != "upper-case command" {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	var flags []bot.Param
	for i := range 26 {
		flags = append(flags, bot.Param{Name: strings.Repeat("f", i+1)})
	}
	if _, err := ApplicationCommands([]bot.Command{{Name: "t", Subs: []bot.Sub{{Run: run, Flags: flags}}}}); err == nil || !strings.Contains(err.Error(), "26 options") {
		t.Errorf("26 options: %v", err)
	}
	// A long summary is shortened, not refused.
	acs, err := ApplicationCommands([]bot.Command{{Name: "t", Summary: strings.Repeat("word ", 40), Subs: []bot.Sub{{Run: run}}}})
	if err != nil || len([]rune(acs[0].Description)) != 100 {
		t.Fatalf("%v %q", err, acs[0].Description)
	}
	// The default subcommand beside named ones appears as "default".
	acs, err = ApplicationCommands([]bot.Command{{Name: "t", Subs: []bot.Sub{{Run: run}, {Name: "list", Run: run}}}})
	if err != nil || acs[0].Options[0].Name != DefaultSub || acs[0].Options[1].Name != "list" {
		t.Fatalf("%v %+v", err, acs)
	}
}

func TestRegisterOverwritesInBulk(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	cfg := config.DiscordConfig{Token: config.Secret(testToken), ApplicationID: testApp, APIURL: f.URL()}
	table := testTable(t)
	ctx := context.Background()
	var bodies [][]byte
	for _, guild := range []string{"", "400000000000000001", ""} {
		n, err := Register(ctx, cfg, guild, table, Options{})
		if err != nil || n != 4 {
			t.Fatalf("register: %d %v", n, err)
		}
		c := f.Wait(t)
		path := "/applications/" + testApp + "/commands"
		if guild != "" {
			path = "/applications/" + testApp + "/guilds/" + guild + "/commands"
		}
		if c.Method != http.MethodPut || c.Path != path || c.Auth != "Bot "+testToken {
			t.Fatalf("%s %s %q", c.Method, c.Path, c.Auth)
		}
		bodies = append(bodies, c.Raw)
	}
	if !bytes.Equal(bodies[0], bodies[2]) {
		t.Fatal("registering twice sent different tables")
	}
	for _, bad := range []struct {
		cfg   config.DiscordConfig
		guild string
		want  string
	}{
		{config.DiscordConfig{Token: config.Secret(testToken), APIURL: f.URL()}, "", "application_id"},
		{config.DiscordConfig{ApplicationID: testApp, APIURL: f.URL()}, "", "DISCORD_TOKEN"},
		{cfg, "my-server", "--guild"},
		{config.DiscordConfig{Token: config.Secret("wrong"), ApplicationID: testApp, APIURL: f.URL()}, "", "401"},
	} {
		if _, err := Register(ctx, bad.cfg, bad.guild, table, Options{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want %q, got %v", bad.want, err)
		}
	}
}

// TestRegisteredCommandsReadsTheBulkOverwrite decodes the body Register
// sends, as a stand-in for Discord would capture it, and builds an
// interaction from it that the command table reads back as typed.
func TestRegisteredCommandsReadsTheBulkOverwrite(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	cfg := config.DiscordConfig{Token: config.Secret(testToken), ApplicationID: testApp, APIURL: f.URL()}
	table := testTable(t)
	if _, err := Register(context.Background(), cfg, "", table, Options{}); err != nil {
		t.Fatal(err)
	}
	acs, err := RegisteredCommands(f.Wait(t).Raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(acs) != len(table) {
		t.Fatalf("decoded %d commands, registered %d", len(acs), len(table))
	}
	byName := map[string]bot.Command{}
	for _, c := range table {
		byName[c.Name] = c
	}
	line := `/note add "VPN drops" --priority "high" --ticket 12`
	data, err := InteractionData(acs, line)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := CommandLine(byName, data); err != nil || got != line {
		t.Fatalf("got %q (%v), want %q", got, err, line)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"empty body", ``, "unexpected end of JSON input"},
		{"not an array", `{"name": "note"}`, "cannot unmarshal object"},
		{"null", `null`, "the table is empty"},
		{"empty array", `[]`, "the table is empty"},
		{"null command", `[{"name": "note"}, null]`, "command 1 has no name"},
		{"nameless command", `[{"description": "x"}]`, "command 0 has no name"},
	} {
		_, err := RegisteredCommands([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
