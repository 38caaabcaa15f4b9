// Package fakeslack is a loopback Slack Web API for tests that refuses what
// Slack refuses: a wrong token (invalid_auth), a method whose scope the app
// manifest (docs/slack-app-manifest.yaml) does not request (missing_scope),
// history of a conversation the bot is not in (not_in_channel), an edit of
// a message it never posted (message_not_found), and posts beyond a rate
// limit (HTTP 429 with Retry-After). It implements the external file
// upload (files.getUploadURLExternal, the upload URL, which checks the
// length, and files.completeUploadExternal, which refuses unknown or
// unuploaded files with file_not_found and channels the bot is not in) and
// files.list, and records the files it shares. It counts every accepted
// post by the opsbot key in its metadata, so a duplicate shows. The unit,
// reliability and replica tests share it.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"gopkg.in/yaml.v3"

	"opsbot/docs"
)

// Mode is how the fake behaves at the transport level.
type Mode int

const (
	// Up answers every call.
	Up Mode = iota
	// Refused closes the port: connections are refused.
	Refused
	// Unavailable answers every call with HTTP 503.
	Unavailable
)

// Message is one message in a conversation, as conversations.history
// returns it.
type Message map[string]any

// Server is the fake Slack. Its zero value is not usable; call New.
type Server struct {
	token string
	srv   *http.Server
	addr  string

	mu     sync.Mutex
	ln     net.Listener
	mode   Mode
	scopes map[string]bool
	// members are the conversations the bot is in: channels it joined or
	// was put in, and the direct messages it opened.
	members map[string]bool
	// users, when set, are the only users conversations.open knows.
	users map[string]bool
	// convs holds each conversation's messages, oldest first.
	convs      map[string][]Message
	fail       map[string]string
	status     int
	limit      int
	retryAfter string
	every      int // with everyAfter: answer every n-th post with 429
	everyAfter string
	postCalls  int
	limited    int
	lose       int
	posts      map[string]int
	order      []string
	forms      []map[string]string
	calls      []string
	ephemeral  []string
	updates    map[string]int    // chat.update calls by channel/ts
	responses  map[string]string // response_url path → body
	badTokens  int
	seq        int
	// uploads are files.getUploadURLExternal's pending files by id,
	// files the completed ones, in order.
	uploads      map[string]*File
	files        []*File
	uploadCalls  int
	loseComplete int
	// requests are every Web API call and upload, in order.
	requests []Request
	// appToken, when set, enables Socket Mode: apps.connections.open
	// with it answers the URL of the fake's own WebSocket endpoint.
	appToken string
	opens    int
	conns    chan *websocket.Conn
}

// New starts a fake Slack on a loopback port that accepts token and grants
// the scopes of docs/slack-app-manifest.yaml. It stops when t ends. Every
// call dials anew, so a closed port refuses at once.
func New(t testing.TB, token string) *Server {
	t.Helper()
	f, err := start(token, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Start starts a fake Slack for programs that are not tests (the bench),
// keeping connections alive as Slack does; Close stops it.
func Start(token string) (*Server, error) { return start(token, true) }

func start(token string, keepAlive bool) (*Server, error) {
	scopes, err := ManifestScopes()
	if err != nil {
		return nil, err
	}
	f := &Server{token: token, scopes: map[string]bool{}, members: map[string]bool{}, convs: map[string][]Message{},
		fail: map[string]string{}, posts: map[string]int{}, updates: map[string]int{}, responses: map[string]string{}}
	for _, s := range scopes {
		f.scopes[s] = true
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.srv.SetKeepAlivesEnabled(keepAlive)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake slack: %w", err)
	}
	f.addr = ln.Addr().String()
	f.ln = ln
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops the fake.
func (f *Server) Close() { _ = f.srv.Close() }

// SocketMode enables Socket Mode for the app-level token (xapp-…):
// apps.connections.open answers a WebSocket URL on the fake, which greets
// each connection with hello and hands it to Conn.
func (f *Server) SocketMode(appToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appToken = appToken
	if f.conns == nil {
		f.conns = make(chan *websocket.Conn, 16)
	}
}

// Conn returns the next Socket Mode connection, waiting up to 20 s.
func (f *Server) Conn(t testing.TB) *websocket.Conn {
	t.Helper()
	f.mu.Lock()
	conns := f.conns
	f.mu.Unlock()
	select {
	case c := <-conns:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("no Socket Mode connection")
		return nil
	}
}

// Opens counts the apps.connections.open calls answered with a URL.
func (f *Server) Opens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

// socket answers apps.connections.open and the WebSocket endpoint.
func (f *Server) socket(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/api/apps.connections.open":
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if f.appToken == "" || r.Header.Get("Authorization") != "Bearer "+f.appToken {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return true
		}
		f.opens++
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws://" + f.addr + "/link"})
		return true
	case "/link":
		up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return true
		}
		if err := c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1}); err != nil {
			return true
		}
		f.mu.Lock()
		conns := f.conns
		f.mu.Unlock()
		conns <- c
		return true
	}
	return false
}

// ManifestScopes are the bot scopes docs/slack-app-manifest.yaml requests.
func ManifestScopes() ([]string, error) {
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(docs.SlackManifest, &m); err != nil {
		return nil, fmt.Errorf("read the Slack app manifest: %w", err)
	}
	return m.OAuth.Scopes.Bot, nil
}

// URL is the api_url to configure.
func (f *Server) URL() string { return "http://" + f.addr + "/api/" }

// Set switches the transport behaviour; Refused closes the port, leaving it
// reopens it on the same address.
func (f *Server) Set(t testing.TB, m Mode) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if m == Refused && f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	if m != Refused && f.ln == nil {
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		f.ln = ln
		go func() { _ = f.srv.Serve(ln) }()
	}
	f.mode = m
}

// RemoveScope takes a scope away from the token, as an app installed from
// a manifest without it.
func (f *Server) RemoveScope(scope string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.scopes, scope)
}

// AddScope grants a scope, as reinstalling the app with it would.
func (f *Server) AddScope(scope string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes[scope] = true
}

// AddMember puts the bot in a channel, as inviting it would.
func (f *Server) AddMember(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[channel] = true
}

// Member reports whether the bot is in the conversation.
func (f *Server) Member(channel string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[channel]
}

// KnowUsers limits conversations.open to these users (user_not_found for
// others); by default every user exists.
func (f *Server) KnowUsers(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = map[string]bool{}
	for _, id := range ids {
		f.users[id] = true
	}
}

// AddMessage adds a message people wrote (a Message with at least "ts";
// "thread_ts" makes it a reply) to a channel.
func (f *Server) AddMessage(channel string, m Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.convs[channel] = append(f.convs[channel], m)
}

// Fail makes every call of method answer {"ok":false,"error":code}; an
// empty code undoes it.
func (f *Server) Fail(method, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == "" {
		delete(f.fail, method)
		return
	}
	f.fail[method] = code
}

// Status makes every call answer with this HTTP status (0: normal).
func (f *Server) Status(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

// Limit answers the next n chat.postMessage calls with HTTP 429 and
// Retry-After: retryAfter (seconds, as Slack sends it).
func (f *Server) Limit(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit, f.retryAfter = n, retryAfter
}

// LimitEvery answers every n-th chat.postMessage with HTTP 429 and
// Retry-After: retryAfter, as Slack's limiter does under steady load.
func (f *Server) LimitEvery(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.every, f.everyAfter = n, retryAfter
}

// ResponseURL is a response_url on the fake whose posts Response returns.
func (f *Server) ResponseURL(id string) string { return "http://" + f.addr + "/respond/" + id }

// Response is what was posted to ResponseURL(id), or "".
func (f *Server) Response(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.responses["/respond/"+id]
}

// Updates counts chat.update calls by "channel/ts".
func (f *Server) Updates() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]int, len(f.updates))
	for k, v := range f.updates {
		c[k] = v
	}
	return c
}

// Lose accepts the next n posts but drops the connection before answering:
// Slack has the message, the sender never hears so.
func (f *Server) Lose(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = n
}

// Posts counts accepted chat.postMessage calls by opsbot key.
func (f *Server) Posts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]int, len(f.posts))
	for k, v := range f.posts {
		c[k] = v
	}
	return c
}

// Order lists the keys of accepted posts, oldest first.
func (f *Server) Order() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.order)
}

// Forms are the form fields of every accepted post, oldest first.
func (f *Server) Forms() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forms)
}

// Calls lists the methods called, in order.
func (f *Server) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Ephemeral lists the texts of chat.postEphemeral calls.
func (f *Server) Ephemeral() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ephemeral)
}

// Limited is how many 429 answers were given.
func (f *Server) Limited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited
}

// BadTokens is how many calls came with a wrong token.
func (f *Server) BadTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badTokens
}

// Messages returns a conversation's messages, oldest first.
func (f *Server) Messages(channel string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.convs[channel])
}

// scopeFor is the scope a method needs in a conversation, as Slack
// documents it.
func scopeFor(method, channel string) string {
	switch method {
	case "chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete":
		return "chat:write"
	case "conversations.open":
		return "im:write"
	case "conversations.join":
		return "channels:join"
	case "conversations.history", "conversations.replies":
		switch {
		case strings.HasPrefix(channel, "D"):
			return "im:history"
		case strings.HasPrefix(channel, "G"):
			return "groups:history"
		}
		return "channels:history"
	case "users.info":
		return "users:read"
	case "files.getUploadURLExternal", "files.completeUploadExternal":
		return "files:write"
	case "files.list":
		return "files:read"
	}
	return ""
}

// ServeHTTP answers one Web API call.
func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.socket(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/upload/") {
		f.upload(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/respond/") {
		// A response_url: Slack takes the message whatever the token.
		b, _ := io.ReadAll(r.Body)
		f.responses[r.URL.Path] = string(b)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.calls = append(f.calls, method)
	if f.mode == Unavailable {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
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
	refuse := func(code string) { reply(map[string]any{"ok": false, "error": code}) }
	if token != f.token {
		f.badTokens++
		refuse("invalid_auth")
		return
	}
	if e := f.fail[method]; e != "" {
		refuse(e)
		return
	}
	req := Request{Method: method, Form: map[string]string{}}
	for k := range r.Form {
		if k != "token" {
			req.Form[k] = r.Form.Get(k)
		}
	}
	f.requests = append(f.requests, req)
	channel := r.Form.Get("channel")
	if need := scopeFor(method, channel); need != "" && !f.scopes[need] {
		var have []string
		for s := range f.scopes {
			have = append(have, s)
		}
		slices.Sort(have)
		reply(map[string]any{"ok": false, "error": "missing_scope", "needed": need, "provided": strings.Join(have, ",")})
		return
	}
	switch method {
	case "chat.postMessage":
		f.post(w, r, reply, refuse)
	case "chat.update":
		m := f.find(channel, r.Form.Get("ts"))
		if m == nil || m["bot_id"] == nil {
			refuse("message_not_found")
			return
		}
		f.updates[channel+"/"+r.Form.Get("ts")]++
		m["text"] = r.Form.Get("text")
		m["edited"] = map[string]any{"ts": f.nextTS()}
		reply(map[string]any{"ok": true, "channel": channel, "ts": r.Form.Get("ts"), "text": r.Form.Get("text")})
	case "conversations.open":
		user := r.Form.Get("users")
		if f.users != nil && !f.users[user] {
			refuse("user_not_found")
			return
		}
		id := "D" + strings.TrimPrefix(user, "U")
		f.members[id] = true
		reply(map[string]any{"ok": true, "channel": map[string]any{"id": id}})
	case "conversations.join":
		if !strings.HasPrefix(channel, "C") {
			refuse("method_not_supported_for_channel_type")
			return
		}
		f.members[channel] = true
		reply(map[string]any{"ok": true, "channel": map[string]any{"id": channel, "is_member": true}})
	case "conversations.history":
		if !f.members[channel] {
			refuse("not_in_channel")
			return
		}
		reply(map[string]any{"ok": true, "messages": f.history(r, channel), "has_more": false})
	case "conversations.replies":
		if !f.members[channel] {
			refuse("not_in_channel")
			return
		}
		msgs, ok := f.replies(r, channel)
		if !ok {
			refuse("thread_not_found")
			return
		}
		reply(map[string]any{"ok": true, "messages": msgs, "has_more": false})
	case "chat.getPermalink":
		reply(map[string]any{"ok": true, "channel": channel,
			"permalink": "https://example.slack.com/archives/" + channel + "/p" + strings.ReplaceAll(r.Form.Get("message_ts"), ".", "")})
	case "files.getUploadURLExternal":
		f.getUploadURL(r, reply, refuse)
	case "files.completeUploadExternal":
		f.completeUpload(w, r, reply, refuse)
	case "files.list":
		f.listFiles(r, reply)
	case "chat.postEphemeral":
		f.ephemeral = append(f.ephemeral, r.Form.Get("text"))
		reply(map[string]any{"ok": true, "message_ts": f.nextTS()})
	default:
		refuse("unknown_method")
	}
}

func (f *Server) nextTS() string {
	f.seq++
	return fmt.Sprintf("1700000000.%06d", 100000+f.seq)
}

// post is chat.postMessage: into a channel the bot is in, a public channel
// with chat:write.public, or a direct message it opened.
func (f *Server) post(w http.ResponseWriter, r *http.Request, reply func(map[string]any), refuse func(string)) {
	channel := r.Form.Get("channel")
	if !f.members[channel] {
		public := strings.HasPrefix(channel, "C") && f.scopes["chat:write.public"]
		if !public {
			if strings.HasPrefix(channel, "D") {
				refuse("channel_not_found")
				return
			}
			refuse("not_in_channel")
			return
		}
	}
	f.postCalls++
	if f.every > 0 && f.postCalls%f.every == 0 {
		f.limited++
		w.Header().Set("Retry-After", f.everyAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		reply(map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	if f.limit > 0 {
		f.limit--
		f.limited++
		w.Header().Set("Retry-After", f.retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		reply(map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	form := map[string]string{}
	for k := range r.Form {
		form[k] = r.Form.Get(k)
	}
	var meta map[string]any
	_ = json.Unmarshal([]byte(form["metadata"]), &meta)
	key := ""
	if p, ok := meta["event_payload"].(map[string]any); ok {
		key, _ = p["key"].(string)
	}
	f.posts[key]++
	f.order = append(f.order, key)
	f.forms = append(f.forms, form)
	ts := f.nextTS()
	m := Message{"type": "message", "ts": ts, "text": form["text"], "bot_id": "B0OPSBOT"}
	if meta != nil {
		m["metadata"] = meta
	}
	if th := form["thread_ts"]; th != "" {
		m["thread_ts"] = th
	}
	f.convs[channel] = append(f.convs[channel], m)
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
	reply(map[string]any{"ok": true, "channel": channel, "ts": ts, "message": m})
}

func (f *Server) find(channel, ts string) Message {
	for _, m := range f.convs[channel] {
		if m["ts"] == ts {
			return m
		}
	}
	return nil
}

// within applies oldest, latest and inclusive as Slack does.
func within(r *http.Request, ts string) bool {
	incl := r.Form.Get("inclusive") == "true" || r.Form.Get("inclusive") == "1"
	if o := r.Form.Get("oldest"); o != "" && (ts < o || ts == o && !incl) {
		return false
	}
	if l := r.Form.Get("latest"); l != "" && (ts > l || ts == l && !incl) {
		return false
	}
	return true
}

// view is a message as returned: metadata only with include_all_metadata.
func view(r *http.Request, m Message) Message {
	out := Message{}
	for k, v := range m {
		out[k] = v
	}
	if v := r.Form.Get("include_all_metadata"); v != "true" && v != "1" {
		delete(out, "metadata")
	}
	return out
}

// history is the channel's top-level messages (and thread parents), newest
// first: replies in threads are not in a channel's history.
func (f *Server) history(r *http.Request, channel string) []Message {
	msgs := f.convs[channel]
	out := []Message{}
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		ts, _ := m["ts"].(string)
		if th, _ := m["thread_ts"].(string); th != "" && th != ts {
			continue
		}
		if within(r, ts) {
			out = append(out, view(r, m))
		}
	}
	return out
}

// replies is conversations.replies: for a thread's parent, the parent and
// its replies, oldest first; for a reply, that reply alone.
func (f *Server) replies(r *http.Request, channel string) ([]Message, bool) {
	ts := r.Form.Get("ts")
	m := f.find(channel, ts)
	if m == nil {
		return nil, false
	}
	if th, _ := m["thread_ts"].(string); th != "" && th != ts {
		return []Message{view(r, m)}, true
	}
	out := []Message{view(r, m)}
	for _, c := range f.convs[channel] {
		cts, _ := c["ts"].(string)
		if th, _ := c["thread_ts"].(string); th == ts && cts != ts && within(r, cts) {
			out = append(out, view(r, c))
		}
	}
	return out, true
}
