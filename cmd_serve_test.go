package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"opsbot/harness"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestServeHealthMetricsAndShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// With the status page off, GET / is the plain-text facts (the page
	// itself is tested below).
	s := binary.Serve(t, dir, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\nstatus_page: {enabled: false}\n")
	if code, body := s.Get(t, "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := s.Get(t, "/readyz"); code != 200 || !strings.Contains(body, "database: ok") {
		t.Errorf("/readyz %d %q", code, body)
	}
	// GET / is the status page DESIGN.md promises; other paths stay 404.
	if code, body := s.Get(t, "/"); code != 200 || !strings.Contains(body, "opsbot") || !strings.Contains(body, "database: ok") ||
		!strings.Contains(body, "leader: ") || !strings.Contains(body, "/metrics") {
		t.Errorf("/ %d %q", code, body)
	}
	if code, _ := s.Get(t, "/nope"); code != 404 {
		t.Errorf("/nope %d, want 404", code)
	}
	// As config.example.yaml says of status_page.enabled: false.
	for _, path := range []string{"/api/v1/status", "/incidents/1"} {
		if code, _ := s.Get(t, path); code != 404 {
			t.Errorf("%s with the status page off: %d, want 404", path, code)
		}
	}
	code, body := s.Get(t, "/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics %d", code)
	}
	// The SQLite file gone is a database gone; back is ready again.
	db := filepath.Join(dir, "ops.db")
	if err := os.Rename(db, db+".away"); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.Get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz without the database: %d, want 503", code)
	}
	if err := os.Rename(db+".away", db); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.Get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz with the database back: %d, want 200", code)
	}
	resp, err := http.Post("http://"+s.Addr+"/healthz", "text/plain", strings.NewReader("x"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz: %d", resp.StatusCode)
		}
	}
	if err := s.Terminate(t, 20*time.Second); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", err, s.Logs)
	}
	if !strings.Contains(s.Logs.String(), "opsbot stopped") {
		t.Errorf("no clean stop in logs:\n%s", s.Logs)
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
	p := harness.NewProxy(t, os.Getenv("OPSBOT_TEST_POSTGRES"))
	dsn := p.DSN(pg.DSN)
	s := binary.Serve(t, t.TempDir(), fmt.Sprintf("listen: 127.0.0.1:0\ndatabase: {driver: postgres, dsn: %q}\n", dsn))
	if code, _ := s.Get(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz %d before the cut", code)
	}
	p.Stop()
	if code, _ := s.Get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz with PostgreSQL unreachable: %d, want 503", code)
	}
	p.Start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _ := s.Get(t, "/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after PostgreSQL came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeLogsNotifications: with no platform configured, serve delivers
// its own notifications as log lines (a failing check opens an incident),
// and leaves another process's log sink messages alone.
func TestServeLogsNotifications(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A closed port: the check fails at once and opens an incident.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	harness.WriteFile(t, filepath.Join(dir, "seed.yaml"), "database: {driver: sqlite, dsn: ops.db}\n")
	if out, errOut, code := binary.Run(t, dir, "", "migrate", "--config", "seed.yaml"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	foreign := logMessage("t:9", storage.OutboxPending)
	foreign.Lane = "log/another-process:#helpdesk"
	seedOutbox(t, filepath.Join(dir, "ops.db"), foreign)
	s := binary.Serve(t, dir, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\noutbox: {poll: 100ms}\n"+
		"channels: {ops: {slack: C0OPS}}\nchecks:\n  - {name: db-port, kind: tcp, address: \""+closed+"\", every: 1s, timeout: 1s, channel: ops, failures: 1}\n")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.Logs.String(), `msg=notification to=#ops key=incident:`) {
		if time.Now().After(deadline) {
			t.Fatalf("no notification log line:\n%s", s.Logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The log line comes from inside the send; the count follows its commit.
	for {
		_, body := s.Get(t, "/metrics")
		if strings.Contains(body, `opsbot_outbox_sent_total{platform="log"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack the sent notification:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.Logs.String(), "t:9@log") {
		t.Errorf("serve delivered another process's log sink message:\n%s", s.Logs)
	}
	out, _, _ := binary.Run(t, dir, "", "outbox", "list", "--config", "opsbot.yaml", "--state", "pending")
	if !strings.Contains(out, "t:9@log") {
		t.Errorf("another process's log sink message is no longer pending:\n%s", out)
	}
}

// TestServeSlackCommands runs the real binary with Slack enabled and sends
// it slash commands signed the way Slack signs them.
func TestServeSlackCommands(t *testing.T) {
	t.Parallel()
	const secret = "e2e-signing-secret-value"
	s := binary.Serve(t, t.TempDir(), `listen: 127.0.0.1:0
database: {driver: sqlite, dsn: ops.db}
slack: {enabled: true, mode: http, bot_token: xoxb-e2e-token-value, signing_secret: `+secret+`, api_url: "http://127.0.0.1:1/api/"}
`)
	post := func(body []byte, key string) (int, string) {
		return s.PostSlack(t, "/slack/commands", body, key, time.Now())
	}
	form := harness.Slash("U0E2E", "C0E2E", "/help", "", "e2e-1")
	if code, body := post(form, secret); code != 200 || !strings.Contains(body, "opsbot commands") {
		t.Errorf("signed /help: %d %s", code, body)
	}
	if code, _ := post(form, "forged"); code != 401 {
		t.Errorf("forged /help: %d, want 401", code)
	}
	if code, body := post(form, secret); code != 200 || !strings.Contains(body, "opsbot commands") {
		t.Errorf("retried /help: %d %q, want the first answer again", code, body)
	}
	s.Terminate(t, 20*time.Second)
	if logs := s.Logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, "xoxb-e2e-token-value") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

// statusConfig is the example config listening on a free port, with the
// status page's auth block replaced by auth.
func statusConfig(t *testing.T, auth string) string {
	t.Helper()
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?m)^listen: .*$`).ReplaceAllString(string(data), "listen: 127.0.0.1:0")
	cfg = regexp.MustCompile(`(?ms)^status_page:\n.*\z`).ReplaceAllString(cfg, "status_page:\n  enabled: true\n  refresh: 30s\n"+auth)
	return cfg
}

// TestStatusPageEndToEnd files a ticket and an access request with `opsbot
// shell`, starts the real `opsbot serve` on the same SQLite file and reads
// the status page and its JSON.
func TestStatusPageEndToEnd(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	in := "/ticket new \"Printer on fire\" --priority urgent\n/access request prod-db --for 2h --reason \"debug the replica\"\n"
	if out, stderr, code := binary.Run(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "dave"); code != 0 || !strings.Contains(out, "Requested #1") {
		t.Fatalf("seed: exit %d\n%s\n%s", code, out, stderr)
	}
	s := binary.Serve(t, dir, statusConfig(t, ""))
	code, hdr, page := s.Fetch(t, "/", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s\n%s", code, hdr.Get("Content-Type"), page)
	}
	for _, want := range []string{"opsbot-health", "example-config", "never ran", `<meta http-equiv="refresh" content="30">`,
		`<tr><td>urgent</td><td class="num">1</td>`, "<b>1</b>access requests pending"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET / lacks %q", want)
		}
	}
	for _, never := range []string{"Printer on fire", "debug the replica", "dave@example.com", "<script"} {
		if strings.Contains(page, never) {
			t.Errorf("GET / shows %q", never)
		}
	}
	code, hdr, body := s.Fetch(t, "/api/v1/status", nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /api/v1/status: %d %s", code, hdr.Get("Content-Type"))
	}
	var st struct {
		Checks []struct {
			Name    string `json:"name"`
			State   string `json:"state"`
			Latency []any  `json:"latency_24h"`
		} `json:"checks"`
		Backups []struct {
			Job       string `json:"job"`
			Freshness string `json:"freshness"`
		} `json:"backups"`
		Tickets struct {
			Open int `json:"open"`
		} `json:"tickets"`
		Access struct {
			Pending int `json:"pending"`
		} `json:"access"`
		Unavailable []string `json:"unavailable"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("decode %v:\n%s", err, body)
	}
	if len(st.Checks) != 1 || st.Checks[0].Name != "opsbot-health" || len(st.Checks[0].Latency) != 48 ||
		len(st.Backups) != 1 || st.Backups[0].Freshness != "stale" || st.Tickets.Open != 1 || st.Access.Pending != 1 || len(st.Unavailable) != 0 {
		t.Errorf("status %+v", st)
	}
	if code, _, body := s.Fetch(t, "/incidents/1", nil); code != 404 || !strings.Contains(body, "There is no incident #1.") {
		t.Errorf("GET /incidents/1: %d %s", code, body)
	}
}

func TestStatusPageAuthEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	auth := "  auth:\n    basic: {user: ops, password: \"horse battery\"}\n    bearer: \"${STATUS_TOKEN:-0123456789abcdef-e2e}\"\n"
	s := binary.Serve(t, dir, statusConfig(t, auth))
	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	bearer := http.Header{"Authorization": {"Bearer 0123456789abcdef-e2e"}}
	tests := []struct {
		path string
		hdr  http.Header
		code int
	}{
		{"/", nil, 401},
		{"/", basic("ops", "horse batterY"), 401},
		{"/", basic("ops", "horse battery"), 200},
		{"/", bearer, 200},
		{"/api/v1/status", nil, 401},
		{"/api/v1/status", bearer, 200},
		{"/incidents/1", nil, 401},
		{"/metrics", nil, 401},
		{"/metrics", bearer, 200},
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
	}
	for _, tt := range tests {
		code, hdr, body := s.Fetch(t, tt.path, tt.hdr)
		if code != tt.code {
			t.Errorf("GET %s (%v): %d, want %d", tt.path, tt.hdr != nil, code, tt.code)
		}
		if code == 401 && (hdr.Get("WWW-Authenticate") == "" || strings.Contains(body, "opsbot-health")) {
			t.Errorf("GET %s: 401 without a challenge, or with data", tt.path)
		}
	}
	if strings.Contains(s.Logs.String(), "horse battery") || strings.Contains(s.Logs.String(), "0123456789abcdef-e2e") {
		t.Error("a credential reached the log")
	}
}

func TestServeDiscordInteractions(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: ops.db}\n"+
		"discord: {enabled: true, mode: http, token: %q, application_id: \"500000000000000001\", public_key: %q, api_url: \"http://127.0.0.1:1/api\"}\n",
		e2eDiscordToken, hex.EncodeToString(pub))
	s := binary.Serve(t, t.TempDir(), cfg)
	send := func(body string, key ed25519.PrivateKey, at time.Time) (int, string) {
		return s.PostDiscord(t, key, []byte(body), at)
	}
	if code, body := send(`{"type":1}`, priv, time.Now()); code != 200 || strings.TrimSpace(body) != `{"type":1}` {
		t.Fatalf("PING: %d %s", code, body)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if code, _ := send(`{"type":1}`, other, time.Now()); code != 401 {
		t.Fatalf("forged: %d", code)
	}
	if code, _ := send(`{"type":1}`, priv, time.Now().Add(-10*time.Minute)); code != 401 {
		t.Fatalf("stale: %d", code)
	}
	help := `{"id":"1","type":2,"token":"t","channel_id":"2","member":{"user":{"id":"100000000000000001"}},"data":{"name":"help","options":[]}}`
	code, body := send(help, priv, time.Now())
	var resp struct {
		Type int `json:"type"`
		Data struct {
			Flags  int `json:"flags"`
			Embeds []struct {
				Title string `json:"title"`
			} `json:"embeds"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || resp.Type != 4 || resp.Data.Flags != 64 ||
		len(resp.Data.Embeds) != 1 || resp.Data.Embeds[0].Title != "opsbot commands" {
		t.Fatalf("/help: %d %s", code, body)
	}
	if strings.Contains(s.Logs.String(), e2eDiscordToken) {
		t.Fatalf("the token reached the log:\n%s", s.Logs)
	}
}
