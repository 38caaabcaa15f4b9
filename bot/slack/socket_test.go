package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"opsbot/config"
	"opsbot/harness/fakeslack"
	"opsbot/storage/storagetest"
)

const testAppToken = "xapp-1-A0-SECRETappTOKEN"

// envelope sends a slash command envelope and returns the acknowledgement.
func envelope(t *testing.T, c *websocket.Conn, id string, cmd Command) map[string]any {
	t.Helper()
	payload, _ := json.Marshal(cmd)
	if err := c.WriteJSON(map[string]any{"type": "slash_commands", "envelope_id": id, "payload": json.RawMessage(payload),
		"accepts_response_payload": true}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var ack map[string]any
	if err := c.ReadJSON(&ack); err != nil {
		t.Fatalf("read ack: %v", err)
	}
	return ack
}

func TestSocketModeAgainstFakeSlack(t *testing.T) {
	t.Parallel()
	f := fakeslack.New(t, testToken)
	f.SocketMode(testAppToken)
	h := newHarness(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	a := New(Options{Config: config.SlackConfig{Enabled: true, Mode: "socket", BotToken: config.Secret(testToken),
		AppToken: config.Secret(testAppToken), APIURL: f.URL()}, Router: h.a.router, Store: h.store,
		Clock: h.clock, Log: h.a.log, Budget: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", h.logs)
		}
	}()
	c := f.Conn(t)
	ack := envelope(t, c, "E1", Command{UserID: "U0ALICE", ChannelID: "C0HELP", Command: "/note", Text: "over the socket", TriggerID: "SOCK1"})
	if ack["envelope_id"] != "E1" || !strings.Contains(mustJSON(ack["payload"]), "over the socket") {
		t.Fatalf("ack = %v", ack)
	}
	// Slack drops the connection; the library reconnects and the same
	// router answers on the new one.
	c.Close()
	c = f.Conn(t)
	defer c.Close()
	ack = envelope(t, c, "E2", Command{UserID: "U0BOB", ChannelID: "C0HELP", Command: "/help", TriggerID: "SOCK2"})
	if ack["envelope_id"] != "E2" || !strings.Contains(mustJSON(ack["payload"]), "opsbot commands") {
		t.Fatalf("ack after reconnect = %v", ack)
	}
	if n := f.Opens(); n < 2 {
		t.Errorf("apps.connections.open called %d times, want a reconnect", n)
	}
	if rows := h.audit(); len(rows) != 1 || rows[0].Actor != "alice" {
		t.Errorf("audit = %+v", rows)
	}
	if strings.Contains(h.logs.String(), "SECRETappTOKEN") {
		t.Error("app token in logs")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
