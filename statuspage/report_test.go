package statuspage

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestReportCharts: /report/PERIOD.png is behind the page's credentials
// and answers a PNG of the chart asked for, drawn from the store.
func TestReportCharts(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			store := storagetest.Open(t, b)
			cfg := config.Default()
			cfg.Checks = []config.Check{{Name: "web"}}
			cfg.People = []config.Person{{Name: "alice", Teams: []string{"it"}}}
			var rs []storage.CheckResult
			for i := range 24 {
				rs = append(rs, storage.CheckResult{Check: "web", At: now.Add(-time.Duration(i+20) * time.Hour), OK: i%4 != 0})
			}
			if err := store.DB.Create(&rs).Error; err != nil {
				t.Fatal(err)
			}
			p := newPage(t, config.StatusPageConfig{Enabled: true, Auth: config.StatusAuth{Bearer: "0123456789abcdef-token"}}, Sources{})
			mux := http.NewServeMux()
			p.MountReports(mux, cfg, store.DB)
			srv := httptest.NewServer(mux) // a real listener on loopback
			t.Cleanup(srv.Close)
			auth := map[string]string{"Authorization": "Bearer 0123456789abcdef-token"}
			get := func(t *testing.T, _ http.Handler, path string, hdr map[string]string) *response {
				t.Helper()
				req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body bytes.Buffer
				if _, err := body.ReadFrom(resp.Body); err != nil {
					t.Fatal(err)
				}
				return &response{Code: resp.StatusCode, Body: &body, h: resp.Header}
			}

			for _, path := range []string{"/report/week.png", "/report/day.png?chart=incidents", "/report/nope.png"} {
				if w := get(t, mux, path, nil); w.Code != http.StatusUnauthorized || w.Header().Get("Content-Type") == "image/png" {
					t.Errorf("GET %s without credentials: %d %s", path, w.Code, w.Header().Get("Content-Type"))
				}
			}
			for _, path := range []string{"/report/week.png", "/report/day.png?chart=incidents", "/report/month.png?chart=backlog&team=it"} {
				w := get(t, mux, path, auth)
				if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/png" {
					t.Fatalf("GET %s: %d %s\n%s", path, w.Code, w.Header().Get("Content-Type"), w.Body)
				}
				img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				if img.Bounds().Dx() != 1200 {
					t.Errorf("GET %s: %d px wide", path, img.Bounds().Dx())
				}
			}
			for path, want := range map[string]string{
				"/report/year.png":              "is not a report",
				"/report/week":                  "is not a report",
				"/report/week.png?chart=pie":    "There is no chart &#34;pie&#34;",
				"/report/week.png?team=%3Cb%3E": "There is no team &#34;&lt;b&gt;&#34;",
			} {
				w := get(t, mux, path, auth)
				if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), want) {
					t.Errorf("GET %s: %d, want 404 with %q:\n%s", path, w.Code, want, w.Body)
				}
			}
		})
	}
}

// response is what the loopback server answered.
type response struct {
	Code int
	Body *bytes.Buffer
	h    http.Header
}

func (r *response) Header() http.Header { return r.h }

// TestReportChartsCached: a chart is drawn once and served again for
// chartCacheFor; after that, or on a new day, it is drawn anew from what
// the store holds then.
func TestReportChartsCached(t *testing.T) {
	t.Parallel()
	store := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	cfg := config.Default()
	cfg.Checks = []config.Check{{Name: "web"}, {Name: "db"}}
	add := func(check string, ok bool) {
		t.Helper()
		if err := store.DB.Create(&storage.CheckResult{Check: check, At: now.Add(-30 * time.Hour), OK: ok}).Error; err != nil {
			t.Fatal(err)
		}
	}
	add("web", true)
	fc := clock.NewFake(now)
	p, err := New(config.StatusPageConfig{Enabled: true}, Sources{}, fc, quiet())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.MountReports(mux, cfg, store.DB)
	png := func() []byte {
		t.Helper()
		w := get(t, mux, "/report/week.png", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET: %d %s", w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	first := png()
	add("db", false) // a second row in the heat-strip, once drawn anew
	if !bytes.Equal(png(), first) {
		t.Error("the chart was drawn anew within chartCacheFor")
	}
	fc.Advance(chartCacheFor)
	if bytes.Equal(png(), first) {
		t.Error("the chart was not drawn anew after chartCacheFor")
	}
}
