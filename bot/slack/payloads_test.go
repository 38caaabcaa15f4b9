package slack

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"opsbot/storage/storagetest"
)

// payloadFixture is one file of testdata/payloads: a request in the shape
// Slack sends it (source names where the shape comes from) to one of
// opsbot's endpoints, and the answer Slack expects. A slash command is a
// form, an interaction a form whose payload field holds JSON, an event a
// JSON body.
type payloadFixture struct {
	Source  string            `json:"source"`
	Path    string            `json:"path"`
	Form    map[string]string `json:"form"`
	Payload json.RawMessage   `json:"payload"`
	JSON    json.RawMessage   `json:"json"`
	Want    struct {
		Status   int      `json:"status"`
		Empty    bool     `json:"empty"`
		JSON     bool     `json:"json"`
		Contains []string `json:"contains"`
	} `json:"want"`
}

// body is the fixture's request body as Slack sends it, with the
// response_url pointing at hooks.
func (f payloadFixture) body(t *testing.T, hooks string) (string, string) {
	t.Helper()
	switch {
	case f.Form != nil:
		v := url.Values{}
		for k, s := range f.Form {
			v.Set(k, strings.ReplaceAll(s, "{{response_url}}", hooks))
		}
		return v.Encode(), "application/x-www-form-urlencoded"
	case f.Payload != nil:
		var b bytes.Buffer
		if err := json.Compact(&b, f.Payload); err != nil {
			t.Fatal(err)
		}
		p := strings.ReplaceAll(b.String(), "{{response_url}}", hooks)
		return url.Values{"payload": {p}}.Encode(), "application/x-www-form-urlencoded"
	case f.JSON != nil:
		var b bytes.Buffer
		if err := json.Compact(&b, f.JSON); err != nil {
			t.Fatal(err)
		}
		return b.String(), "application/json"
	}
	t.Fatal("fixture has no form, payload or json")
	return "", ""
}

// TestPayloadCompatibility sends every kind of request Slack can send to
// opsbot's endpoints (/slack/commands, /slack/interactions, /slack/events),
// signed, through the real handler over the real tickets handler, and
// checks the answer: status, body shape, and that it came well inside
// Slack's three seconds. Background work (replies to response_url, thread
// comments) is waited for, so a panic or an error there shows too.
func TestPayloadCompatibility(t *testing.T) {
	h := newIntakeHarness(t, storagetest.Backends(t)[0])
	var mu sync.Mutex
	var posted []string
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		posted = append(posted, b.String())
		mu.Unlock()
	}))
	t.Cleanup(hooks.Close)
	files, err := filepath.Glob("testdata/payloads/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var fx payloadFixture
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatal(err)
			}
			if fx.Source == "" || fx.Path == "" {
				t.Fatal("fixture names no source or path")
			}
			body, ctype := fx.body(t, hooks.URL+"/commands/T0001/1/abc")
			req := httptest.NewRequest(http.MethodPost, fx.Path, strings.NewReader(body))
			for k, v := range SignatureHeaders(testSecret, h.env.Clock.Now(), []byte(body)) {
				req.Header[k] = v
			}
			req.Header.Set("Content-Type", ctype)
			rec := httptest.NewRecorder()
			// The answer is within Slack's 3 s by the adapter's budget
			// (tested with the budget itself), not by a clock here.
			h.http.ServeHTTP(rec, req)
			h.a.Wait()
			if rec.Code != fx.Want.Status {
				t.Fatalf("status %d, want %d: %s", rec.Code, fx.Want.Status, rec.Body)
			}
			got := rec.Body.String()
			if fx.Want.Empty && got != "" {
				t.Errorf("want an empty body, got %s", got)
			}
			if fx.Want.JSON && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("answer is not JSON: %s", got)
			}
			for _, s := range fx.Want.Contains {
				if !strings.Contains(got, s) {
					t.Errorf("answer lacks %q: %s", s, got)
				}
			}
		})
	}
	// What is not a well-formed, signed request is still refused.
	send := func(path, body, secret string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		for k, v := range SignatureHeaders(secret, h.env.Clock.Now(), []byte(body)) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.http.ServeHTTP(rec, req)
		h.a.Wait()
		return rec.Code
	}
	for _, c := range []struct{ path, body, secret string }{
		{"/slack/commands", "user_id=U0ALICE&text=list", testSecret},
		{"/slack/interactions", "payload=%7B", testSecret},
		{"/slack/interactions", "nothing=here", testSecret},
		{"/slack/events", `{"type":`, testSecret},
	} {
		if code := send(c.path, c.body, c.secret); code != http.StatusBadRequest {
			t.Errorf("malformed %s %q: status %d, want 400", c.path, c.body, code)
		}
	}
	for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
		if code := send(path, "ssl_check=1", "not-the-secret"); code != http.StatusUnauthorized {
			t.Errorf("bad signature on %s: status %d, want 401", path, code)
		}
	}

	// The clicks from a message and from an ephemeral message were answered
	// at their response_url with the ticket they show.
	mu.Lock()
	defer mu.Unlock()
	shown := 0
	for _, p := range posted {
		if strings.Contains(p, "Printer jams") && strings.Contains(p, `"replace_original":true`) {
			shown++
		}
	}
	if shown != 2 {
		t.Errorf("%d response_url updates showing ticket #1, want 2: %q", shown, posted)
	}
	// Besides those, only the message shortcut answered there: what opsbot
	// did not make ran nothing and said nothing.
	if len(posted) != 3 || !strings.Contains(strings.Join(posted, "\n"), "ticket #2") {
		t.Errorf("response_url posts: %q", posted)
	}
}
