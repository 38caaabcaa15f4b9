package action

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/proc"
)

func TestSignFormat(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("key", "1700000000.{}") computed independently with openssl:
	// printf '1700000000.{}' | openssl dgst -sha256 -hmac key
	got := Sign([]byte("key"), "1700000000", []byte("{}"))
	if got != "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae" {
		t.Fatalf("signature %q", got)
	}
	if !Verify([]byte("key"), "1700000000", []byte("{}"), got) || Verify([]byte("key"), "1700000001", []byte("{}"), got) {
		t.Fatal("verify does not bind the timestamp")
	}
}

func TestCommandOutcomes(t *testing.T) {
	t.Parallel()
	f := Fields{Action: "grant", RequestID: 7, Reason: "$(touch /tmp/x)"}
	cases := []struct {
		name    string
		argv    []string
		timeout time.Duration
		want    string
	}{
		{"ok", []string{"true"}, time.Second, ""},
		{"exit status and last line", []string{"sh", "-c", "echo first; echo 'no such role' >&2; exit 4"}, time.Second, "exit status 4: no such role"},
		{"timeout kills the group", []string{"sh", "-c", "sleep 30 & sleep 30"}, 200 * time.Millisecond, "timed out"},
		{"missing program", []string{"/nonexistent/grant"}, time.Second, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := &Runner{}
			// "timed out" says the action's timeout stopped the run; that it
			// takes the command's whole process group with it, children
			// holding its output included, is proc's tests' to prove.
			err := r.Run(context.Background(), config.Action{Command: c.argv, Timeout: config.Duration(c.timeout)}, f)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestManual(t *testing.T) {
	t.Parallel()
	if err := (&Runner{}).Run(context.Background(), config.Action{Manual: true}, Fields{}); !errors.Is(err, ErrManual) {
		t.Fatal(err)
	}
}

func TestWebhookErrorsHideQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	w := &config.Webhook{URL: srv.URL + "/grant?token=topsecret", Secret: "k"}
	err := (&Runner{}).Run(context.Background(), config.Action{Webhook: w, Timeout: config.Duration(time.Second)}, Fields{Action: "grant"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 302") || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v", err)
	}
	w.URL = "http://127.0.0.1:1/grant?token=topsecret"
	err = (&Runner{}).Run(context.Background(), config.Action{Webhook: w, Timeout: config.Duration(time.Second)}, Fields{Action: "grant"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkCommandAction measures one grant command run (fork+exec of true).
func BenchmarkCommandAction(b *testing.B) {
	r := &Runner{}
	a := config.Action{Command: []string{"true"}, Timeout: config.Duration(10 * time.Second)}
	f := Fields{Action: "grant", RequestID: 1, Resource: "prod-db", User: "dave"}
	for b.Loop() {
		if err := r.Run(context.Background(), a, f); err != nil {
			b.Fatal(err)
		}
	}
}

// A command gets the request as OPSBOT_* variables and none of opsbot's
// own environment. Not parallel: it sets the process environment.
func TestCommandEnvironment(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-must-not-leak")
	f := Fields{Action: "grant", RequestID: 7, Resource: "prod-db", Role: "read", User: "dave",
		Reason: "$(touch /tmp/x)", Approvers: []string{"bob", "carol"}, ExpiresAt: time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC), Attempt: 2}
	script := `test -z "$SLACK_BOT_TOKEN" || { echo "saw the token"; exit 1; }
test "$OPSBOT_ACTION $OPSBOT_REQUEST_ID $OPSBOT_RESOURCE $OPSBOT_ROLE $OPSBOT_USER" = "grant 7 prod-db read dave" || { echo "fields: $OPSBOT_ACTION $OPSBOT_REQUEST_ID"; exit 1; }
test "$OPSBOT_REASON|$OPSBOT_APPROVERS|$OPSBOT_EXPIRES_AT|$OPSBOT_ATTEMPT" = '$(touch /tmp/x)|bob,carol|2026-03-02T17:00:00Z|2' || { echo "reason: $OPSBOT_REASON"; exit 1; }
test -n "$PATH"`
	err := (&Runner{}).Run(context.Background(), config.Action{Command: []string{"sh", "-c", script}, Timeout: config.Duration(10 * time.Second)}, f)
	if err != nil {
		t.Fatal(err)
	}
}

// The error of a failed command reaches chat and the audit log: a secret
// of the config that the command printed is masked in it.
func TestCommandOutputMasked(t *testing.T) {
	t.Parallel()
	r := &Runner{Mask: proc.NewMasker("topsecret-webhook-key")}
	err := r.Run(context.Background(), config.Action{Command: []string{"sh", "-c", "echo 'key topsecret-webhook-key refused' >&2; exit 2"},
		Timeout: config.Duration(10 * time.Second)}, Fields{Action: "revoke"})
	if err == nil || err.Error() != "revoke sh: exit status 2: key **** refused" {
		t.Fatalf("err = %v", err)
	}
}
