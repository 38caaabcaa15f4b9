package reliability

import (
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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/harness/fakediscord"
	"opsbot/harness/fakeslack"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// binary is opsbot built once for the tests that run the real program.
var binary harness.Binary

func TestMain(m *testing.M) { harness.Main(m, &binary) }

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
	harness.WriteFile(t, script, "#!/bin/sh\nprintf '%s %s user=%s reason=%s\\n' \"$1\" \"$OPSBOT_REQUEST_ID\" \"$OPSBOT_USER\" \"$OPSBOT_REASON\" >> "+s.grants+"\n")
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

// proc is a running `opsbot serve` of a site, with the site's people's
// ways of talking to it.
type proc struct{ *harness.Proc }

// serve starts `opsbot serve` on the site's config and waits until it
// listens; logs go to logs (shared across restarts when given).
func (s *site) serve(t *testing.T, logs *harness.Buffer) *proc {
	t.Helper()
	if logs == nil {
		logs = &harness.Buffer{}
	}
	return &proc{binary.ServeLogs(t, s.dir, s.config(), logs)}
}

// slash sends a signed Slack slash command as the Slack user and returns
// the status and the text of the immediate answer.
func (p *proc) slash(t *testing.T, user, line string, responseURL string) (int, string) {
	t.Helper()
	return p.PostSlack(t, "/slack/commands", harness.Slash(user, "C01HELP", line, responseURL, harness.RandomHex(8)), signingSecret, time.Now())
}

// click sends a signed Slack block_actions payload whose button value is
// line, as the Slack user.
func (p *proc) click(t *testing.T, user, line, responseURL string) (int, string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": harness.RandomHex(8), "response_url": responseURL,
		"user": map[string]string{"id": user}, "channel": map[string]string{"id": "C02ACCESS"},
		"container": map[string]string{"message_ts": "1700000000.000100"},
		"actions":   []map[string]any{{"action_id": "a", "value": line, "text": map[string]string{"text": "Approve"}}}})
	return p.PostSlack(t, "/slack/interactions", []byte(url.Values{"payload": {string(payload)}}.Encode()), signingSecret, time.Now())
}

// trySlash is slash without a test: it returns transport errors.
func (p *proc) trySlash(user, line string) (int, string, error) {
	req, err := harness.SlackRequest(p.URL("/slack/commands"), signingSecret, time.Now(), harness.Slash(user, "C01HELP", line, "", harness.RandomHex(8)))
	if err != nil {
		return 0, "", err
	}
	return harness.Send(http.DefaultClient, req)
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
