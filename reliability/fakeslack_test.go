package reliability

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackMode is how the fake Slack Web API behaves right now.
type slackMode int

const (
	slackUp      slackMode = iota
	slackRefused           // the port is closed: connection refused
	slack503               // every call answers 503
)

// fakeSlack is a loopback Slack Web API that checks the bot token, keeps the
// messages it accepted (with their metadata, for conversations.history) and
// counts every accepted post by its opsbot key, so a duplicate shows.
type fakeSlack struct {
	token string
	srv   *http.Server
	addr  string

	mu         sync.Mutex
	ln         net.Listener
	mode       slackMode
	retryAfter string // with limit: answer this many posts with 429 and this Retry-After
	limit      int
	lose       int            // accept this many posts, then drop the connection before answering
	posts      map[string]int // accepted chat.postMessage calls by metadata key
	order      []string       // keys in the order accepted
	history    map[string][]map[string]any
	calls      int
	limited    int // 429 answers given
	badTokens  int
}

func newFakeSlack(t *testing.T, token string) *fakeSlack {
	t.Helper()
	f := &fakeSlack{token: token, posts: map[string]int{}, history: map[string][]map[string]any{}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.srv.SetKeepAlivesEnabled(false) // every call dials, so a closed port refuses at once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.ln = ln
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

// URL is the api_url to configure.
func (f *fakeSlack) URL() string { return "http://" + f.addr + "/api/" }

// set switches the behaviour; slackRefused closes the port, leaving it
// reopens it on the same address.
func (f *fakeSlack) set(t *testing.T, m slackMode) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if m == slackRefused && f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	if m != slackRefused && f.ln == nil {
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		f.ln = ln
		go func() { _ = f.srv.Serve(ln) }()
	}
	f.mode = m
}

func (f *fakeSlack) counts() (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]int, len(f.posts))
	for k, v := range f.posts {
		c[k] = v
	}
	return c, f.limited
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if f.mode == slack503 {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token := r.Form.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	reply := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if token != f.token {
		f.badTokens++
		reply(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "chat.postMessage":
		if f.limit > 0 {
			f.limit--
			f.limited++
			w.Header().Set("Retry-After", f.retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
			reply(map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		var meta map[string]any
		_ = json.Unmarshal([]byte(r.Form.Get("metadata")), &meta)
		key := ""
		if p, ok := meta["event_payload"].(map[string]any); ok {
			key, _ = p["key"].(string)
		}
		ch := r.Form.Get("channel")
		f.posts[key]++
		f.order = append(f.order, key)
		ts := fmt.Sprintf("1700000000.%06d", len(f.order))
		f.history[ch] = append([]map[string]any{{"type": "message", "ts": ts, "text": r.Form.Get("text"), "metadata": meta}}, f.history[ch]...)
		if f.lose > 0 {
			f.lose--
			// Slack has the message; the answer never arrives.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		}
		reply(map[string]any{"ok": true, "channel": ch, "ts": ts})
	case "chat.update":
		reply(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts")})
	case "conversations.open":
		reply(map[string]any{"ok": true, "channel": map[string]any{"id": "D" + r.Form.Get("users")}})
	case "conversations.history", "conversations.replies":
		reply(map[string]any{"ok": true, "messages": f.history[r.Form.Get("channel")]})
	default:
		reply(map[string]any{"ok": false, "error": "unknown_method"})
	}
}
