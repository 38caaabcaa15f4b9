package statuspage

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"opsbot/clock"
	"opsbot/config"
)

//go:embed templates/*.html
var templateFS embed.FS

// Mux is where the page mounts its routes; *server.Server is one.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Page serves the status page, the incident pages and the JSON API.
type Page struct {
	src     Sources
	clock   clock.Clock
	log     *slog.Logger
	refresh int // seconds; 0 means no auto-refresh
	auth    config.StatusAuth
	tmpl    *template.Template
}

// New builds the page from its config and sources.
func New(cfg config.StatusPageConfig, src Sources, clk clock.Clock, log *slog.Logger) (*Page, error) {
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &Page{src: src, clock: clk, log: log, refresh: int(time.Duration(cfg.Refresh) / time.Second),
		auth: cfg.Auth, tmpl: t}, nil
}

func parseTemplates() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"spark": newSparkline,
		"since": since,
		"age":   func(sec int64) string { return age(time.Duration(sec) * time.Second) },
		"ts":    timestamp,
		"pct":   percent,
		"ms":    millis,
		"secs":  func(s float64) string { return age(time.Duration(s * float64(time.Second))) },
		"int64": func(n int) int64 { return int64(n) },
		"deref": func(b *bool) bool { return b != nil && *b },
		// The pill already says fresh or stale: the text goes on from there.
		"detail": func(state, text string) string { return strings.TrimPrefix(text, state+": ") },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse status page templates: %w", err)
	}
	return t, nil
}

// Mount adds GET /incidents/{id} and GET /api/v1/status, behind the
// configured credentials; the page itself is Root, for GET /.
func (p *Page) Mount(m Mux) {
	m.Handle("GET /incidents/{id}", p.Guard(http.HandlerFunc(p.serveIncident)))
	m.Handle("GET /api/v1/status", p.Guard(http.HandlerFunc(p.serveJSON)))
}

// Root is the status page, behind the configured credentials, for GET /.
func (p *Page) Root() http.Handler { return p.Guard(http.HandlerFunc(p.servePage)) }

// Guard lets a request through when it carries the configured basic or
// bearer credentials, or when none are configured; otherwise it answers
// 401. The comparisons take constant time.
func (p *Page) Guard(h http.Handler) http.Handler {
	if p.auth.Basic == nil && p.auth.Bearer == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.authorized(r) {
			h.ServeHTTP(w, r)
			return
		}
		if p.auth.Basic != nil {
			w.Header().Add("WWW-Authenticate", `Basic realm="opsbot status", charset="UTF-8"`)
		}
		if p.auth.Bearer != "" {
			w.Header().Add("WWW-Authenticate", `Bearer realm="opsbot status"`)
		}
		p.log.Debug("status page: request refused", "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "401 unauthorized: send the status page's basic auth or bearer token", http.StatusUnauthorized)
	})
}

func (p *Page) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return p.auth.Bearer != "" && equal(strings.TrimSpace(token), p.auth.Bearer.Reveal())
	}
	if p.auth.Basic == nil {
		return false
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// Both compared whatever the first says, so timing tells nothing.
	u := equal(user, p.auth.Basic.User)
	pw := equal(pass, p.auth.Basic.Password.Reveal())
	return u && pw
}

// equal compares in constant time; hashing first hides the lengths too.
func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func headers(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
}

// pageView is what the page template sees.
type pageView struct {
	Status
	Title   string
	Refresh int
	// Titles of the sections that are missing, for the notice.
	Unavailable string
}

// incidentView is what the incident template sees.
type incidentView struct {
	IncidentDetail
	Title   string
	Now     time.Time
	Refresh int
}

// notFoundView is what the not-found template sees.
type notFoundView struct {
	Title   string
	Refresh int
	Message string
}

func (p *Page) pageView(st Status) pageView {
	return pageView{Status: st, Title: "opsbot status: " + st.Summary, Refresh: p.refresh, Unavailable: strings.Join(st.Unavailable, ", ")}
}

func (p *Page) incidentView(in IncidentDetail, now time.Time) incidentView {
	return incidentView{IncidentDetail: in, Title: fmt.Sprintf("Incident #%d: %s", in.ID, in.Check), Now: now, Refresh: p.refresh}
}

func (p *Page) servePage(w http.ResponseWriter, r *http.Request) {
	st := Collect(r.Context(), p.src, p.clock.Now(), p.log)
	p.render(w, "page", http.StatusOK, p.pageView(st))
}

// RenderPage writes the status page for st, for tests and tools.
func (p *Page) RenderPage(st Status) ([]byte, error) {
	var b bytes.Buffer
	err := p.tmpl.ExecuteTemplate(&b, "page", p.pageView(st))
	return b.Bytes(), err
}

// RenderIncident writes the page of one incident at now.
func (p *Page) RenderIncident(in IncidentDetail, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	err := p.tmpl.ExecuteTemplate(&b, "incident", p.incidentView(in, now))
	return b.Bytes(), err
}

func (p *Page) serveIncident(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil || id <= 0 {
		p.notFound(w, fmt.Sprintf("%q is not an incident number; incident pages are /incidents/N, such as /incidents/12.", r.PathValue("id")))
		return
	}
	if p.src.Incidents == nil {
		p.notFound(w, "Incidents are not recorded by this opsbot.")
		return
	}
	now := p.clock.Now()
	in, err := p.src.Incidents.Incident(r.Context(), id, now)
	if errors.Is(err, ErrNoIncident) {
		p.notFound(w, fmt.Sprintf("There is no incident #%d.", id))
		return
	}
	if err != nil {
		p.log.Error("status page: read incident", "incident", id, "err", err)
		http.Error(w, "500 internal error: the incident could not be read; see the opsbot log", http.StatusInternalServerError)
		return
	}
	p.render(w, "incident", http.StatusOK, p.incidentView(in, now))
}

func (p *Page) notFound(w http.ResponseWriter, msg string) {
	p.render(w, "notfound", http.StatusNotFound, notFoundView{Title: "Not found", Message: msg})
}

// render executes a template into a buffer first, so a failure is a clean
// 500 and not half a page.
func (p *Page) render(w http.ResponseWriter, name string, code int, data any) {
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.log.Error("status page: render", "template", name, "err", err)
		http.Error(w, "500 internal error: the page could not be drawn; see the opsbot log", http.StatusInternalServerError)
		return
	}
	headers(w, "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

func (p *Page) serveJSON(w http.ResponseWriter, r *http.Request) {
	st := Collect(r.Context(), p.src, p.clock.Now(), p.log)
	body, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		p.log.Error("status api: encode", "err", err)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	headers(w, "application/json; charset=utf-8")
	_, _ = w.Write(append(body, '\n'))
}

// Formatting for the templates.

// age prints a duration with its two largest units: 45s, 12m, 3h 5m, 2d 4h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return twoUnits(int(d/time.Minute), "m", int(d%time.Minute/time.Second), "s")
	case d < 24*time.Hour:
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	default:
		return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
	}
}

func twoUnits(a int, au string, b int, bu string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, au)
	}
	return fmt.Sprintf("%d%s %d%s", a, au, b, bu)
}

// since prints how long before now t was: "5m ago", or "never".
func since(now time.Time, t any) string {
	var at time.Time
	switch v := t.(type) {
	case time.Time:
		at = v
	case *time.Time:
		if v == nil {
			return "never"
		}
		at = *v
	}
	if at.IsZero() {
		return "never"
	}
	return age(now.Sub(at)) + " ago"
}

func timestamp(t any) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v != nil {
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
	}
	return ""
}

func percent(p *float64) string {
	if p == nil {
		return "—"
	}
	s := strconv.FormatFloat(*p, 'f', 2, 64)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "0"), ".0")
	return s + "%"
}

func millis(ms *int64) string {
	switch {
	case ms == nil:
		return "—"
	case *ms == 0:
		return "<1 ms"
	}
	return fmt.Sprintf("%d ms", *ms)
}
