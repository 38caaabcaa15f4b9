package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// binary is the opsbot binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opsbot-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "opsbot")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build opsbot: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// opsbot runs the binary with stdin and returns stdout, stderr and the exit code.
func opsbot(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// exampleConfig copies config.example.yaml into a fresh directory, so the
// SQLite file it names lands there.
func exampleConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.example.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestShellEndToEnd(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	in := "/help\n\n# a comment\n/tiket list\n/help ticket\n/help nosuch\n/x \"unterminated\n"
	out, stderr, code := opsbot(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
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
	dir := exampleConfig(t)
	in := "/help\n/ticket new \"" + strings.Repeat("x", 100_000) + "\"\n/ticket list\n"
	out, stderr, code := opsbot(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
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
	dir := exampleConfig(t)
	in := "/device lookup " + strings.Repeat("a", 200000) + "\n/help device\n" + strings.Repeat("b", 9000) + "\n/help backup"
	out, stderr, code := opsbot(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "alice")
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
	dir := exampleConfig(t)
	_, stderr, code := opsbot(t, dir, "/help\n", "shell", "--config", "config.example.yaml", "--user", "mallory")
	if code != 2 || !strings.Contains(stderr, `nobody called "mallory"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = opsbot(t, dir, "", "shell", "--config", "config.example.yaml")
	if code != 2 || !strings.Contains(stderr, "--user NAME is required") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, stderr, code := opsbot(t, dir, "", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown subcommand: exit %d, %q", code, stderr)
	}
	for _, sub := range [][]string{{"serve"}, {"shell"}, {"migrate"}, {"config", "check"}} {
		_, stderr, code := opsbot(t, dir, "", append(sub, "--help")...)
		if code != 0 || !strings.Contains(stderr, "Usage: opsbot "+sub[0]) {
			t.Errorf("%v --help: exit %d, %q", sub, code, stderr)
		}
	}
	if out, _, code := opsbot(t, dir, "", "version"); code != 0 || !strings.HasPrefix(out, "opsbot ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	out, _, code := opsbot(t, dir, "", "config", "check", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "config OK" {
		t.Fatalf("example config: exit %d, %q", code, out)
	}
	bad := `listen: nowhere
database: {driver: oracle}
people:
  - {name: alice, slack_id: U1}
  - {name: alice, slack_id: U2}
checks:
  - {name: web, kind: http, url: "http://127.0.0.1/", intervall: 30s, channel: ops}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = opsbot(t, dir, "", "config", "check", "--config", "bad.yaml")
	if code != 1 {
		t.Fatalf("bad config: exit %d, %q", code, out)
	}
	for _, want := range []string{"listen:", "database.driver:", "people[1].name:", "checks[0].intervall:"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	out, stderr, code := opsbot(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || !strings.Contains(out, "applied 0100_baseline") {
		t.Fatalf("first migrate: exit %d, %q %q", code, out, stderr)
	}
	out, _, code = opsbot(t, dir, "", "migrate", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "database is up to date" {
		t.Fatalf("second migrate: exit %d, %q", code, out)
	}
}

// TestMigrateAdoptsLegacyDatabase: `opsbot migrate` on a SQLite file made
// before migrations were frozen adopts it; on one whose schema drifted it
// exits non-zero and lists the differences.
func TestMigrateAdoptsLegacyDatabase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fixture, want string
		code          int
	}{
		{"legacy0090", "applied 0100_baseline (adopted", 0},
		{"drifted0090", "missing: column outbox_messages.uncertain", 1},
	} {
		dir := exampleConfig(t)
		dump, err := os.ReadFile(filepath.Join("storage", "testdata", c.fixture, "sqlite.sql"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.Connect(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "opsbot.db")})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Exec(string(dump)).Error; err != nil {
			t.Fatal(err)
		}
		st.Close()
		out, stderr, code := opsbot(t, dir, "", "migrate", "--config", "config.example.yaml")
		if code != c.code || !strings.Contains(out+stderr, c.want) {
			t.Errorf("%s: exit %d, want %d and %q\nstdout: %s\nstderr: %s", c.fixture, code, c.code, c.want, out, stderr)
		}
	}
}

// serveProc is a running `opsbot serve`.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	// exited is closed when the process has exited, with err its result.
	exited chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRe = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// serve starts `opsbot serve` with the config text in dir and waits until
// it listens.
func serve(t *testing.T, dir, cfg string) *serveProc {
	t.Helper()
	path := filepath.Join(dir, "opsbot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	s := &serveProc{cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(pw, s.logs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); pw.Close(); close(s.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-addr:
	case <-s.exited:
		t.Fatalf("serve exited: %v\n%s", s.err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", s.logs)
	}
	return s
}

func (s *serveProc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeHealthMetricsAndShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// With the status page off, GET / is the plain-text facts (the page
	// itself is tested in main_status_test.go).
	s := serve(t, dir, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\nstatus_page: {enabled: false}\n")
	if code, body := s.get(t, "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := s.get(t, "/readyz"); code != 200 || !strings.Contains(body, "database: ok") {
		t.Errorf("/readyz %d %q", code, body)
	}
	// GET / is the status page DESIGN.md promises; other paths stay 404.
	if code, body := s.get(t, "/"); code != 200 || !strings.Contains(body, "opsbot") || !strings.Contains(body, "database: ok") ||
		!strings.Contains(body, "leader: ") || !strings.Contains(body, "/metrics") {
		t.Errorf("/ %d %q", code, body)
	}
	if code, _ := s.get(t, "/nope"); code != 404 {
		t.Errorf("/nope %d, want 404", code)
	}
	code, body := s.get(t, "/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics %d", code)
	}
	// The SQLite file gone is a database gone; back is ready again.
	db := filepath.Join(dir, "ops.db")
	if err := os.Rename(db, db+".away"); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz without the database: %d, want 503", code)
	}
	if err := os.Rename(db+".away", db); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz with the database back: %d, want 200", code)
	}
	resp, err := http.Post("http://"+s.addr+"/healthz", "text/plain", strings.NewReader("x"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz: %d", resp.StatusCode)
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
		if s.err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", s.err, s.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(s.logs.String(), "opsbot stopped") {
		t.Errorf("no clean stop in logs:\n%s", s.logs)
	}
}

// TestReadyzFollowsPostgres puts a TCP proxy between opsbot and PostgreSQL,
// cuts it, and restores it: /readyz must say 503, then 200 again.
func TestReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()
	pg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	target := pgAddr(t, os.Getenv("OPSBOT_TEST_POSTGRES"))
	p := newProxy(t, target)
	dsn := regexp.MustCompile(`host=\S+`).ReplaceAllString(pg.DSN, "host=127.0.0.1")
	dsn = regexp.MustCompile(`port=\S+`).ReplaceAllString(dsn, "")
	dsn += " port=" + p.port
	s := serve(t, t.TempDir(), fmt.Sprintf("listen: 127.0.0.1:0\ndatabase: {driver: postgres, dsn: %q}\n", dsn))
	if code, _ := s.get(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz %d before the cut", code)
	}
	p.stop()
	if code, _ := s.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz with PostgreSQL unreachable: %d, want 503", code)
	}
	p.start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _ := s.get(t, "/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after PostgreSQL came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pgAddr(t *testing.T, dsn string) string {
	host, port := "127.0.0.1", "5432"
	if m := regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(dsn); m != nil {
		host = m[1]
	}
	if m := regexp.MustCompile(`port=(\d+)`).FindStringSubmatch(dsn); m != nil {
		port = m[1]
	}
	return net.JoinHostPort(host, port)
}

// proxy forwards a loopback port to PostgreSQL and can be cut and restored.
type proxy struct {
	target, port string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p.port, _ = net.SplitHostPort(ln.Addr().String())
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+p.port)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestSecondSQLiteServerRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\n"
	first := serve(t, dir, cfg)
	out, stderr, code := opsbot(t, dir, "", "serve", "--config", "opsbot.yaml")
	if code != 1 || !strings.Contains(stderr, "SQLite allows one replica") {
		t.Fatalf("second serve: exit %d\n%s%s", code, out, stderr)
	}
	if code, body := first.get(t, "/readyz"); code != 200 || !strings.Contains(body, "leader: yes") {
		t.Errorf("/readyz of the only replica: %d %q", code, body)
	}
	out, _, code = opsbot(t, dir, "", "status", "--config", "opsbot.yaml")
	if code != 0 || !strings.Contains(out, "REPLICA") || !strings.Contains(out, " yes ") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

// TestTicketsThroughShell walks a ticket through its life with the real
// binary, one `opsbot shell` per person on one SQLite file: dave files,
// bob (no helpdesk role) is refused, carol works it, dave reopens.
func TestTicketsThroughShell(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
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
		out, stderr, code := opsbot(t, dir, s.in, "shell", "--config", "config.example.yaml", "--user", s.user)
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
