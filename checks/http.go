package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"opsbot/config"
)

// maxRedirects caps how many redirects an http check follows.
const maxRedirects = 5

// maxBody is how much of a response body an http check reads.
const maxBody = 1 << 20

// httpCheck keeps only what a run needs of its config, and shares its
// client with the checks of the same TLS settings: at ten thousand checks
// each byte kept per check is ten kilobytes of resident memory.
type httpCheck struct {
	method, url, body string
	headers           map[string]string
	contains          string
	re                *regexp.Regexp
	status            []int
	timeout           time.Duration
	maxLatency        time.Duration
	client            *http.Client
	// shown is the URL as a failed run names it: without password and
	// query, which may carry tokens (the result goes to chat and the log).
	shown string
}

func newHTTP(c config.Check, env Env) (Check, error) {
	h := &httpCheck{method: c.Method, url: c.URL, body: c.Body, headers: c.Headers, contains: c.Expect.BodyContains,
		status: c.Expect.Status, timeout: time.Duration(c.Timeout), maxLatency: time.Duration(c.MaxLatency), shown: shownURL(c.URL)}
	if len(h.headers) == 0 {
		h.headers = nil
	}
	if c.Expect.BodyRegex != "" {
		re, err := regexp.Compile(c.Expect.BodyRegex)
		if err != nil {
			return nil, fmt.Errorf("expect.body_regex: %w", err)
		}
		h.re = re
	}
	if h.method == "" {
		h.method = http.MethodGet
	}
	h.client = env.Transports.get(c.InsecureSkipVerify, env.RootCAs, time.Duration(c.Timeout))
	return h, nil
}

// checkRedirect caps the redirects a check follows.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// shownURL is raw without its password and query, for messages.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the configured url"
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "…", false
	}
	u.Fragment, u.RawFragment = "", ""
	if shown := u.Redacted(); shown != raw {
		return shown
	}
	return raw // the config's own string, not a second copy of it
}

// Transports shares HTTP clients (their transports, and so kept-alive
// connections) among http checks with the same TLS settings: thousands of
// checks against a few hosts then hold a few connections each, not one per
// check.
type Transports struct {
	mu sync.Mutex
	m  map[transportKey]*http.Client
}

type transportKey struct {
	insecure bool
	roots    *x509.CertPool
}

// NewTransports returns an empty transport cache.
func NewTransports() *Transports { return &Transports{m: map[transportKey]*http.Client{}} }

// get returns the shared client for the settings; a nil cache gives every
// check its own.
func (t *Transports) get(insecure bool, roots *x509.CertPool, handshake time.Duration) *http.Client {
	mk := func() *http.Client {
		return &http.Client{CheckRedirect: checkRedirect, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: insecure, RootCAs: roots},
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     2 * time.Minute,
			TLSHandshakeTimeout: max(handshake, 10*time.Second),
		}}
	}
	if t == nil {
		return mk()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := transportKey{insecure, roots}
	if c, ok := t.m[k]; ok {
		return c
	}
	c := mk()
	t.m[k] = c
	return c
}

func (h *httpCheck) Run(ctx context.Context) Result {
	start := time.Now()
	var body io.Reader
	if h.body != "" {
		body = strings.NewReader(h.body)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, body)
	if err != nil {
		return fail(start, "build request for %s: check the url in the config", h.shown)
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "opsbot-check")
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fail(start, "%s %s: no answer within %s", h.method, h.shown, config.Duration(h.timeout))
		}
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fail(start, "%s %s: %v", h.method, h.shown, err)
	}
	defer resp.Body.Close()
	var buf []byte
	if h.contains != "" || h.re != nil {
		buf, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return fail(start, "read body of %s: %v", h.shown, timeoutErr(ctx, err))
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	lat := time.Since(start)
	if !h.statusOK(resp.StatusCode) {
		return Result{Error: fmt.Sprintf("%s answered %s, want %s", h.shown, resp.Status, h.wantStatus()), Latency: lat}
	}
	if s := h.contains; s != "" && !bytes.Contains(buf, []byte(s)) {
		return Result{Error: fmt.Sprintf("body of %s does not contain %q", h.shown, s), Latency: lat}
	}
	if h.re != nil && !h.re.Match(buf) {
		return Result{Error: fmt.Sprintf("body of %s does not match %q", h.shown, h.re.String()), Latency: lat}
	}
	if m := h.maxLatency; m > 0 && lat > m {
		return Result{Error: fmt.Sprintf("%s took %s, more than max_latency %s", h.shown, lat.Round(time.Millisecond), m), Latency: lat}
	}
	return Result{OK: true, Latency: lat}
}

func (h *httpCheck) statusOK(code int) bool {
	if len(h.status) == 0 {
		return code >= 200 && code < 400
	}
	return slices.Contains(h.status, code)
}

func (h *httpCheck) wantStatus() string {
	if len(h.status) == 0 {
		return "200-399"
	}
	return strings.Trim(fmt.Sprint(h.status), "[]")
}
