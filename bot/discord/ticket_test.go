package discord

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestSignedTicketNew runs the real /ticket new through a signed
// interaction: the ticket is stored and the reply names it; the same
// interaction signed with another key is refused and stores nothing.
func TestSignedTicketNew(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env := newIntakeEnv(t, b)
			interaction := func() []byte {
				body, _ := json.Marshal(map[string]any{"id": nextID(), "application_id": testApp, "type": 2, "token": "itoken-new",
					"version": 1, "channel_id": channelID, "member": map[string]any{"user": map[string]any{"id": aliceID}},
					"data": map[string]any{"id": "1", "name": "ticket", "type": 1, "options": []any{map[string]any{
						"type": 1, "name": "new", "options": []any{
							map[string]any{"type": 3, "name": "summary", "value": `VPN "drops" every hour`},
							map[string]any{"type": 3, "name": "priority", "value": "high"},
						}}}}})
				return body
			}
			rec := env.post(t, interaction(), env.Clock.Now(), env.priv)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "#1") {
				t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
			}
			var ts []storage.Ticket
			env.Deps.Store.DB.Find(&ts)
			if len(ts) != 1 || ts[0].Summary != `VPN "drops" every hour` || ts[0].Priority != "high" || ts[0].Requester != "alice" {
				t.Fatalf("tickets = %+v", ts)
			}
			_, other, _ := ed25519.GenerateKey(nil)
			if rec := env.post(t, interaction(), env.Clock.Now(), other); rec.Code != http.StatusUnauthorized {
				t.Fatalf("forged: HTTP %d", rec.Code)
			}
			env.Deps.Store.DB.Find(&ts)
			if len(ts) != 1 {
				t.Fatalf("a forged interaction stored a ticket: %d tickets", len(ts))
			}
		})
	}
}
