package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/clock"
	"opsbot/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newPage(t *testing.T, cfg config.StatusPageConfig, src Sources) *Page {
	t.Helper()
	p, err := New(cfg, src, clock.NewFake(now), quiet())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGolden(t *testing.T) {
	t.Parallel()
	src, inc := fixture()
	p := newPage(t, config.StatusPageConfig{Enabled: true, Refresh: config.Duration(time.Minute)}, src)
	st := Collect(context.Background(), src, now, quiet())
	page, err := p.RenderPage(st)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "page.html", page)
	in, err := p.RenderIncident(inc.detail, now)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "incident.html", in)
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "status.json", append(js, '\n'))

	// An empty install: nothing configured, nothing recorded, no incidents.
	empty := Collect(context.Background(), Sources{Checks: fakeChecks(nil), Backups: fakeBackups(nil),
		Tickets: fakeTickets{}, Access: fakeAccess{}, Changes: fakeChanges{}}, now, quiet())
	page, err = newPage(t, config.StatusPageConfig{Enabled: true}, Sources{}).RenderPage(empty)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "empty.html", page)
}

func TestPageEscapes(t *testing.T) {
	t.Parallel()
	src, _ := fixture()
	p := newPage(t, config.StatusPageConfig{}, src)
	page, err := p.RenderPage(Collect(context.Background(), src, now, quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "timeout <b>") || !strings.Contains(string(page), "timeout &lt;b&gt;") {
		t.Error("an error message's markup reached the page unescaped")
	}
	if strings.Contains(string(page), "http-equiv") {
		t.Error("refresh 0 still refreshes")
	}
}

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	src, _ := fixture()
	mux := http.NewServeMux()
	mount(mux, newPage(t, config.StatusPageConfig{Enabled: true}, src))
	noInc := http.NewServeMux()
	src.Incidents = nil
	mount(noInc, newPage(t, config.StatusPageConfig{Enabled: true}, src))
	tests := []struct {
		name string
		h    http.Handler
		path string
		code int
		want string
	}{
		{"page", mux, "/", 200, "1 check failing, 2 incidents open"},
		{"api", mux, "/api/v1/status", 200, `"overall": "failing"`},
		{"incident", mux, "/incidents/7", 200, "looking &lt;now&gt;"},
		{"incident with hash", mux, "/incidents/%237", 200, "Incident #7: db-port"},
		{"unknown incident", mux, "/incidents/8", 404, "There is no incident #8."},
		{"not a number", mux, "/incidents/abc", 404, "&#34;abc&#34; is not an incident number"},
		{"negative", mux, "/incidents/-1", 404, "is not an incident number"},
		{"too big", mux, "/incidents/99999999999999999999", 404, "is not an incident number"},
		{"markup in number", mux, "/incidents/%3Cscript%3E", 404, "&lt;script&gt;"},
		{"other path", mux, "/nope", 404, ""},
		{"no incidents kept", noInc, "/incidents/7", 404, "not recorded"},
		{"no incidents on page", noInc, "/", 200, "Not available: incidents."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := get(t, tt.h, tt.path, nil)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("GET %s: %d, want %d with %q:\n%s", tt.path, w.Code, tt.code, tt.want, w.Body)
			}
			if tt.code == 200 && w.Header().Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
			if strings.Contains(w.Body.String(), "<script") {
				t.Error("the page has a script")
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", w.Code)
	}
	var st Status
	if err := json.Unmarshal(get(t, mux, "/api/v1/status", nil).Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Checks) != 3 || st.Tickets.Breached != 1 || st.Access.Pending != 3 || len(st.Incidents) != 2 {
		t.Errorf("api status %+v", st)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	src, _ := fixture()
	basic := config.StatusAuth{Basic: &config.BasicAuth{User: "ops", Password: "s3cret-pass"}}
	bearer := config.StatusAuth{Bearer: "0123456789abcdef-token"}
	both := config.StatusAuth{Basic: basic.Basic, Bearer: bearer.Bearer}
	b64 := func(u, p string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name  string
		auth  config.StatusAuth
		authz string
		code  int
	}{
		{"open", config.StatusAuth{}, "", 200},
		{"basic missing", basic, "", 401},
		{"basic right", basic, b64("ops", "s3cret-pass"), 200},
		{"basic wrong password", basic, b64("ops", "s3cret-pasS"), 401},
		{"basic wrong user", basic, b64("opz", "s3cret-pass"), 401},
		{"basic prefix of password", basic, b64("ops", "s3cret"), 401},
		{"basic garbage", basic, "Basic !!!", 401},
		{"bearer to basic", basic, "Bearer s3cret-pass", 401},
		{"bearer right", bearer, "Bearer 0123456789abcdef-token", 200},
		{"bearer lower-case scheme", bearer, "bearer 0123456789abcdef-token", 200},
		{"bearer wrong", bearer, "Bearer 0123456789abcdef-tokem", 401},
		{"bearer empty", bearer, "Bearer ", 401},
		{"basic to bearer", bearer, b64("ops", "0123456789abcdef-token"), 401},
		{"both: basic", both, b64("ops", "s3cret-pass"), 200},
		{"both: bearer", both, "Bearer 0123456789abcdef-token", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mount(mux, newPage(t, config.StatusPageConfig{Enabled: true, Auth: tt.auth}, src))
			for _, path := range []string{"/", "/api/v1/status", "/incidents/7", "/incidents/x"} {
				w := get(t, mux, path, map[string]string{"Authorization": tt.authz})
				want := tt.code
				if want == 200 && path == "/incidents/x" {
					want = 404
				}
				if w.Code != want {
					t.Errorf("GET %s: %d, want %d", path, w.Code, want)
				}
				if w.Code == 401 {
					if w.Header().Get("WWW-Authenticate") == "" {
						t.Errorf("GET %s: 401 without WWW-Authenticate", path)
					}
					if strings.Contains(w.Body.String(), "db-port") {
						t.Errorf("GET %s: 401 body shows data", path)
					}
				}
			}
		})
	}
}

func TestCollectDegrades(t *testing.T) {
	t.Parallel()
	src, _ := fixture()
	src.Tickets = failingTickets{}
	st := Collect(context.Background(), src, now, quiet())
	if len(st.Unavailable) != 1 || st.Unavailable[0] != "tickets" || len(st.Checks) != 3 || st.Access.Pending != 3 {
		t.Errorf("one failing section: %+v", st)
	}
}

type failingTickets struct{}

func (failingTickets) Tickets(context.Context, time.Time) (Tickets, error) {
	return Tickets{}, errors.New("database is locked")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"dial tcp 10.0.0.5:5432: i/o timeout", "dial tcp 10.0.0.5:5432: i/o timeout"},
		{`Get "https://user:pa55@host.example/x?token=abc&y=1": EOF`, `Get "https://host.example/x?…": EOF`},
		{"GET http://h/p#frag done", "GET http://h/p?… done"},
		{"line one\nline two with secret", "line one …"},
		{strings.Repeat("é", 300), strings.Repeat("é", 200) + "…"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	t.Parallel()
	b := func(ms ...int64) []Bucket {
		out := make([]Bucket, len(ms))
		for i, m := range ms {
			if m >= 0 {
				out[i].AvgLatencyMS = ptr(m)
			}
		}
		return out
	}
	tests := []struct {
		name string
		in   []Bucket
		path string
	}{
		{"none", b(-1, -1), ""},
		{"line", b(0, 10, 5), "M2,26L60,2L118,14"},
		{"gap", b(10, 10, -1, 10, 10), "M2,2L31,2M89,2L118,2"},
		{"lone point", b(-1, 10, -1), "M59.5,2h1"},
		{"all zero", b(0, 0), "M2,26L118,26"},
	}
	for _, tt := range tests {
		s := newSparkline(tt.in)
		if s.Path != tt.path || s.Empty != (tt.path == "") {
			t.Errorf("%s: path %q empty %v, want %q", tt.name, s.Path, s.Empty, tt.path)
		}
	}
}

// mount puts the page on mux as serve does: Root at GET /, the rest by Mount.
func mount(mux *http.ServeMux, p *Page) {
	mux.Handle("GET /{$}", p.Root())
	p.Mount(mux)
}
