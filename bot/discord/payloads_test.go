package discord

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"opsbot/storage/storagetest"
)

// payloadFixture is one file of testdata/payloads: an interaction in the
// shape Discord sends it (source names where the shape comes from) and the
// answer Discord expects.
type payloadFixture struct {
	Source string `json:"source"`
	Want   struct {
		Status    int      `json:"status"`
		Type      int      `json:"type"`
		Ephemeral bool     `json:"ephemeral"`
		Contains  []string `json:"contains"`
		Absent    []string `json:"absent"`
	} `json:"want"`
	Payload json.RawMessage `json:"payload"`
}

// loadPayloadFixture reads one file of testdata/payloads.
func loadPayloadFixture(t testing.TB, path string) payloadFixture {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fx payloadFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fx
}

// TestPayloadCompatibility sends every interaction kind Discord can send to
// POST /discord/interactions, signed, through the real handler, over the
// real tickets handler, and checks the answer: its status, its response
// type, that it is ephemeral where it must be, its text, and that it came
// well inside Discord's three seconds.
func TestPayloadCompatibility(t *testing.T) {
	e := newIntakeEnv(t, storagetest.Backends(t)[0])
	if r := e.Run("alice", `/ticket new "Printer on 3rd floor jams"`); !strings.Contains(r.Title, "#1") {
		t.Fatalf("setup: %+v", r)
	}
	files, err := filepath.Glob("testdata/payloads/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			fx := loadPayloadFixture(t, f)
			if fx.Source == "" {
				t.Fatal("fixture names no source")
			}
			var body bytes.Buffer
			if err := json.Compact(&body, fx.Payload); err != nil {
				t.Fatal(err)
			}
			// The answer is within Discord's 3 s by the adapter's budget
			// (tested with the budget itself), not by a clock here.
			rec := e.post(t, body.Bytes(), e.Clock.Now(), e.priv)
			if rec.Code != fx.Want.Status {
				t.Fatalf("status %d, want %d: %s", rec.Code, fx.Want.Status, rec.Body)
			}
			var resp struct {
				Type int `json:"type"`
				Data *struct {
					Flags           int             `json:"flags"`
					AllowedMentions json.RawMessage `json:"allowed_mentions"`
				} `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
			if resp.Type != fx.Want.Type {
				t.Errorf("response type %d, want %d: %s", resp.Type, fx.Want.Type, rec.Body)
			}
			if fx.Want.Ephemeral && (resp.Data == nil || resp.Data.Flags&64 == 0) {
				t.Errorf("answer is not ephemeral: %s", rec.Body)
			}
			if (resp.Type == 4 || resp.Type == 7) && (resp.Data == nil || !strings.HasPrefix(string(resp.Data.AllowedMentions), `{"parse":[]`)) {
				t.Errorf("a message without empty allowed_mentions: %s", rec.Body)
			}
			for _, s := range fx.Want.Contains {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("answer lacks %q: %s", s, rec.Body)
				}
			}
			for _, s := range fx.Want.Absent {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("answer has %q: %s", s, rec.Body)
				}
			}
		})
	}

	// What is not a well-formed, signed interaction is still refused.
	t.Run("malformed", func(t *testing.T) {
		for _, body := range []string{`{"type":2,`, `{"id":"1"}`, `[]`} {
			if rec := e.post(t, []byte(body), e.Clock.Now(), e.priv); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", body, rec.Code)
			}
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(nil)
		fx := loadPayloadFixture(t, "testdata/payloads/02-slash-guild.json")
		if rec := e.post(t, fx.Payload, e.Clock.Now(), other); rec.Code != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", rec.Code)
		}
	})
}

// TestModalSubmitDecodedByOpsbot reads every field of a modal built from
// current component types (Label 18, File Upload 19, Radio Group 21,
// Checkbox 23), which discordgo refuses to decode.
func TestModalSubmitDecodedByOpsbot(t *testing.T) {
	fx := loadPayloadFixture(t, "testdata/payloads/19-modal-submit-label.json")
	var plain discordgo.Interaction
	if json.Unmarshal(fx.Payload, &plain) == nil {
		t.Log("discordgo now decodes this modal itself; DecodeInteraction's own decoding may be retired")
	}
	it, err := DecodeInteraction(fx.Payload)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := it.Data.(ModalSubmit)
	if !ok || data.CustomID != "feedback_modal" || it.Message == nil || it.Message.ID != "700000000000000042" {
		t.Fatalf("data %#v message %+v", it.Data, it.Message)
	}
	want := map[string][]string{"summary": {"Printer jams"}, "priority": {"high"}, "screenshot": {"1400000000000000001"},
		"site": {"hq"}, "urgent": {"true"}}
	if got := data.Values(); !reflect.DeepEqual(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
}

// TestDecodeOnceMatchesCleaned: a body with no components, decoded once
// straight into discordgo's type, gives what the cleaning path gives, for
// every recorded payload and a built command with options.
func TestDecodeOnceMatchesCleaned(t *testing.T) {
	t.Parallel()
	bodies := map[string][]byte{
		"slash with options": slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, `say "components" here`))),
	}
	names, err := filepath.Glob("testdata/payloads/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no payload fixtures: %v", err)
	}
	for _, name := range names {
		bodies[filepath.Base(name)] = []byte(loadPayloadFixture(t, name).Payload)
	}
	once := 0
	for name, body := range bodies {
		got, gotErr := DecodeInteraction(body)
		want, wantErr := decodeCleaned(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: decoded once: %v; cleaned: %v", name, gotErr, wantErr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded once:\n%+v\ncleaned:\n%+v", name, got, want)
		}
		if !hasComponents(body) {
			once++
		}
	}
	if once < 5 {
		t.Fatalf("only %d bodies took the single decode; the comparison proves little", once)
	}
}
