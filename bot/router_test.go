package bot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouterReplies(t *testing.T) {
	t.Parallel()
	r := fuzzRouter(t)
	alice := Person{Name: "alice", Known: true}
	tests := []struct {
		line     string
		contains []string
		severity Severity
	}{
		{"/help", []string{"/ticket", "Helpdesk tickets", "/access"}, SeverityNone},
		{"/help ticket", []string{`/ticket new "SUMMARY" [--priority low|normal|high|urgent] [--for DURATION]`, "/ticket assign N @PERSON"}, SeverityNone},
		{"/ticket help", []string{"/ticket list [--mine] [--limit NUMBER]"}, SeverityNone},
		{"/ticket", []string{"/ticket new"}, SeverityNone},
		{"/ticket new --help", []string{"Usage: /ticket new"}, SeverityNone},
		{"/tiket new x", []string{"/tiket is not a command. Did you mean /ticket?"}, SeverityDanger},
		{"/ticket lst", []string{"/ticket lst is not a command. Did you mean /ticket list?"}, SeverityDanger},
		{"/ticket assign twelve @bob", []string{"must be a number", "Usage: /ticket assign N @PERSON"}, SeverityDanger},
		{`/ticket new "unterminated`, []string{"never closed", "Usage: /ticket new"}, SeverityDanger},
		{"/help nosuch", []string{"/nosuch is not a command"}, SeverityDanger},
		{"TICKET NEW printer on fire", []string{"ok ticket new"}, SeverityNone},
		{"/ticket assign #3 <@U01ALICE>", []string{"ok ticket assign"}, SeverityNone},
		{"", []string{"type a command such as /help"}, SeverityDanger},
	}
	for _, tt := range tests {
		reply := r.Handle(context.Background(), Incoming{Platform: Shell, Person: alice, Line: tt.line})
		text := reply.Title + "\n" + reply.Text
		for _, c := range tt.contains {
			if !strings.Contains(text, c) {
				t.Errorf("%q: reply %q lacks %q", tt.line, text, c)
			}
		}
		if reply.Severity != tt.severity {
			t.Errorf("%q: severity %q, want %q", tt.line, reply.Severity, tt.severity)
		}
	}
}

func TestRouterErrorsAndRoles(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	r, err := NewRouter(testDir(), slog.New(slog.NewTextHandler(&logs, nil)), reg, time.Now, Command{
		Name: "x", Summary: "test",
		Subs: []Sub{
			{Name: "user", Run: func(context.Context, *Request) (Reply, error) { return Reply{}, Errorf("ticket #9 does not exist") }},
			{Name: "deny", Run: func(context.Context, *Request) (Reply, error) { return Reply{}, Forbiddenf("not yours") }},
			{Name: "boom", Run: func(context.Context, *Request) (Reply, error) {
				return Reply{}, errors.New("db password=hunter2 failed")
			}},
			{Name: "panic", Run: func(context.Context, *Request) (Reply, error) { panic("nil map") }},
			{Name: "admin", Roles: []string{"admin"}, Run: func(context.Context, *Request) (Reply, error) { return Text("done"), nil }},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(line string, p Person) Reply {
		return r.Handle(context.Background(), Incoming{Platform: Shell, Person: p, Line: line})
	}
	bob := Person{Name: "bob"}
	if got := run("/x user", bob); got.Text != "ticket #9 does not exist" {
		t.Errorf("user error reply %q", got.Text)
	}
	if got := run("/x boom", bob); !strings.Contains(got.Text, "reference") || strings.Contains(got.Text, "hunter2") {
		t.Errorf("internal error reply %q", got.Text)
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Error("internal error not logged")
	}
	if got := run("/x panic", bob); !strings.Contains(got.Text, "reference") {
		t.Errorf("panic reply %q", got.Text)
	}
	if got := run("/x admin", bob); !strings.Contains(got.Text, "needs the admin role") {
		t.Errorf("role reply %q", got.Text)
	}
	if got := run("/x admin", Person{Name: "root", Roles: []string{"admin"}}); got.Text != "done" {
		t.Errorf("admin reply %q", got.Text)
	}
	run("/x deny", bob)
	if n := testutil.ToFloat64(r.total.WithLabelValues("x admin", "denied")); n != 1 {
		t.Errorf("denied count %v", n)
	}
	if n := testutil.ToFloat64(r.total.WithLabelValues("x deny", "denied")); n != 1 {
		t.Errorf("forbidden count %v", n)
	}
	if n := testutil.ToFloat64(r.total.WithLabelValues("x panic", "error")); n != 1 {
		t.Errorf("panic count %v", n)
	}
}

func TestRouterCollisions(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *Request) (Reply, error) { return Reply{}, nil }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := NewRouter(testDir(), log, nil, time.Now, Command{Name: "a", Subs: []Sub{{Name: "x", Run: h}}}, Command{Name: "a", Subs: []Sub{{Name: "y", Run: h}}}); err == nil {
		t.Error("duplicate command accepted")
	}
	if _, err := NewRouter(testDir(), log, nil, time.Now, Command{Name: "a", Subs: []Sub{{Name: "x", Run: h}, {Name: "x", Run: h}}}); err == nil {
		t.Error("duplicate subcommand accepted")
	}
	if _, err := NewRouter(testDir(), log, nil, time.Now, Command{Name: "help", Subs: []Sub{{Run: h}}}); err == nil {
		t.Error("second /help accepted")
	}
}

func TestSlowCall(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *Request) (Reply, error) { return Text("looked up"), nil }
	r, err := NewRouter(testDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now, Command{Name: "device", Subs: []Sub{
		{Name: "show", Slow: true, Args: []Param{{Name: "name", Kind: KindString, Required: true}},
			Ack: func(req *Request) string { return "Looking up " + req.String("name") + "…" }, Run: h},
	}})
	if err != nil {
		t.Fatal(err)
	}
	call := r.Parse(Incoming{Line: "/device show core-sw-1"})
	if !call.Slow() || call.AckText() != "Looking up core-sw-1…" {
		t.Fatalf("slow=%v ack=%q", call.Slow(), call.AckText())
	}
	if bad := r.Parse(Incoming{Line: "/device show"}); bad.Slow() {
		t.Error("a parse error must not be treated as slow work")
	}
}
