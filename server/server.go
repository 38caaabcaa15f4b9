// Package server is opsbot's HTTP listener: health, readiness and metrics,
// with the platform adapters' endpoints mounted on the same mux.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodyBytes bounds every request body; Slack and Discord payloads are far
// smaller.
const MaxBodyBytes = 1 << 20

// Pinger reports whether a dependency (the database) answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ReadyFunc adds facts to /readyz, such as whether this replica leads.
type ReadyFunc func() map[string]string

// Server is the HTTP listener.
type Server struct {
	mux   *http.ServeMux
	log   *slog.Logger
	db    Pinger
	ready []ReadyFunc
	// patterns are the endpoints mounted, for the status page.
	patterns []string
	srv      *http.Server
	ln       net.Listener
	// metrics serves /metrics; GuardMetrics may wrap it.
	metrics http.Handler
	// root serves GET /: the plain-text facts until SetRoot replaces them.
	root http.Handler
}

// New builds the server with /healthz, /readyz and /metrics.
func New(log *slog.Logger, db Pinger, gatherer prometheus.Gatherer) *Server {
	s := &Server{mux: http.NewServeMux(), log: log, db: db}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)})
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { s.metrics.ServeHTTP(w, r) })
	s.root = http.HandlerFunc(s.status)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.root.ServeHTTP(w, r) })
	s.patterns = []string{"GET /healthz", "GET /readyz", "GET /metrics"}
	return s
}

// GuardMetrics puts /metrics behind guard, such as the status page's
// credentials. Call it before Serve.
func (s *Server) GuardMetrics(guard func(http.Handler) http.Handler) { s.metrics = guard(s.metrics) }

// SetRoot serves h at GET / instead of the plain-text facts: the status
// page, when it is enabled. Call it before Serve.
func (s *Server) SetRoot(h http.Handler) { s.root = h }

// Handle mounts a handler, as http.ServeMux patterns ("POST /slack/commands").
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// status is the page at /: what /readyz says, and the endpoints served.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, facts := s.facts(r.Context())
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, "opsbot")
	for _, f := range facts {
		fmt.Fprintln(w, f)
	}
	fmt.Fprintln(w, "\nendpoints:")
	for _, p := range s.patterns {
		fmt.Fprintln(w, "  "+p)
	}
}

// AddReady adds facts to the /readyz answer.
func (s *Server) AddReady(f ReadyFunc) { s.ready = append(s.ready, f) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, facts := s.facts(r.Context())
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	for _, f := range facts {
		fmt.Fprintln(w, f)
	}
}

// facts says whether the database answers and, if it does, what the
// ReadyFuncs add, as "key: value" lines in a stable order.
func (s *Server) facts(ctx context.Context) (bool, []string) {
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("not ready: database unreachable", "err", err)
		return false, []string{"database: unreachable"}
	}
	out := []string{"database: ok"}
	for _, f := range s.ready {
		m := f()
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, k+": "+m[k])
		}
	}
	return true, out
}

// Handler is the whole mux behind the body limit, for tests and embedding.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		s.mux.ServeHTTP(w, r)
	})
}

// Listen binds the address; Addr then reports the bound address, which
// matters when the configured port is 0.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve runs until ctx ends, then stops accepting and gives in-flight
// requests up to grace to finish.
func (s *Server) Serve(ctx context.Context, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("http listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
