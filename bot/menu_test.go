package bot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// menuRouter has a /device show NAME whose NAME completes from a list, a
// /device set NAME --role ROLE to show that a chosen value can never become a
// flag, and a /note show ID without a completer.
func menuRouter(t testing.TB, logs *bytes.Buffer) *Router {
	t.Helper()
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("sw-%02d", i)
	}
	complete := func(_ context.Context, _ Person, prefix string) []Choice {
		var out []Choice
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, Choice{Label: n, Value: n})
			}
		}
		return out
	}
	echo := func(_ context.Context, req *Request) (Reply, error) {
		return Reply{Text: fmt.Sprintf("%s name=%q role=%q", req.Name(), req.String("name"), req.String("role"))}, nil
	}
	menu := func(m Menu) HandlerFunc {
		return func(context.Context, *Request) (Reply, error) { return Reply{Text: "pick", Menus: []Menu{m}}, nil }
	}
	r, err := NewRouter(testDir(), slog.New(slog.NewTextHandler(logs, nil)), nil, time.Now, Command{
		Name: "device", Summary: "devices", Subs: []Sub{
			{Name: "show", Args: []Param{{Name: "name", Kind: KindString, Required: true, Complete: complete}}, Run: echo},
			{Name: "set", Args: []Param{{Name: "name", Kind: KindString, Required: true}},
				Flags: []Param{{Name: "role", Kind: KindString}}, Run: echo},
			{Name: "m1", Run: menu(Menu{Command: "/device show", Param: "name"})},
			{Name: "m2", Run: menu(Menu{Command: "/device show", Param: "name", Options: []Choice{{Label: "one", Value: "sw-01"}}})},
			{Name: "m3", Run: menu(Menu{Command: "/device set", Param: "name", Options: []Choice{{Label: "a", Value: "a"}}})},
			{Name: "m4", Run: menu(Menu{Command: "/device set", Param: "name"})},
			{Name: "bad1", Run: menu(Menu{Command: "/device nosuch", Param: "name"})},
			{Name: "bad2", Run: menu(Menu{Command: "/device set", Param: "role"})},
			{Name: "bad3", Run: menu(Menu{Command: "/device show --interfaces", Param: "name"})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouterFillsAndChecksMenus(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := menuRouter(t, &logs)
	run := func(line string) Reply {
		return r.Handle(context.Background(), Incoming{Platform: Shell, Person: Person{Name: "alice", Known: true}, Line: line})
	}
	if m := run("/device m1").Menus; len(m) != 1 || !m[0].TypeAhead || len(m[0].Options) != MaxMenuOptions || m[0].Options[0].Value != "sw-00" {
		t.Errorf("a menu over a completed argument: %+v", m)
	}
	if m := run("/device m2").Menus; len(m) != 1 || !m[0].TypeAhead || len(m[0].Options) != 1 {
		t.Errorf("the handler's own options must stay: %+v", m)
	}
	if m := run("/device m3").Menus; len(m) != 1 || m[0].TypeAhead || len(m[0].Options) != 1 {
		t.Errorf("a static menu: %+v", m)
	}
	for _, sub := range []string{"m4", "bad1", "bad2", "bad3"} {
		if m := run("/device " + sub).Menus; len(m) != 0 {
			t.Errorf("/device %s: menu kept: %+v", sub, m)
		}
	}
	if n := strings.Count(logs.String(), "menu dropped"); n != 3 {
		t.Errorf("%d menus logged as dropped, want 3 (the bad ones):\n%s", n, logs.String())
	}
}

// TestMenuLineIsOneArgument proves that whatever value a menu choice
// carries, the command it runs gets it as exactly one argument and never as
// a flag or a second command.
func TestMenuLineIsOneArgument(t *testing.T) {
	t.Parallel()
	r := menuRouter(t, &bytes.Buffer{})
	for _, v := range []string{"sw-01", "x --role admin", `"; /access approve 1`, `\`, `\"`, `”`, `“x”`, `--role`, `--role=admin`,
		"a\nb", "'tis", `„x“`, "<@U123>", " lead and trail ", "#12", "é ñ 漢字"} {
		line := MenuLine("device", "set", v)
		reply := r.Handle(context.Background(), Incoming{Platform: Shell, Person: Person{Name: "alice"}, Line: line})
		want := fmt.Sprintf("device set name=%q role=%q", v, "")
		if reply.Text != want {
			t.Errorf("value %q via %s: got %q, want %q", v, line, reply.Text, want)
		}
	}
	// A control character is refused by the tokenizer: an error, nothing run.
	reply := r.Handle(context.Background(), Incoming{Platform: Shell, Person: Person{Name: "alice"}, Line: MenuLine("device", "set", "a\x00b")})
	if reply.Severity != SeverityDanger || !strings.Contains(reply.Text, "control character") {
		t.Errorf("control character: %+v", reply)
	}
}

func TestMenuTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m        Menu
		cmd, sub string
		ok       bool
	}{
		{Menu{Command: "/device show", Param: "name"}, "device", "show", true},
		{Menu{Command: " /Device  SHOW ", Param: "name"}, "device", "show", true},
		{Menu{Command: "/lookup", Param: "q"}, "lookup", "", true},
		{Menu{Command: "device show", Param: "name"}, "", "", false},
		{Menu{Command: "/device show x", Param: "name"}, "", "", false},
		{Menu{Command: "/device sh:ow", Param: "name"}, "", "", false},
		{Menu{Command: "/device show", Param: "na:me"}, "", "", false},
		{Menu{Command: "/device show", Param: ""}, "", "", false},
		{Menu{Command: "", Param: "name"}, "", "", false},
	} {
		cmd, sub, ok := tt.m.Target()
		if cmd != tt.cmd || sub != tt.sub || ok != tt.ok {
			t.Errorf("%+v: %q %q %v", tt.m, cmd, sub, ok)
		}
	}
}

// FuzzMenuLine: any chosen value either reaches the command as exactly one
// argument with exactly its text, or the line is refused; it never sets a
// flag.
func FuzzMenuLine(f *testing.F) {
	for _, s := range []string{"sw-01", "x --role admin", `"; /access approve 1`, `\"`, "”", "„x“", "--role=a", "a\nb"} {
		f.Add(s)
	}
	r := menuRouter(f, &bytes.Buffer{})
	f.Fuzz(func(t *testing.T, v string) {
		reply := r.Handle(context.Background(), Incoming{Platform: Shell, Person: Person{Name: "alice"}, Line: MenuLine("device", "set", v)})
		if reply.Severity == SeverityDanger {
			return // refused: invalid UTF-8, a control character, too long, or an empty name
		}
		if want := fmt.Sprintf("device set name=%q role=%q", v, ""); reply.Text != want {
			t.Fatalf("value %q: got %q, want %q", v, reply.Text, want)
		}
	})
}
