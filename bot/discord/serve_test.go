package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/harness/fakediscord"
	"opsbot/snmp/snmptest"
	"opsbot/storage"
)

// These tests run the real opsbot binary against the fake Discord: a
// deferred answer pending when serve gets SIGTERM must still arrive.

var (
	buildOnce sync.Once
	binDir    string
	binary    harness.Binary
	buildErr  error
)

// opsbotBinary builds opsbot once, for the tests that run it only.
func opsbotBinary(t *testing.T) harness.Binary {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "opsbot-discord"); buildErr == nil {
			binary, buildErr = harness.Build(binDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// served is one running opsbot serve and its directory.
type served struct {
	*harness.Proc
	dir string
}

func serveOpsbot(t *testing.T, dir, cfg string) *served {
	t.Helper()
	return &served{Proc: opsbotBinary(t).Serve(t, dir, cfg), dir: dir}
}

// terminate sends SIGTERM and checks for a clean exit.
func (s *served) terminate(t *testing.T) {
	t.Helper()
	if err := s.Terminate(t, 30*time.Second); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, s.Logs)
	}
}

// outboxRows counts the outbox rows of the served SQLite database.
func (s *served) outboxRows(t *testing.T) []storage.OutboxMessage {
	t.Helper()
	st, err := storage.Open(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(s.dir, "ops.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []storage.OutboxMessage
	if err := st.DB.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// slowDeviceConfig is serve's config with Discord in mode and one device
// whose SNMP agent never answers (within timeout).
func slowDeviceConfig(mode, apiURL, publicKey string, snmpPort int, timeout time.Duration) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: debug}
database: {driver: sqlite, dsn: ops.db}
discord: {enabled: true, mode: %s, token: %q, application_id: %q, public_key: %q, api_url: %q}
people:
  - {name: alice, discord_id: %q, roles: [admin]}
devices:
  snmp: {version: 2c, community: public, port: %d, timeout: %s, retries: 0}
  inventory:
    - {name: slowdev, address: 127.0.0.1, kind: switch, site: lab}
`, mode, testToken, testApp, publicKey, apiURL, aliceID, snmpPort, timeout)
}

// deviceShow is the INTERACTION_CREATE (or HTTP body) of /device show slowdev.
func deviceShow(t *testing.T) (string, []byte) {
	t.Helper()
	id := nextID()
	b, err := json.Marshal(map[string]any{
		"id": id, "application_id": testApp, "type": 2, "token": "itoken-abc", "version": 1,
		"channel_id": channelID, "guild_id": guildID,
		"member": map[string]any{"user": map[string]any{"id": aliceID, "username": "alice"}},
		"data": map[string]any{"id": "800001", "name": "device", "type": 1, "options": []any{
			map[string]any{"name": "show", "type": 1, "options": []any{
				map[string]any{"name": "name", "type": 3, "value": "slowdev"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, b
}

// awaitQuery waits until the device has been asked: the answer is pending.
func awaitQuery(t *testing.T, dev *snmptest.Quiet) {
	t.Helper()
	select {
	case <-dev.Heard:
	case <-time.After(20 * time.Second):
		t.Fatal("the device was never asked")
	}
}

// checkAnsweredOnce checks that the deferred answer reached Discord once,
// as the edit of the original response, and that nothing else carries it.
func checkAnsweredOnce(t *testing.T, fake *fakediscord.Server, s *served) {
	t.Helper()
	edits, others := 0, 0
	for _, c := range fake.All() {
		switch {
		case c.Method == http.MethodPatch && c.Path == "/webhooks/"+testApp+"/itoken-abc/messages/@original":
			edits++
			if !strings.Contains(string(c.Raw), "slowdev") || !strings.Contains(string(c.Raw), "No SNMP answer within") {
				t.Errorf("the edit is not the device's answer: %s", c.Raw)
			}
		case strings.HasPrefix(c.Path, "/channels/") || strings.HasPrefix(c.Path, "/webhooks/"):
			others++
		}
	}
	if rows := s.outboxRows(t); edits != 1 || others != 0 || len(rows) != 0 {
		t.Fatalf("%d edits of the original response, %d other messages, outbox %+v; want the answer once\n%s", edits, others, rows, s.Logs)
	}
}

// TestServeSIGTERMDeliversDeferredAnswer runs opsbot serve in gateway mode
// and in HTTP mode, asks for a device whose SNMP agent does not answer,
// sends SIGTERM right after the deferral and finds the answer delivered
// exactly once before the process exits.
func TestServeSIGTERMDeliversDeferredAnswer(t *testing.T) {
	const snmpTimeout = 2 * time.Second
	t.Run("gateway", func(t *testing.T) {
		fake := newFake(t)
		gw := fakediscord.NewGateway(t, testToken, fakediscord.PrivilegedIntents)
		fake.SetGateway(gw.URL())
		dev := snmptest.StartQuiet(t)
		s := serveOpsbot(t, t.TempDir(), slowDeviceConfig("gateway", fake.URL(), "", dev.Port, snmpTimeout))
		gw.Await(t, "identify")
		id, body := deviceShow(t)
		var d map[string]any
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		gw.Dispatch("INTERACTION_CREATE", d)
		c := fake.WaitFor(t, "the deferral", func(c fakediscord.Call) bool { return strings.HasPrefix(c.Path, "/interactions/"+id+"/") })
		if c.Body["type"] != 5.0 {
			t.Fatalf("want a deferral (type 5), got %s", c.Raw)
		}
		awaitQuery(t, dev)
		s.terminate(t)
		if c := gw.Await(t, "close"); c.Code != 1000 {
			t.Fatalf("closed the session with %d, want 1000", c.Code)
		}
		checkAnsweredOnce(t, fake, s)
	})
	t.Run("gateway, Discord unreachable during shutdown", func(t *testing.T) {
		fake := newFake(t)
		gw := fakediscord.NewGateway(t, testToken, fakediscord.PrivilegedIntents)
		fake.SetGateway(gw.URL())
		dir := t.TempDir()
		dev := snmptest.StartQuiet(t)
		cfg := slowDeviceConfig("gateway", fake.URL(), "", dev.Port, snmpTimeout)
		s := serveOpsbot(t, dir, cfg)
		gw.Await(t, "identify")
		id, body := deviceShow(t)
		var d map[string]any
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		gw.Dispatch("INTERACTION_CREATE", d)
		fake.WaitFor(t, "the deferral", func(c fakediscord.Call) bool { return strings.HasPrefix(c.Path, "/interactions/"+id+"/") })
		fake.Status(http.StatusServiceUnavailable)
		awaitQuery(t, dev)
		s.terminate(t)
		rows := s.outboxRows(t)
		if len(rows) != 1 || rows[0].State != storage.OutboxPending || !strings.Contains(rows[0].Body, "No SNMP answer within") {
			t.Fatalf("outbox after shutdown %+v\n%s", rows, s.Logs)
		}
		// The next start delivers it, by direct message: the original
		// response may not be editable by then.
		fake.Status(0)
		next := serveOpsbot(t, dir, cfg)
		fake.WaitFor(t, "the direct message", func(c fakediscord.Call) bool {
			return c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/channels/300000000000000009/messages")
		})
		next.terminate(t)
		posts := 0
		for _, c := range fake.All() {
			if c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/channels/") && c.Body != nil {
				posts++
				if !strings.Contains(string(c.Raw), "No SNMP answer within") {
					t.Errorf("direct message %s", c.Raw)
				}
			}
		}
		if posts != 1 {
			t.Fatalf("%d messages posted, want the answer once", posts)
		}
	})
	t.Run("http", func(t *testing.T) {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		fake := newFake(t)
		dev := snmptest.StartQuiet(t)
		s := serveOpsbot(t, t.TempDir(), slowDeviceConfig("http", fake.URL(), hex.EncodeToString(pub), dev.Port, snmpTimeout))
		_, body := deviceShow(t)
		code, raw := s.PostDiscord(t, priv, body, time.Now())
		var r struct {
			Type int `json:"type"`
		}
		if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Type != 5 {
			t.Fatalf("want a deferral (type 5), got %d %s", code, raw)
		}
		awaitQuery(t, dev)
		s.terminate(t)
		checkAnsweredOnce(t, fake, s)
	})
}
