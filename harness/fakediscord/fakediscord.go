// Package fakediscord is a loopback Discord REST API for tests that refuses
// and forgets what Discord does: it checks the bot token, drops a message
// whose nonce it saw within the de-duplication window (enforce_nonce) and
// forgets nonces after it, answers an edit of an unknown message with
// Unknown Message (10008), rate-limits with 429 and Retry-After when told,
// and never returns a message's nonce when messages are listed. It counts
// every accepted message by nonce, so a duplicate shows. The unit,
// reliability and replica tests share it.
package fakediscord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultNonceWindow is how long the fake remembers a nonce: Discord
// documents "the past few minutes".
const DefaultNonceWindow = 2 * time.Minute

// Server is the fake Discord. Its zero value is not usable; call New.
type Server struct {
	token string
	srv   *http.Server
	addr  string

	mu sync.Mutex
	// now is the fake's clock (time.Now unless SetClock).
	now     func() time.Time
	window  time.Duration
	nonces  map[string]nonceSeen
	next    int64
	dms     map[string]string // user → DM channel
	msgs    map[string][]map[string]any
	posts   map[string]int // accepted messages by nonce
	limited int
	limit   int
	lose    int
	status  int
	noRead  map[string]bool // channels whose history the bot may not read
	unknown map[string]bool // channels that do not exist
	gateway string          // what GET /gateway answers
	dmNext  int64
	calls   []Call
	// accepted are the calls with files that Discord took.
	accepted []Call
	// waited is how many calls Wait and WaitFor have handed out.
	waited int
}

// Call is one request the fake received.
type Call struct {
	Method, Path, Auth string
	// Body is the JSON object sent, if any (a multipart request's
	// payload_json); Raw the bytes.
	Body map[string]any
	Raw  []byte
	// Files are the files[n] parts of a multipart request, in order.
	Files []File
}

// File is one uploaded file: the n of its files[n] part, its file name,
// media type and bytes.
type File struct {
	Index       int
	Name, Type  string
	Data        []byte
	Description string
}

// MaxUpload is how many bytes of files one request may carry: Discord's
// default limit (10 MiB since 2024; boosted servers take more).
const MaxUpload = 10 << 20

// MaxFiles is how many files one message may carry.
const MaxFiles = 10

// formError is Discord's answer to a malformed body.
func formError(w http.ResponseWriter, why string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid Form Body", "code": 50035,
		"errors": map[string]any{"_errors": []map[string]any{{"code": "BASE_TYPE_BAD_FORM", "message": why}}}})
}

type nonceSeen struct {
	id string
	at time.Time
}

// New starts a fake Discord on a loopback port that accepts "Bot "+token.
// It stops when t ends.
func New(t testing.TB, token string) *Server {
	t.Helper()
	f, err := Start(token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Start starts a fake Discord for programs that are not tests (the bench);
// Close stops it.
func Start(token string) (*Server, error) {
	f := &Server{token: token, now: time.Now, window: DefaultNonceWindow, nonces: map[string]nonceSeen{},
		next: 700000000000000000, dms: map[string]string{}, msgs: map[string][]map[string]any{},
		posts: map[string]int{}, noRead: map[string]bool{}, unknown: map[string]bool{}, dmNext: 300000000000000008}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.srv.SetKeepAlivesEnabled(false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake discord: %w", err)
	}
	f.addr = ln.Addr().String()
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// URL is the discord.api_url to configure.
func (f *Server) URL() string { return "http://" + f.addr + "/api/v10" }

// Close stops the fake: connections are refused from now on.
func (f *Server) Close() { _ = f.srv.Close() }

// SetGateway sets the websocket URL GET /gateway answers (a Gateway's URL).
func (f *Server) SetGateway(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gateway = url
}

// UnknownChannel makes posts to a channel answer Unknown Channel (10003).
func (f *Server) UnknownChannel(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unknown[id] = true
}

// All returns every request received, in order.
func (f *Server) All() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Wait returns the next request not yet handed out by Wait or WaitFor,
// waiting up to 10 s for it.
func (f *Server) Wait(t testing.TB) Call {
	t.Helper()
	return f.WaitFor(t, "request", func(Call) bool { return true })
}

// WaitFor returns the next request not yet handed out that match accepts,
// passing over the others, waiting up to 20 s.
func (f *Server) WaitFor(t testing.TB, what string, match func(Call) bool) Call {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f.mu.Lock()
		for f.waited < len(f.calls) {
			c := f.calls[f.waited]
			f.waited++
			if match(c) {
				f.mu.Unlock()
				return c
			}
		}
		f.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the fake Discord API received no %s", what)
			return Call{}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// SetClock replaces the fake's clock, so a test moves past the nonce window
// without sleeping.
func (f *Server) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// SetNonceWindow sets how long a nonce is remembered.
func (f *Server) SetNonceWindow(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.window = d
}

// Limit answers the next n requests with 429, asking for the longest wait
// in its body's retry_after (3.25 s) over its headers (2 s, 2.5 s).
func (f *Server) Limit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = n
}

// Lose accepts the next n messages but drops the connection before
// answering.
func (f *Server) Lose(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = n
}

// Status answers every request with this HTTP status (0: normal).
func (f *Server) Status(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

// DenyHistory makes listing a channel's messages answer Missing Access, as
// Discord does without the Read Message History permission.
func (f *Server) DenyHistory(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noRead[channel] = true
}

// Posts counts accepted messages by nonce ("" for none).
func (f *Server) Posts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]int, len(f.posts))
	for k, v := range f.posts {
		c[k] = v
	}
	return c
}

// Messages returns a channel's messages, oldest first, as Discord stores
// them (without nonces).
func (f *Server) Messages(channel string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.msgs[channel])
}

// Calls lists "METHOD /path" of every request, in order.
func (f *Server) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.calls))
	for _, c := range f.calls {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

// Limited is how many 429 answers were given.
func (f *Server) Limited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers one REST call.
func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, MaxUpload+1<<20))
	c := Call{Method: r.Method, Path: strings.TrimPrefix(r.URL.EscapedPath(), "/api/v10"), Auth: r.Header.Get("Authorization"), Raw: raw}
	if mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		if !f.multipart(w, &c, params["boundary"]) {
			f.mu.Lock()
			f.calls = append(f.calls, c)
			f.mu.Unlock()
			return
		}
	} else if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "400: Bad Request", "code": 50109})
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	path, body := c.Path, c.Body
	if f.limit > 0 {
		f.limit--
		f.limited++
		w.Header().Set("Retry-After", "2")
		w.Header().Set("X-RateLimit-Reset-After", "2.5")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": 3.25, "global": false})
		return
	}
	if f.status != 0 {
		writeJSON(w, f.status, map[string]any{"message": http.StatusText(f.status), "code": 0})
		return
	}
	// Interaction webhooks and GET /gateway need no token.
	open := strings.HasPrefix(path, "/webhooks/") || strings.HasPrefix(path, "/interactions/") || path == "/gateway"
	if !open && c.Auth != "Bot "+f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "401: Unauthorized", "code": 0})
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && (path == "/gateway" || path == "/gateway/bot"):
		if f.gateway == "" {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0})
			return
		}
		out := map[string]any{"url": f.gateway}
		if path == "/gateway/bot" {
			out["shards"] = 1
			out["session_start_limit"] = map[string]any{"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
		}
		writeJSON(w, http.StatusOK, out)
	case r.Method == http.MethodPut && len(parts) >= 3 && parts[0] == "applications":
		var cmds []map[string]any
		if err := json.Unmarshal(raw, &cmds); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid Form Body", "code": 50035})
			return
		}
		for i := range cmds {
			cmds[i]["id"] = strconv.Itoa(800000 + i)
		}
		writeJSON(w, http.StatusOK, cmds)
	case strings.HasPrefix(path, "/webhooks/"), strings.HasPrefix(path, "/interactions/"):
		if strings.Contains(path, "expired") {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Webhook", "code": 10015})
			return
		}
		if len(c.Files) > 0 {
			f.accepted = append(f.accepted, c)
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "600000000000000001"})
	case r.Method == http.MethodPost && path == "/users/@me/channels":
		user, _ := body["recipient_id"].(string)
		id, ok := f.dms[user]
		if !ok {
			f.dmNext++
			id = strconv.FormatInt(f.dmNext, 10)
			f.dms[user] = id
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "type": 1})
	case len(parts) >= 3 && parts[0] == "channels" && parts[2] == "messages" && f.unknown[parts[1]]:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Channel", "code": 10003})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		f.post(w, parts[1], c)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		if f.noRead[parts[1]] {
			writeJSON(w, http.StatusForbidden, map[string]any{"message": "Missing Access", "code": 50001})
			return
		}
		limit := 50
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 100 {
			limit = n
		}
		msgs := f.msgs[parts[1]]
		out := []map[string]any{}
		for i := len(msgs) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, msgs[i])
		}
		writeJSON(w, http.StatusOK, out)
	case r.Method == http.MethodPatch && len(parts) == 4 && parts[0] == "channels" && parts[2] == "messages":
		for _, m := range f.msgs[parts[1]] {
			if m["id"] == parts[3] {
				for k, v := range body {
					m[k] = v
				}
				if len(c.Files) > 0 {
					m["attachments"] = f.attachments(c.Files)
					f.accepted = append(f.accepted, c)
				}
				m["edited_timestamp"] = f.now().UTC().Format(time.RFC3339)
				writeJSON(w, http.StatusOK, m)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Message", "code": 10008})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "404: Not Found", "code": 0})
	}
}

// multipart reads a multipart/form-data body as Discord does: a
// payload_json part with the message, files[n] parts, and an attachments
// list in the payload naming each file by its n. It answers and returns
// false when the body is malformed, too large, or the list and the files
// disagree.
func (f *Server) multipart(w http.ResponseWriter, c *Call, boundary string) bool {
	if len(c.Raw) > MaxUpload+1<<20-1 {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"message": "Request entity too large", "code": 40005})
		return false
	}
	mr := multipart.NewReader(bytes.NewReader(c.Raw), boundary)
	var payload []byte
	size := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			formError(w, "malformed multipart body: "+err.Error())
			return false
		}
		data, err := io.ReadAll(p)
		if err != nil {
			formError(w, "malformed multipart part: "+err.Error())
			return false
		}
		name := p.FormName()
		switch {
		case name == "payload_json":
			payload = data
		case strings.HasPrefix(name, "files[") && strings.HasSuffix(name, "]"):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "files["), "]"))
			if err != nil || n < 0 || p.FileName() == "" {
				formError(w, "bad file part "+name)
				return false
			}
			size += len(data)
			c.Files = append(c.Files, File{Index: n, Name: p.FileName(), Type: p.Header.Get("Content-Type"), Data: data})
		default:
			formError(w, "unexpected part "+name)
			return false
		}
	}
	if payload == nil {
		formError(w, "payload_json is missing")
		return false
	}
	if err := json.Unmarshal(payload, &c.Body); err != nil {
		formError(w, "payload_json is not a JSON object")
		return false
	}
	if size > MaxUpload {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"message": "Request entity too large", "code": 40005})
		return false
	}
	if len(c.Files) > MaxFiles {
		formError(w, fmt.Sprintf("at most %d files", MaxFiles))
		return false
	}
	list, _ := c.Body["attachments"].([]any)
	if len(list) != len(c.Files) {
		formError(w, fmt.Sprintf("attachments lists %d files, the body has %d", len(list), len(c.Files)))
		return false
	}
	byIndex := map[int]int{}
	for i, fl := range c.Files {
		if _, dup := byIndex[fl.Index]; dup {
			formError(w, fmt.Sprintf("files[%d] twice", fl.Index))
			return false
		}
		byIndex[fl.Index] = i
	}
	for _, a := range list {
		am, _ := a.(map[string]any)
		id, ok := am["id"].(string)
		n, err := strconv.Atoi(id)
		if !ok {
			if num, isNum := am["id"].(float64); isNum {
				n, err = int(num), nil
			} else {
				err = fmt.Errorf("no id")
			}
		}
		i, found := byIndex[n]
		if err != nil || !found {
			formError(w, fmt.Sprintf("attachment %v names no files[n] part", am["id"]))
			return false
		}
		if fn, _ := am["filename"].(string); fn != "" && fn != c.Files[i].Name {
			formError(w, fmt.Sprintf("attachment %d is called %q, its part %q", n, fn, c.Files[i].Name))
			return false
		}
		c.Files[i].Description, _ = am["description"].(string)
	}
	return true
}

// attachments turns a request's files into a message's attachment
// objects, as Discord stores them.
func (f *Server) attachments(files []File) []any {
	out := []any{}
	for _, fl := range files {
		out = append(out, map[string]any{"id": f.id(), "filename": fl.Name, "size": len(fl.Data),
			"content_type": fl.Type, "description": fl.Description,
			"url": "https://cdn.discordapp.com/attachments/0/0/" + fl.Name})
	}
	return out
}

// Files returns every file accepted in messages, webhooks and interaction
// answers, in order.
func (f *Server) Files() []File {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []File
	for _, c := range f.accepted {
		out = append(out, c.Files...)
	}
	return out
}

func (f *Server) id() string {
	f.next++
	return strconv.FormatInt(f.next, 10)
}

// post creates a message, unless enforce_nonce names a nonce seen within
// the window: then Discord answers with the message it already has.
func (f *Server) post(w http.ResponseWriter, channel string, c Call) {
	body := c.Body
	now := f.now()
	nonce, _ := body["nonce"].(string)
	if seen, ok := f.nonces[nonce]; ok && nonce != "" && body["enforce_nonce"] == true && now.Sub(seen.at) < f.window {
		writeJSON(w, http.StatusOK, map[string]any{"id": seen.id, "channel_id": channel})
		return
	}
	m := map[string]any{"id": f.id(), "channel_id": channel, "author": map[string]any{"id": "300000000000000001", "bot": true},
		"timestamp": now.UTC().Format(time.RFC3339)}
	for k, v := range body {
		if k != "nonce" && k != "enforce_nonce" {
			m[k] = v
		}
	}
	if len(c.Files) > 0 {
		m["attachments"] = f.attachments(c.Files)
		f.accepted = append(f.accepted, c)
	}
	if nonce != "" {
		f.nonces[nonce] = nonceSeen{id: m["id"].(string), at: now}
	}
	f.posts[nonce]++
	f.msgs[channel] = append(f.msgs[channel], m)
	if f.lose > 0 {
		f.lose--
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, m)
}
