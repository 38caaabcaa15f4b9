package slack

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"opsbot/storage/storagetest"
)

// TestSignedTicketNew runs the real /ticket new through a signed slash
// command: the ticket is stored and the reply names it; the same command
// with a forged signature is refused and stores nothing.
func TestSignedTicketNew(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			h := newIntakeHarness(t, b)
			form := url.Values{"team_id": {"T0"}, "channel_id": {"C0HELP"}, "user_id": {"U0ALICE"},
				"command": {"/ticket"}, "text": {`new "VPN drops every hour" --priority high`},
				"response_url": {"http://127.0.0.1:1/unused"}, "trigger_id": {"TN1"}}
			rec := h.postCommand(form, false)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "#1") {
				t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
			}
			ts := h.tickets()
			if len(ts) != 1 || ts[0].Summary != "VPN drops every hour" || ts[0].Priority != "high" || ts[0].Requester != "alice" {
				t.Fatalf("tickets = %+v", ts)
			}
			form.Set("trigger_id", "TN2")
			if rec := h.postCommand(form, true); rec.Code != http.StatusUnauthorized {
				t.Fatalf("forged: HTTP %d", rec.Code)
			}
			if n := len(h.tickets()); n != 1 {
				t.Fatalf("a forged request stored a ticket: %d tickets", n)
			}
		})
	}
}

// postCommand posts a slash-command form to /slack/commands, signed, or
// signed with the wrong secret when forged.
func (h *intakeHarness) postCommand(form url.Values, forged bool) *httptest.ResponseRecorder {
	body := form.Encode()
	secret := testSecret
	if forged {
		secret = "not-the-signing-secret"
	}
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	for k, v := range SignatureHeaders(secret, h.env.Clock.Now(), []byte(body)) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.http.ServeHTTP(rec, req)
	h.a.Wait()
	return rec
}
