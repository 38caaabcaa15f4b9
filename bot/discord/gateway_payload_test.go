package discord

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"opsbot/harness/fakediscord"
	"opsbot/storage/storagetest"
)

// TestGatewayDecodesModalsItself: over the gateway as over HTTP, a modal
// submit holding component types discordgo does not know (Label, 18) is
// decoded by opsbot and answered, not dropped as undecodable.
func TestGatewayDecodesModalsItself(t *testing.T) {
	env := newGatewayEnv(t, storagetest.Backends(t)[0], fakediscord.PrivilegedIntents)
	start(t, env.adapter)
	env.gw.Await(t, "identify")
	raw, err := os.ReadFile("testdata/payloads/19-modal-submit-label.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	fx.Payload["token"] = "itoken-abc"
	id := fx.Payload["id"].(string)
	env.gw.Dispatch("INTERACTION_CREATE", fx.Payload)
	if c := env.callback(t, id); c.Body["type"] != 4.0 || !strings.Contains(string(c.Raw), "not one of opsbot") {
		t.Fatalf("answer to a modal submit over the gateway: %s", c.Raw)
	}
}
