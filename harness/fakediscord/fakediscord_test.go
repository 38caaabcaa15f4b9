package fakediscord

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestForgetsNonces: a message with a nonce seen within the window is not
// posted again; after the window the nonce is forgotten, as on Discord.
func TestForgetsNonces(t *testing.T) {
	t.Parallel()
	f := New(t, "tok")
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return now })
	post := func() string {
		body, _ := json.Marshal(map[string]any{"content": "hi", "nonce": "n1", "enforce_nonce": true})
		req, _ := http.NewRequest(http.MethodPost, f.URL()+"/channels/200/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bot tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m["id"].(string)
	}
	first := post()
	now = now.Add(DefaultNonceWindow - time.Second)
	if again := post(); again != first || f.Posts()["n1"] != 1 {
		t.Fatalf("within the window: id %s vs %s, %d messages", again, first, f.Posts()["n1"])
	}
	now = now.Add(2 * time.Second)
	if later := post(); later == first || f.Posts()["n1"] != 2 {
		t.Fatalf("after the window: id %s vs %s, %d messages", later, first, f.Posts()["n1"])
	}
	for _, m := range f.Messages("200") {
		if _, ok := m["nonce"]; ok {
			t.Errorf("a listed message carries its nonce: %v", m)
		}
	}
	req, _ := http.NewRequest(http.MethodPatch, f.URL()+"/channels/200/messages/1", bytes.NewReader([]byte(`{"content":"x"}`)))
	req.Header.Set("Authorization", "Bot tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("edit of an unknown message: HTTP %d", resp.StatusCode)
	}
}
