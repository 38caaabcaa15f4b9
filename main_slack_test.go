package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	slackbot "opsbot/bot/slack"
)

// TestServeSlackCommands runs the real binary with Slack enabled and sends
// it slash commands signed the way Slack signs them.
func TestServeSlackCommands(t *testing.T) {
	t.Parallel()
	const secret = "e2e-signing-secret-value"
	s := serve(t, t.TempDir(), `listen: 127.0.0.1:0
database: {driver: sqlite, dsn: ops.db}
slack: {enabled: true, mode: http, bot_token: xoxb-e2e-token-value, signing_secret: `+secret+`, api_url: "http://127.0.0.1:1/api/"}
`)
	post := func(body, key string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/slack/commands", strings.NewReader(body))
		for k, v := range slackbot.SignatureHeaders(key, time.Now(), []byte(body)) {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"user_id": {"U0E2E"}, "channel_id": {"C0E2E"}, "command": {"/help"}, "trigger_id": {"e2e-1"}}.Encode()
	if code, body := post(form, secret); code != 200 || !strings.Contains(body, "opsbot commands") {
		t.Errorf("signed /help: %d %s", code, body)
	}
	if code, _ := post(form, "forged"); code != 401 {
		t.Errorf("forged /help: %d, want 401", code)
	}
	if code, body := post(form, secret); code != 200 || !strings.Contains(body, "opsbot commands") {
		t.Errorf("retried /help: %d %q, want the first answer again", code, body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if logs := s.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, "xoxb-e2e-token-value") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}
