package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage"
)

func TestShellEndToEnd(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	in := "/help\n\n# a comment\n/tiket list\n/help ticket\n/help nosuch\n/x \"unterminated\n"
	out, stderr, code := binary.Run(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"opsbot commands", "/help", "/tiket is not a command", "/nosuch is not a command", "is never closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
	}
}

// TestShellHugeLine: a pasted line far over the limit gets the limit as its
// answer and the shell goes on with the next line, exit 0.
func TestShellHugeLine(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	in := "/help\n/ticket new \"" + strings.Repeat("x", 100_000) + "\"\n/ticket list\n"
	out, stderr, code := binary.Run(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
	if code != 0 || strings.Contains(stderr, "ERROR") {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	for _, want := range []string{"opsbot commands", "that command is 100014 characters long; the limit is 8000", "No tickets match"} {
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%.500s", want, out)
		}
	}
}

// TestShellLongLine: a line past any limit is refused like any bad command,
// and the shell goes on with the next one.
func TestShellLongLine(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	in := "/device lookup " + strings.Repeat("a", 200000) + "\n/help device\n" + strings.Repeat("b", 9000) + "\n/help backup"
	out, stderr, code := binary.Run(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%.500s\nstderr:\n%.500s", code, out, stderr)
	}
	for _, want := range []string{"that command is 200015 characters long; the limit is 8000", "/device lookup QUERY",
		"that command is 9000 characters long", "/backup run JOB"} {
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%.2000s", want, out)
		}
	}
	if len(out) > 20000 {
		t.Errorf("the shell echoed the long lines: %d bytes of output", len(out))
	}
}

func TestShellUnknownUser(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	_, stderr, code := binary.Run(t, dir, "/help\n", "shell", "--config", "config.example.yaml", "--user", "mallory")
	if code != 2 || !strings.Contains(stderr, `nobody called "mallory"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = binary.Run(t, dir, "", "shell", "--config", "config.example.yaml")
	if code != 2 || !strings.Contains(stderr, "--user NAME is required") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestTicketsThroughShell walks a ticket through its life with the real
// binary, one `opsbot shell` per person on one SQLite file: dave files,
// bob (no helpdesk role) is refused, carol works it, dave reopens.
func TestTicketsThroughShell(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	steps := []struct {
		user, in string
		want     []string
	}{
		{"dave", "/ticket new \"VPN drops every hour\" --priority high --category network\n/ticket list\n",
			[]string{"Filed ticket #1: VPN drops every hour", "Priority:           high", "it / network", "#1  new"}},
		{"bob", "/ticket show 1\n/ticket take 1\n/ticket list\n",
			[]string{"ticket #1 not found or not yours", "/ticket take needs the helpdesk role", "No tickets match"}},
		{"carol", "/ticket list --open\n/ticket take #1\n/ticket comment 1 \"Reinstall the client please\"\n/ticket close 1\n/ticket resolve 1 \"Reinstalled\"\n",
			[]string{"#1  new", "Ticket #1 is assigned to @carol", "Commented on #1", "resolve it first", "Resolved ticket #1"}},
		{"dave", "/ticket reopen 1\n/ticket show 1\n/ticket show 99\n",
			[]string{"Reopened ticket #1", "@carol commented: Reinstall the client please", "@dave reopened it [resolved → open]",
				"ticket #99 does not exist; /ticket list shows yours"}},
	}
	for _, s := range steps {
		out, stderr, code := binary.Run(t, dir, s.in, "shell", "--config", "config.example.yaml", "--user", s.user)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", s.user, code, out, stderr)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", s.user, w, out)
			}
		}
	}
}

// TestShellAccessRequest drives an access request through the real binary,
// one shell session per person, on the example config (a manual grant).
func TestShellAccessRequest(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	steps := []struct{ user, in, want string }{
		{"dave", "/access request prod-db --for 9h --reason \"debug\"\n", "the maximum is 8h"},
		{"dave", "/access request prod-db --for 2h --reason \"debug $(id)\"\n", "Requested #1: prod-db (read) for 2h"},
		{"dave", "/access approve 1\n", "You cannot approve your own request #1"},
		{"carol", "/access approve 1\n", "There is no access request #1 you can see"},
		{"bob", "/access approve 1\n", "grants it by hand and confirms with /access done 1"},
		{"bob", "/access done 1\n", "Marked #1 granted"},
		{"dave", "/access list --mine\n", "#1 prod-db (read) for @dave, 2h: active"},
		{"alice", "/access audit prod-db\n", "access.grant"},
	}
	for _, s := range steps {
		out, stderr, code := binary.Run(t, dir, s.in, "shell", "--config", "config.example.yaml", "--user", s.user)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("%s: %q: exit %d\nstdout:\n%s\nstderr:\n%s\nwant %q", s.user, s.in, code, out, stderr, s.want)
		}
	}
}

// TestShellPrintsNotifications: with no platform enabled, the shell prints
// the notifications its own commands queued, at once, and never those of
// another process.
func TestShellPrintsNotifications(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, stderr, code := binary.Run(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, stderr)
	}
	cfg, err := config.Load(filepath.Join(dir, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dsn := cfg.Database.DSN
	if !filepath.IsAbs(dsn) {
		dsn = filepath.Join(dir, dsn)
	}
	foreign := logMessage("t:5", storage.OutboxPending)
	foreign.Lane = "log/another-process:#helpdesk"
	seedOutbox(t, dsn, foreign)
	out, stderr, code = binary.Run(t, dir, "/ticket new \"VPN drops\"\n/help\n", "shell", "--config", "config.example.yaml", "--user", "alice")
	card := strings.Index(out, "→ #helpdesk: #1 VPN drops: Assign it with /ticket assign 1 @PERSON.\n")
	if code != 0 || card < 0 || card > strings.Index(out, "opsbot commands") {
		t.Fatalf("want the card, one line, before the next command's reply; exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if strings.Contains(out, "Ticket #1\n    VPN drops") || strings.Contains(out, "queued for") || strings.Count(out, "Status:") != 1 {
		t.Errorf("the shell printed another process's message or queued one for a platform:\n%s", out)
	}
	out, _, _ = binary.Run(t, dir, "", "outbox", "list", "--config", "config.example.yaml")
	if !regexp.MustCompile(`pending +log #helpdesk +t:5@log`).MatchString(out) {
		t.Errorf("another process's log sink message is no longer pending:\n%s", out)
	}
}

// TestShellSessionSeesItsOwn: carol works alice's ticket; carol's session
// shows the queue card's edits one line each and names the direct messages
// to alice without showing them, and ends its last reply with a newline.
func TestShellSessionSeesItsOwn(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	if out, stderr, code := binary.Run(t, dir, "/ticket new \"VPN drops\"\n", "shell", "--config", "config.example.yaml", "--user", "alice"); code != 0 {
		t.Fatalf("alice: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code := binary.Run(t, dir, "/ticket take 1\n/ticket resolve 1", "shell", "--config", "config.example.yaml", "--user", "carol")
	if code != 0 {
		t.Fatalf("carol: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"→ #helpdesk (edited): #1 VPN drops", "→ @alice: a direct message, theirs to read"} {
		if !strings.Contains(out, want) {
			t.Errorf("carol's session lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Your ticket #1") || strings.Count(out, "→") != 4 {
		t.Errorf("carol's session shows alice's messages, or not one line per notification:\n%s", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the last reply does not end with a newline: %q", out[max(0, len(out)-80):])
	}
}

// TestShellPipedAndInteractive: piped input gets replies only (no banner,
// no prompt), and exit ends it; at a terminal (a pseudo-terminal made by
// script(1)) the shell greets the person with the config, prompts, keeps
// info log lines out of the replies, and leaves at exit.
func TestShellPipedAndInteractive(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, _, code := binary.Run(t, dir, "/help device\nexit\n/help\n", "shell", "--config", "config.example.yaml", "--user", "bob")
	if code != 0 || strings.Contains(out, "opsbot shell") || strings.Contains(out, "opsbot>") ||
		!strings.Contains(out, "/device lookup") || strings.Contains(out, "opsbot commands") {
		t.Fatalf("piped: exit %d, want the /help device reply alone:\n%s", code, out)
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed; it makes the terminal")
	}
	cmd := exec.Command(script, "-qec", string(binary)+" shell --config config.example.yaml --user bob", "/dev/null")
	cmd.Dir = dir
	// The terminal echoes the typed lines whenever script passes them on,
	// before or after the banner and prompt: look for each part alone.
	cmd.Stdin = strings.NewReader("/help device\nexit\n/help\n")
	raw, err := cmd.CombinedOutput()
	tty := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if err != nil {
		t.Fatalf("script: %v\n%s", err, tty)
	}
	for _, want := range []string{"opsbot shell — you are bob (roles approver, oncall)", "config config.example.yaml, database sqlite opsbot.db",
		"exit, quit or Ctrl-D", "opsbot> ", "/device — Look up devices"} {
		if !strings.Contains(tty, want) {
			t.Errorf("interactive output lacks %q:\n%s", want, tty)
		}
	}
	if strings.Contains(tty, "level=INFO") || strings.Contains(tty, "opsbot commands") {
		t.Errorf("interactive output has info log lines, or ran a line after exit:\n%s", tty)
	}
}
