package fakediscord

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// Gateway opcodes, as Discord numbers them.
const (
	opDispatch       = 0
	opHeartbeat      = 1
	opIdentify       = 2
	opResume         = 6
	opReconnect      = 7
	opInvalidSession = 9
	opHello          = 10
	opHeartbeatAck   = 11
)

// Gateway close codes Discord sends.
const (
	CloseUnknownError      = 4000
	CloseUnknownOpcode     = 4001
	CloseDecodeError       = 4002
	CloseNotAuthenticated  = 4003
	CloseAuthFailed        = 4004
	CloseAlreadyIdentified = 4005
	CloseInvalidSeq        = 4007
	CloseSessionTimedOut   = 4009
	CloseInvalidShard      = 4010
	CloseShardingRequired  = 4011
	CloseInvalidAPIVersion = 4012
	CloseInvalidIntents    = 4013
	CloseDisallowedIntents = 4014
)

// sessionEnding reports whether Discord ends the session along with a
// connection it closes with code: after 4007 and 4009 the client must
// IDENTIFY afresh, after 4004 and 4010-4014 it may not come back at all.
func sessionEnding(code int) bool {
	return code == CloseAuthFailed || code == CloseInvalidSeq || code == CloseSessionTimedOut ||
		code >= CloseInvalidShard && code <= CloseDisallowedIntents
}

// ApplicationID is the application (and bot user) id the fake gateway
// reports in READY.
const ApplicationID = "500000000000000001"

// PrivilegedIntents need a switch in the developer portal; asking for one
// that is off closes the connection with 4014.
const PrivilegedIntents = discordgo.IntentGuildMembers | discordgo.IntentGuildPresences | discordgo.IntentMessageContent

// Event is something a client did on the fake gateway.
type Event struct {
	// Kind is connect, refused (while down), identify, resume,
	// heartbeat, close (the client sent a close frame) or gone (the
	// connection ended).
	Kind          string
	Path, Version string
	Encoding      string
	Token         string
	Intents       discordgo.Intent
	Compress      bool
	OS            string
	Session       string
	Seq           int64  // RESUME's seq, a heartbeat's d (-1 for null)
	Code          int    // the client's close code
	Outcome       string // of a RESUME: resumed or rejected
	// At is when it happened; for identify and resume, Path is the path
	// the connection dialled (READY's resume_gateway_url ends in /resume).
	At time.Time
}

// frame is a gateway payload.
type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
}

// session is a gateway session: its intents, its dispatches (numbered
// from 1 and kept for RESUME) and its connection while it has one.
type session struct {
	id      string
	intents discordgo.Intent
	seq     int64
	sent    []frame
	conn    *conn
	invalid bool
}

type conn struct {
	ws      *websocket.Conn
	path    string
	version int
	wmu     sync.Mutex
	session *session
	closing bool // the fake closed it; the client's answer changes nothing
}

func (c *conn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteJSON(v)
}

// writeCompressed sends v as one zlib stream in a binary message, as
// Discord does for large payloads when IDENTIFY said compress: true.
func (c *conn) writeCompressed(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	z := zlib.NewWriter(&b)
	if _, err := z.Write(raw); err != nil {
		return err
	}
	if err := z.Close(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b.Bytes())
}

func (c *conn) closeWith(code int, reason string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// Gateway is a fake Discord gateway that speaks Discord's gateway protocol as Discord documents it
// (versions 9 and 10, JSON): HELLO, then IDENTIFY (READY) or RESUME
// (the missed dispatches, then RESUMED; INVALID SESSION when the session
// cannot be resumed), heartbeats answered with ACKs, dispatches numbered per
// session and kept while the session is disconnected. It checks what
// Discord checks: the bot token, the version and encoding, the order of
// opcodes, and privileged intents the application was not granted (4014).
// A client's close frame with 1000 or 1001 ends its session, as on Discord.
type Gateway struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	// portal are the privileged intents switched on in the developer portal.
	portal discordgo.Intent
	// interval is the heartbeat interval HELLO announces.
	interval time.Duration

	mu       sync.Mutex
	sessions []*session
	conns    []*conn
	noAck    bool
	silent   bool // accept connections and say nothing, not even HELLO
	down     bool // refuse connections with 503
	seen     chan Event
}

func NewGateway(t testing.TB, token string, portal discordgo.Intent) *Gateway {
	g := &Gateway{t: t, token: token, portal: portal, interval: 41250 * time.Millisecond, seen: make(chan Event, 4096)}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, c := range g.conns {
			_ = c.ws.Close()
		}
		g.mu.Unlock()
		g.srv.Close()
	})
	return g
}

// URL is what GET /gateway answers: Discord gives no trailing slash.
func (g *Gateway) URL() string { return "ws" + strings.TrimPrefix(g.srv.URL, "http") }

func (g *Gateway) report(e Event) {
	e.At = time.Now()
	select {
	case g.seen <- e:
	default:
	}
}

// Await returns the next event of one of the kinds, passing over others.
func (g *Gateway) Await(t *testing.T, kinds ...string) Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-g.seen:
			for _, k := range kinds {
				if e.Kind == k {
					return e
				}
			}
		case <-deadline:
			t.Fatalf("the fake gateway saw no %s", strings.Join(kinds, " or "))
			return Event{}
		}
	}
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		g.report(Event{Kind: "refused"})
		http.Error(w, "gateway unavailable", http.StatusServiceUnavailable)
		return
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	q := r.URL.Query()
	c := &conn{ws: ws, path: r.URL.Path}
	c.version, _ = strconv.Atoi(q.Get("v"))
	g.mu.Lock()
	g.conns = append(g.conns, c)
	silent, interval := g.silent, g.interval
	g.mu.Unlock()
	g.report(Event{Kind: "connect", Path: r.URL.Path, Version: q.Get("v"), Encoding: q.Get("encoding")})
	defer g.report(Event{Kind: "gone"})
	if silent {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}
	if v := q.Get("v"); v != "9" && v != "10" {
		c.closeWith(CloseInvalidAPIVersion, "Invalid API version.")
		return
	}
	if q.Get("encoding") != "json" {
		c.closeWith(CloseDecodeError, "Error while decoding payload.")
		return
	}
	if err := c.write(map[string]any{"op": opHello, "d": map[string]any{"heartbeat_interval": interval.Milliseconds()}, "s": nil, "t": nil}); err != nil {
		return
	}
	defer g.detach(c)
	for {
		mt, raw, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				g.report(Event{Kind: "close", Code: ce.Code})
				g.mu.Lock()
				if !c.closing && c.session != nil && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
					c.session.invalid = true
				}
				g.mu.Unlock()
			}
			return
		}
		var p frame
		if mt != websocket.TextMessage || json.Unmarshal(raw, &p) != nil {
			c.closeWith(CloseDecodeError, "Error while decoding payload.")
			return
		}
		switch p.Op {
		case opHeartbeat:
			seq := int64(-1)
			if string(p.D) != "null" {
				if err := json.Unmarshal(p.D, &seq); err != nil {
					c.closeWith(CloseDecodeError, "Error while decoding payload.")
					return
				}
			}
			g.report(Event{Kind: "heartbeat", Seq: seq})
			g.mu.Lock()
			ack := !g.noAck
			g.mu.Unlock()
			if ack {
				_ = c.write(map[string]any{"op": opHeartbeatAck})
			}
		case opIdentify:
			if !g.identify(c, p.D) {
				return
			}
		case opResume:
			if !g.resume(c, p.D) {
				return
			}
		default:
			g.mu.Lock()
			authed := c.session != nil
			g.mu.Unlock()
			if !authed {
				c.closeWith(CloseNotAuthenticated, "Not authenticated.")
			} else {
				c.closeWith(CloseUnknownOpcode, "Unknown opcode.")
			}
			return
		}
	}
}

// tokenOK accepts the bot token as Discord does, with or without the
// "Bot " prefix discordgo sends.
func (g *Gateway) tokenOK(tok string) bool {
	return tok == g.token || tok == "Bot "+g.token
}

func (g *Gateway) identify(c *conn, d json.RawMessage) bool {
	var id struct {
		Token      string            `json:"token"`
		Intents    *discordgo.Intent `json:"intents"`
		Compress   bool              `json:"compress"`
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(d, &id); err != nil {
		c.closeWith(CloseDecodeError, "Error while decoding payload.")
		return false
	}
	os := id.Properties["os"]
	if os == "" {
		os = id.Properties["$os"]
	}
	e := Event{Kind: "identify", Token: id.Token, Compress: id.Compress, OS: os, Path: c.path}
	if id.Intents != nil {
		e.Intents = *id.Intents
	}
	// Reported once READY is out, or the connection refused, so that what
	// a test dispatches next reaches the new session.
	defer g.report(e)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case c.session != nil:
		c.closeWith(CloseAlreadyIdentified, "Already authenticated.")
		return false
	case !g.tokenOK(id.Token):
		c.closeWith(CloseAuthFailed, "Authentication failed.")
		return false
	case id.Intents == nil || *id.Intents < 0 || *id.Intents >= 1<<26:
		c.closeWith(CloseInvalidIntents, "Invalid intent(s).")
		return false
	case *id.Intents&PrivilegedIntents&^g.portal != 0:
		c.closeWith(CloseDisallowedIntents, "Disallowed intent(s).")
		return false
	}
	s := &session{id: "fake-session-" + strconv.Itoa(len(g.sessions)+1), intents: *id.Intents, conn: c}
	g.sessions = append(g.sessions, s)
	c.session = s
	ready := map[string]any{"v": c.version, "session_id": s.id, "resume_gateway_url": g.URL() + "/resume",
		"user":        map[string]any{"id": ApplicationID, "username": "opsbot", "discriminator": "0", "bot": true},
		"application": map[string]any{"id": ApplicationID, "flags": 0}, "guilds": []any{}, "private_channels": []any{}}
	f := s.frame("READY", ready)
	if id.Compress {
		_ = c.writeCompressed(f)
	} else {
		_ = c.write(f)
	}
	return true
}

func (g *Gateway) resume(c *conn, d json.RawMessage) bool {
	var r struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if err := json.Unmarshal(d, &r); err != nil {
		c.closeWith(CloseDecodeError, "Error while decoding payload.")
		return false
	}
	e := Event{Kind: "resume", Token: r.Token, Session: r.SessionID, Seq: r.Seq, Path: c.path}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.session != nil {
		c.closeWith(CloseAlreadyIdentified, "Already authenticated.")
		return false
	}
	if !g.tokenOK(r.Token) {
		c.closeWith(CloseAuthFailed, "Authentication failed.")
		return false
	}
	var s *session
	for _, x := range g.sessions {
		if x.id == r.SessionID && !x.invalid && r.Seq <= x.seq {
			s = x
		}
	}
	if s == nil {
		// The client must IDENTIFY afresh on this connection.
		e.Outcome = "rejected"
		g.report(e)
		_ = c.write(map[string]any{"op": opInvalidSession, "d": false, "s": nil, "t": nil})
		return true
	}
	if s.conn != nil && s.conn != c {
		s.conn.closing = true
		s.conn.closeWith(CloseUnknownError, "Session resumed elsewhere.")
	}
	s.conn, c.session = c, s
	for _, f := range s.sent {
		if *f.S > r.Seq {
			_ = c.write(f)
		}
	}
	_ = c.write(s.frame("RESUMED", map[string]any{}))
	e.Outcome = "resumed"
	g.report(e)
	return true
}

// frame numbers a dispatch in the session and keeps it for RESUME.
func (s *session) frame(typ string, d any) frame {
	raw, _ := json.Marshal(d)
	s.seq++
	seq := s.seq
	f := frame{Op: opDispatch, D: raw, S: &seq, T: &typ}
	s.sent = append(s.sent, f)
	return f
}

func (g *Gateway) detach(c *conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.session != nil && c.session.conn == c {
		c.session.conn = nil
	}
}

// Dispatch sends an event to every session that may receive it, as
// Discord does; a session without a connection gets it when it resumes.
// MESSAGE_CREATE needs the guild (or direct) messages intent, and its
// content is blank without the Message Content intent.
func (g *Gateway) Dispatch(typ string, d map[string]any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		if s.invalid {
			continue
		}
		ev := d
		if typ == "MESSAGE_CREATE" {
			need := discordgo.IntentGuildMessages
			if d["guild_id"] == nil {
				need = discordgo.IntentDirectMessages
			}
			if s.intents&need == 0 {
				continue
			}
			if s.intents&discordgo.IntentMessageContent == 0 && d["guild_id"] != nil {
				ev = map[string]any{}
				for k, v := range d {
					ev[k] = v
				}
				ev["content"], ev["embeds"], ev["attachments"], ev["components"] = "", []any{}, []any{}, []any{}
			}
		}
		f := s.frame(typ, ev)
		if s.conn != nil {
			_ = s.conn.write(f)
		}
	}
}

// live returns the connections that carry a session.
func (g *Gateway) live() []*conn {
	var out []*conn
	for _, s := range g.sessions {
		if s.conn != nil {
			out = append(out, s.conn)
		}
	}
	return out
}

// Drop closes every session's connection with a close code; 4007, 4009
// and the codes that will not heal end the session as well, as on Discord.
func (g *Gateway) Drop(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		c.closing = true
		if sessionEnding(code) {
			c.session.invalid = true
		}
		c.session.conn = nil
		c.closeWith(code, "")
	}
}

// Cut ends every session's TCP connection without a close frame.
func (g *Gateway) Cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		c.closing = true
		c.session.conn = nil
		_ = c.ws.Close()
	}
}

// Reconnect sends op 7 RECONNECT on every session's connection.
func (g *Gateway) Reconnect() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		// The client closes; with 1000 or 1001 it ends its session.
		_ = c.write(map[string]any{"op": opReconnect, "d": nil, "s": nil, "t": nil})
	}
}

// SetAck turns heartbeat ACKs on or off.
func (g *Gateway) SetAck(on bool) {
	g.mu.Lock()
	g.noAck = !on
	g.mu.Unlock()
}

// SetDown refuses new connections with 503 while on.
func (g *Gateway) SetDown(on bool) {
	g.mu.Lock()
	g.down = on
	g.mu.Unlock()
}

// SetInterval sets the heartbeat interval HELLO announces.
func (g *Gateway) SetInterval(d time.Duration) {
	g.mu.Lock()
	g.interval = d
	g.mu.Unlock()
}

// SetSilent accepts connections and says nothing, not even HELLO, while on.
func (g *Gateway) SetSilent(on bool) {
	g.mu.Lock()
	g.silent = on
	g.mu.Unlock()
}

// Invalidate sends op 9 INVALID SESSION on every session's connection: d
// true lets the client resume, d false ends the session. It returns when
// the op was sent.
func (g *Gateway) Invalidate(resumable bool) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		if !resumable {
			c.closing = true
			c.session.invalid = true
		}
		_ = c.write(map[string]any{"op": opInvalidSession, "d": resumable, "s": nil, "t": nil})
	}
	return time.Now()
}

// SessionCount is how many sessions clients have identified.
func (g *Gateway) SessionCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Flush forgets the events seen so far and returns how many there were of
// each kind.
func (g *Gateway) Flush() map[string]int {
	n := map[string]int{}
	for {
		select {
		case e := <-g.seen:
			n[e.Kind]++
		default:
			return n
		}
	}
}
