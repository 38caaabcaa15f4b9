package shell

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/notify"
)

func echoRouter(t *testing.T) *bot.Router {
	t.Helper()
	r, err := bot.NewRouter(bot.NewDirectory(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now, bot.Command{
		Name: "echo", Summary: "say it back",
		Subs: []bot.Sub{{Args: []bot.Param{{Name: "text", Kind: bot.KindText, Required: true}},
			Run: func(_ context.Context, req *bot.Request) (bot.Reply, error) {
				return bot.Text("echo: " + req.String("text")), nil
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunSurvivesHugeLines: a pasted line of any size is answered with the
// length limit and the commands after it still run.
func TestRunSurvivesHugeLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, want string
	}{
		{"just over the limit", "/echo " + strings.Repeat("x", bot.MaxLineLength), "that command is 8006 characters long; the limit is 8000"},
		{"over the read buffer", "/echo " + strings.Repeat("x", 100_000), "that command is 100006 characters long; the limit is 8000"},
		{"multi-byte", "/echo " + strings.Repeat("é", 50_000), "that command is 50006 characters long; the limit is 8000"},
		{"no newline at the end", "/echo " + strings.Repeat("y", 70_000), "that command is 70006 characters long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := "/echo before\n" + tt.line + "\n/echo after\n"
			if tt.name == "no newline at the end" {
				in = "/echo before\n" + tt.line
			}
			var out bytes.Buffer
			a := &Adapter{Router: echoRouter(t), Person: bot.Person{Name: "zoe", Known: true}, Out: &out}
			if err := a.Run(context.Background(), strings.NewReader(in)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := out.String()
			if !strings.Contains(got, "echo: before") || !strings.Contains(got, tt.want) {
				t.Fatalf("output lacks the first reply or %q:\n%.300s", tt.want, got)
			}
			if tt.name != "no newline at the end" && !strings.Contains(got, "echo: after") {
				t.Fatalf("the command after the long line did not run:\n%.300s", got)
			}
			if len(got) > 2000 {
				t.Fatalf("the long line was echoed back (%d bytes of output)", len(got))
			}
		})
	}
}

func TestRenderIndentsMultiLineFooter(t *testing.T) {
	t.Parallel()
	got := Render(bot.Reply{Text: "x", Footer: "first\nsecond"})
	if want := "x\n  first\n  second\n"; got != want {
		t.Fatalf("Render = %q, want %q", got, want)
	}
}

func TestRenderMenus(t *testing.T) {
	t.Parallel()
	devices := []bot.Choice{{Label: "core-sw-1", Value: "core-sw-1"}, {Label: "core-sw-2", Value: "core-sw-2"},
		{Label: "core-sw-3", Value: "core-sw-3"}, {Label: "core-sw-4", Value: "core-sw-4"}}
	for _, tt := range []struct {
		name  string
		reply bot.Reply
		want  string
	}{
		{"type-ahead", bot.Reply{Title: "12 devices match \"core\"", Text: "core-sw-1 — 10.0.0.1",
			Menus: []bot.Menu{{Placeholder: "Show a device", Command: "/device show", Param: "name", Options: devices, TypeAhead: true}}},
			"12 devices match \"core\"\ncore-sw-1 — 10.0.0.1\n  Show a device: /device show NAME (e.g. core-sw-1, core-sw-2, core-sw-3, …)\n"},
		{"few", bot.Reply{Text: "Two requests", Menus: []bot.Menu{{Command: "/access show", Param: "id",
			Options: []bot.Choice{{Label: "#1 prod-db", Value: "1"}, {Label: "#2 vpn", Value: "2"}}}}},
			"Two requests\n  Pick one: /access show ID (e.g. 1, 2)\n"},
		{"typed only", bot.Reply{Text: "x", Menus: []bot.Menu{{Placeholder: "Open a ticket", Command: "/ticket show", Param: "n", TypeAhead: true}}},
			"x\n  Open a ticket: /ticket show N\n"},
		{"hostile values are shown quoted", bot.Reply{Text: "x", Menus: []bot.Menu{{Command: "/device show", Param: "name",
			Options: []bot.Choice{{Value: "x --role admin"}, {Value: `"; /access approve 1`}, {Value: "--interfaces"}}}}},
			"x\n  Pick one: /device show NAME (e.g. \"x --role admin\", \"\\\"; /access approve 1\", \"--interfaces\")\n"},
		{"invalid menu", bot.Reply{Text: "x", Menus: []bot.Menu{{Command: "device show", Param: "name", Options: devices}}}, "x\n"},
	} {
		if got := Render(tt.reply); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestRunStopsAtExit: exit and quit (with or without a slash, any case)
// end the session; the lines after them do not run.
func TestRunStopsAtExit(t *testing.T) {
	t.Parallel()
	for _, word := range []string{"exit", "quit", "/exit", "QUIT"} {
		var out bytes.Buffer
		a := &Adapter{Router: echoRouter(t), Person: bot.Person{Name: "zoe", Known: true}, Out: &out}
		if err := a.Run(context.Background(), strings.NewReader("/echo one\n  "+word+"  \n/echo two\n")); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "echo: one\n" {
			t.Errorf("%s: output %q, want only the first reply", word, got)
		}
	}
}

// TestSenderOneLineOwnOnly: a notification is one line; a direct message
// to someone other than the session's person is named, not shown, and goes
// to Others.
func TestSenderOneLineOwnOnly(t *testing.T) {
	t.Parallel()
	var out, others bytes.Buffer
	s := &Sender{Out: &out, Person: "carol", Others: &notify.LogSender{Log: slog.New(slog.NewTextHandler(&others, nil))}}
	card := bot.Reply{Title: "#1 VPN drops", Text: "Assign it\nwith /ticket assign 1", Fields: []bot.Field{{Name: "Status", Value: "new"}}}
	ref, err := s.Post(t.Context(), bot.Target{Platform: bot.Log, Name: "#helpdesk"}, bot.Outgoing{Reply: card})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Update(t.Context(), ref, bot.Outgoing{Reply: bot.Reply{Title: "#1 VPN drops", Text: "Resolved."}})
	_, _ = s.Post(t.Context(), bot.Target{Platform: bot.Log, Name: "@carol"}, bot.Outgoing{Reply: bot.Text("Your ticket #2 was resolved.")})
	_, _ = s.Post(t.Context(), bot.Target{Platform: bot.Log, Name: "@alice"}, bot.Outgoing{Reply: bot.Text("Your ticket #1 is assigned to @carol.")})
	want := "→ #helpdesk: #1 VPN drops: Assign it\n" +
		"→ #helpdesk (edited): #1 VPN drops: Resolved.\n" +
		"→ @carol: Your ticket #2 was resolved.\n" +
		"→ @alice: a direct message, theirs to read\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(others.String(), "Your ticket #1 is assigned to @carol.") || strings.Contains(others.String(), "#helpdesk") {
		t.Errorf("Others got %q, want alice's message alone", others.String())
	}
}
