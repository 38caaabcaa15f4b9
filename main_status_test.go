package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// statusConfig is the example config listening on a free port, with the
// status page's auth block replaced by auth.
func statusConfig(t *testing.T, auth string) string {
	t.Helper()
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?m)^listen: .*$`).ReplaceAllString(string(data), "listen: 127.0.0.1:0")
	cfg = regexp.MustCompile(`(?ms)^status_page:\n.*\z`).ReplaceAllString(cfg, "status_page:\n  enabled: true\n  refresh: 30s\n"+auth)
	return cfg
}

func (s *serveProc) fetch(t *testing.T, path string, hdr http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestStatusPageEndToEnd files a ticket and an access request with `opsbot
// shell`, starts the real `opsbot serve` on the same SQLite file and reads
// the status page and its JSON.
func TestStatusPageEndToEnd(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	in := "/ticket new \"Printer on fire\" --priority urgent\n/access request prod-db --for 2h --reason \"debug the replica\"\n"
	if out, stderr, code := opsbot(t, dir, in, "shell", "--config", "config.example.yaml", "--user", "dave"); code != 0 || !strings.Contains(out, "Requested #1") {
		t.Fatalf("seed: exit %d\n%s\n%s", code, out, stderr)
	}
	s := serve(t, dir, statusConfig(t, ""))
	code, hdr, page := s.fetch(t, "/", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s\n%s", code, hdr.Get("Content-Type"), page)
	}
	for _, want := range []string{"opsbot-health", "example-config", "never ran", `<meta http-equiv="refresh" content="30">`,
		`<tr><td>urgent</td><td class="num">1</td>`, "<b>1</b>access requests pending"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET / lacks %q", want)
		}
	}
	for _, never := range []string{"Printer on fire", "debug the replica", "dave@example.com", "<script"} {
		if strings.Contains(page, never) {
			t.Errorf("GET / shows %q", never)
		}
	}
	code, hdr, body := s.fetch(t, "/api/v1/status", nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /api/v1/status: %d %s", code, hdr.Get("Content-Type"))
	}
	var st struct {
		Checks []struct {
			Name    string `json:"name"`
			State   string `json:"state"`
			Latency []any  `json:"latency_24h"`
		} `json:"checks"`
		Backups []struct {
			Job       string `json:"job"`
			Freshness string `json:"freshness"`
		} `json:"backups"`
		Tickets struct {
			Open int `json:"open"`
		} `json:"tickets"`
		Access struct {
			Pending int `json:"pending"`
		} `json:"access"`
		Unavailable []string `json:"unavailable"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("decode %v:\n%s", err, body)
	}
	if len(st.Checks) != 1 || st.Checks[0].Name != "opsbot-health" || len(st.Checks[0].Latency) != 48 ||
		len(st.Backups) != 1 || st.Backups[0].Freshness != "stale" || st.Tickets.Open != 1 || st.Access.Pending != 1 || len(st.Unavailable) != 0 {
		t.Errorf("status %+v", st)
	}
	if code, _, body := s.fetch(t, "/incidents/1", nil); code != 404 || !strings.Contains(body, "There is no incident #1.") {
		t.Errorf("GET /incidents/1: %d %s", code, body)
	}
}

func TestStatusPageAuthEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	auth := "  auth:\n    basic: {user: ops, password: \"horse battery\"}\n    bearer: \"${STATUS_TOKEN:-0123456789abcdef-e2e}\"\n"
	s := serve(t, dir, statusConfig(t, auth))
	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	bearer := http.Header{"Authorization": {"Bearer 0123456789abcdef-e2e"}}
	tests := []struct {
		path string
		hdr  http.Header
		code int
	}{
		{"/", nil, 401},
		{"/", basic("ops", "horse batterY"), 401},
		{"/", basic("ops", "horse battery"), 200},
		{"/", bearer, 200},
		{"/api/v1/status", nil, 401},
		{"/api/v1/status", bearer, 200},
		{"/incidents/1", nil, 401},
		{"/metrics", nil, 401},
		{"/metrics", bearer, 200},
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
	}
	for _, tt := range tests {
		code, hdr, body := s.fetch(t, tt.path, tt.hdr)
		if code != tt.code {
			t.Errorf("GET %s (%v): %d, want %d", tt.path, tt.hdr != nil, code, tt.code)
		}
		if code == 401 && (hdr.Get("WWW-Authenticate") == "" || strings.Contains(body, "opsbot-health")) {
			t.Errorf("GET %s: 401 without a challenge, or with data", tt.path)
		}
	}
	if strings.Contains(s.logs.String(), "horse battery") || strings.Contains(s.logs.String(), "0123456789abcdef-e2e") {
		t.Error("a credential reached the log")
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code := opsbot(t, t.TempDir(), "", "version")
	if code != 0 || !strings.HasPrefix(out, "opsbot dev\n") || !strings.Contains(out, "go:       go1.") || !strings.Contains(out, "revision: ") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	if got := buildInfo("v1.2.3"); !strings.HasPrefix(got, "opsbot v1.2.3\n") {
		t.Errorf("buildInfo: %q", got)
	}
}
