package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackbot "opsbot/bot/slack"
	"opsbot/config"
	"opsbot/harness/fakediscord"
	"opsbot/harness/fakeslack"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// binary is opsbot built once for the tests that run the real program.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opsbot-reliability")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "opsbot")
	if out, err := exec.Command("go", "build", "-o", binary, "..").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build opsbot: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Secrets the served config holds; none may reach a log line or a reply.
const (
	signingSecret = "reliability-signing-SECRET-7f3a"
	discordToken  = "reliability-discord-TOKEN-91c2"
	webhookSecret = "reliability-webhook-SECRET-55e0"
	backupSecret  = "reliability-backup-SECRET-0d4b"
)

// site is everything one served opsbot needs: config, keys, fakes.
type site struct {
	dir     string
	db      config.DatabaseConfig
	slack   *fakeslack.Server
	discord *fakediscord.Server
	// lease is outbox.lease: how long a killed process's claims hold.
	lease   string
	pub     ed25519.PublicKey
	priv    ed25519.PrivateKey
	grants  string // file the access grant/revoke script appends to
	replies *responseSink
}

func newSite(t *testing.T, b storagetest.Backend) *site {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{dir: t.TempDir(), db: b.Config, slack: fakeslack.New(t, slackToken), discord: fakediscord.New(t, discordToken), lease: "15s", pub: pub, priv: priv, replies: newResponseSink(t)}
	if b.Config.Driver == "sqlite" {
		s.db.DSN = filepath.Join(s.dir, "ops.db")
	}
	s.grants = filepath.Join(s.dir, "grants.log")
	script := filepath.Join(s.dir, "access.sh")
	// The script records its argv and the request's environment, one line
	// per run; the first argument is fixed by the config.
	writeFile(t, script, "#!/bin/sh\nprintf '%s %s user=%s reason=%s\\n' \"$1\" \"$OPSBOT_REQUEST_ID\" \"$OPSBOT_USER\" \"$OPSBOT_REASON\" >> "+s.grants+"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// config is the YAML for this site: Slack and Discord on, their APIs
// pointing at loopback fakes, an access resource run by the script.
func (s *site) config() string {
	script := filepath.Join(s.dir, "access.sh")
	return fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: debug}
database: {driver: %s, dsn: %q}
outbox: {poll: 200ms, lease: %s}
slack: {enabled: true, mode: http, bot_token: %s, signing_secret: %s, api_url: %q}
discord: {enabled: true, mode: http, token: %s, application_id: "300000000000000001", public_key: %s, api_url: %q}
people:
  - {name: alice, slack_id: U01ALICE, discord_id: "100000000000000001", roles: [helpdesk, approver, oncall, admin]}
  - {name: bob, slack_id: U02BOB, discord_id: "100000000000000002", roles: [approver, oncall]}
  - {name: carol, slack_id: U03CAROL, discord_id: "100000000000000003", roles: [helpdesk]}
  - {name: dave, slack_id: U04DAVE, discord_id: "100000000000000004", roles: []}
  - {name: erin, slack_id: U05ERIN, discord_id: "100000000000000005", roles: []}
channels:
  helpdesk: {slack: C01HELP, discord: "200000000000000001"}
  access: {slack: C02ACCESS, discord: "200000000000000002"}
  ops: {slack: C03OPS, discord: "200000000000000003"}
tickets:
  queues: [{name: it, channel: helpdesk}]
access:
  resources:
    - {name: prod-db, roles: [read], approver_role: approver, approvals: 1, max_duration: 8h, channel: access,
       grant: {command: [%s, grant]}, revoke: {command: [%s, revoke]}}
    - {name: hook-db, roles: [read], approver_role: approver, approvals: 1, max_duration: 8h, channel: access,
       grant: {webhook: {url: "http://127.0.0.1:1/grant", secret: %s}}, revoke: {manual: true}}
backups:
  jobs:
    - {name: etc, command: [/bin/echo, fixed, argv], timeout: 1m, channel: ops, roles: [oncall], env: {TOKEN: %s}}
`, s.db.Driver, s.db.DSN, s.lease, slackToken, signingSecret, s.slack.URL(), discordToken, hex.EncodeToString(s.pub), s.discord.URL(),
		script, script, webhookSecret, backupSecret)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// proc is a running `opsbot serve`.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	logs   *syncBuffer
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

// serve starts `opsbot serve` on the site's config and waits until it
// listens; logs go to logs (shared across restarts when given).
func (s *site) serve(t *testing.T, logs *syncBuffer) *proc {
	t.Helper()
	path := filepath.Join(s.dir, "opsbot.yaml")
	writeFile(t, path, s.config())
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Dir = s.dir
	pr, pw := io.Pipe()
	if logs == nil {
		logs = &syncBuffer{}
	}
	p := &proc{cmd: cmd, logs: logs, exited: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(pw, logs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); pw.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
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
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("serve exited: %v\n%s", p.err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", logs)
	}
	return p
}

// slash sends a signed Slack slash command as the Slack user and returns
// the status and the text of the immediate answer.
func (p *proc) slash(t *testing.T, user, line string, responseURL string) (int, string) {
	t.Helper()
	name, text, _ := strings.Cut(line, " ")
	form := url.Values{"user_id": {user}, "channel_id": {"C01HELP"}, "command": {name}, "text": {text},
		"trigger_id": {randomID()}, "response_url": {responseURL}}
	return p.postSlack(t, "/slack/commands", []byte(form.Encode()), signingSecret, time.Now())
}

// click sends a signed Slack block_actions payload whose button value is
// line, as the Slack user.
func (p *proc) click(t *testing.T, user, line, responseURL string) (int, string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": randomID(), "response_url": responseURL,
		"user": map[string]string{"id": user}, "channel": map[string]string{"id": "C02ACCESS"},
		"container": map[string]string{"message_ts": "1700000000.000100"},
		"actions":   []map[string]any{{"action_id": "a", "value": line, "text": map[string]string{"text": "Approve"}}}})
	return p.postSlack(t, "/slack/interactions", []byte(url.Values{"payload": {string(payload)}}.Encode()), signingSecret, time.Now())
}

// trySlash is slash without a test: it returns transport errors.
func (p *proc) trySlash(user, line string) (int, string, error) {
	name, text, _ := strings.Cut(line, " ")
	body := []byte(url.Values{"user_id": {user}, "channel_id": {"C01HELP"}, "command": {name}, "text": {text},
		"trigger_id": {randomID()}}.Encode())
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/slack/commands", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range slackbot.SignatureHeaders(signingSecret, time.Now(), body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (p *proc) postSlack(t *testing.T, path string, body []byte, secret string, at time.Time) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range slackbot.SignatureHeaders(secret, at, body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

// discord sends an interaction body signed with key at the given time.
func (p *proc) discord(t *testing.T, key ed25519.PrivateKey, body []byte, at time.Time) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/discord/interactions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...))))
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

// button is a Discord component interaction whose custom_id is line,
// clicked by the Discord user.
func button(user, line string) []byte {
	b, _ := json.Marshal(map[string]any{"id": randomSnowflake(), "application_id": "300000000000000001", "type": 3,
		"token": "interaction-token", "version": 1, "channel_id": "200000000000000002",
		"member":  map[string]any{"user": map[string]any{"id": user, "username": "u"}},
		"data":    map[string]any{"custom_id": line, "component_type": 2},
		"message": map[string]any{"id": "400000000000000001", "channel_id": "200000000000000002"}})
	return b
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randomSnowflake() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprint(1_000_000_000_000_000 + int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]))
}

// responseSink is a loopback response_url: it keeps every message posted.
type responseSink struct {
	url  string
	mu   sync.Mutex
	msgs []string
}

func newResponseSink(t *testing.T) *responseSink {
	r := &responseSink{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.msgs = append(r.msgs, string(b))
		r.mu.Unlock()
	})}
	ln := listen(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/response"
	return r
}

// wait returns the first message containing want, or fails at the deadline.
func (r *responseSink) wait(t *testing.T, want string) string {
	t.Helper()
	return r.waitAny(t, want)
}

// waitAny returns the first message holding one of the |-separated
// alternatives, or fails at the deadline.
func (r *responseSink) waitAny(t *testing.T, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			if containsAny(m, want) {
				r.mu.Unlock()
				return m
			}
		}
		all := strings.Join(r.msgs, "\n")
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no response_url message with %q; got:\n%s", want, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *responseSink) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

// open connects to the site's database beside the running server.
func (s *site) open(t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), s.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rowCounts counts the rows of every table (the ones that change with time
// alone, such as leader heartbeats, left out).
func rowCounts(t *testing.T, st *storage.Store) map[string]int64 {
	t.Helper()
	tables, err := st.DB.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, tb := range tables {
		if strings.Contains(tb, "replica") || strings.Contains(tb, "leader") || strings.HasPrefix(tb, "sqlite_") {
			continue
		}
		var n int64
		if err := st.DB.Table(tb).Count(&n).Error; err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		counts[tb] = n
	}
	return counts
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
