package discord

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

// The opcodes and close codes are the adapter's (gateway.go): both follow
// Discord's documentation.

// privilegedIntents need a switch in the developer portal; asking for one
// that is off closes the connection with 4014.
const privilegedIntents = discordgo.IntentGuildMembers | discordgo.IntentGuildPresences | discordgo.IntentMessageContent

// gwEvent is something a client did on the fake gateway.
type gwEvent struct {
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

// gwFrame is a gateway payload.
type gwFrame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
}

// gwSession is a gateway session: its intents, its dispatches (numbered
// from 1 and kept for RESUME) and its connection while it has one.
type gwSession struct {
	id      string
	intents discordgo.Intent
	seq     int64
	sent    []gwFrame
	conn    *gwConn
	invalid bool
}

type gwConn struct {
	ws      *websocket.Conn
	path    string
	version int
	wmu     sync.Mutex
	session *gwSession
	closing bool // the fake closed it; the client's answer changes nothing
}

func (c *gwConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteJSON(v)
}

// writeCompressed sends v as one zlib stream in a binary message, as
// Discord does for large payloads when IDENTIFY said compress: true.
func (c *gwConn) writeCompressed(v any) error {
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

func (c *gwConn) closeWith(code int, reason string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// fakeGateway speaks Discord's gateway protocol as Discord documents it
// (versions 9 and 10, JSON): HELLO, then IDENTIFY (READY) or RESUME
// (the missed dispatches, then RESUMED; INVALID SESSION when the session
// cannot be resumed), heartbeats answered with ACKs, dispatches numbered per
// session and kept while the session is disconnected. It checks what
// Discord checks: the bot token, the version and encoding, the order of
// opcodes, and privileged intents the application was not granted (4014).
// A client's close frame with 1000 or 1001 ends its session, as on Discord.
type fakeGateway struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	// portal are the privileged intents switched on in the developer portal.
	portal discordgo.Intent
	// interval is the heartbeat interval HELLO announces.
	interval time.Duration

	mu       sync.Mutex
	sessions []*gwSession
	conns    []*gwConn
	noAck    bool
	silent   bool // accept connections and say nothing, not even HELLO
	down     bool // refuse connections with 503
	seen     chan gwEvent
}

func newFakeGateway(t testing.TB, token string, portal discordgo.Intent) *fakeGateway {
	g := &fakeGateway{t: t, token: token, portal: portal, interval: 41250 * time.Millisecond, seen: make(chan gwEvent, 4096)}
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

// url is what GET /gateway answers: Discord gives no trailing slash.
func (g *fakeGateway) url() string { return "ws" + strings.TrimPrefix(g.srv.URL, "http") }

func (g *fakeGateway) report(e gwEvent) {
	e.At = time.Now()
	select {
	case g.seen <- e:
	default:
	}
}

// await returns the next event of one of the kinds, passing over others.
func (g *fakeGateway) await(t *testing.T, kinds ...string) gwEvent {
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
			return gwEvent{}
		}
	}
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		g.report(gwEvent{Kind: "refused"})
		http.Error(w, "gateway unavailable", http.StatusServiceUnavailable)
		return
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	q := r.URL.Query()
	c := &gwConn{ws: ws, path: r.URL.Path}
	c.version, _ = strconv.Atoi(q.Get("v"))
	g.mu.Lock()
	g.conns = append(g.conns, c)
	silent, interval := g.silent, g.interval
	g.mu.Unlock()
	g.report(gwEvent{Kind: "connect", Path: r.URL.Path, Version: q.Get("v"), Encoding: q.Get("encoding")})
	defer g.report(gwEvent{Kind: "gone"})
	if silent {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}
	if v := q.Get("v"); v != "9" && v != "10" {
		c.closeWith(closeInvalidAPIVersion, "Invalid API version.")
		return
	}
	if q.Get("encoding") != "json" {
		c.closeWith(closeDecodeError, "Error while decoding payload.")
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
				g.report(gwEvent{Kind: "close", Code: ce.Code})
				g.mu.Lock()
				if !c.closing && c.session != nil && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
					c.session.invalid = true
				}
				g.mu.Unlock()
			}
			return
		}
		var p gwFrame
		if mt != websocket.TextMessage || json.Unmarshal(raw, &p) != nil {
			c.closeWith(closeDecodeError, "Error while decoding payload.")
			return
		}
		switch p.Op {
		case opHeartbeat:
			seq := int64(-1)
			if string(p.D) != "null" {
				if err := json.Unmarshal(p.D, &seq); err != nil {
					c.closeWith(closeDecodeError, "Error while decoding payload.")
					return
				}
			}
			g.report(gwEvent{Kind: "heartbeat", Seq: seq})
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
				c.closeWith(closeNotAuthenticated, "Not authenticated.")
			} else {
				c.closeWith(closeUnknownOpcode, "Unknown opcode.")
			}
			return
		}
	}
}

// tokenOK accepts the bot token as Discord does, with or without the
// "Bot " prefix discordgo sends.
func (g *fakeGateway) tokenOK(tok string) bool {
	return tok == g.token || tok == "Bot "+g.token
}

func (g *fakeGateway) identify(c *gwConn, d json.RawMessage) bool {
	var id struct {
		Token      string            `json:"token"`
		Intents    *discordgo.Intent `json:"intents"`
		Compress   bool              `json:"compress"`
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(d, &id); err != nil {
		c.closeWith(closeDecodeError, "Error while decoding payload.")
		return false
	}
	os := id.Properties["os"]
	if os == "" {
		os = id.Properties["$os"]
	}
	e := gwEvent{Kind: "identify", Token: id.Token, Compress: id.Compress, OS: os, Path: c.path}
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
		c.closeWith(closeAlreadyIdentified, "Already authenticated.")
		return false
	case !g.tokenOK(id.Token):
		c.closeWith(closeAuthFailed, "Authentication failed.")
		return false
	case id.Intents == nil || *id.Intents < 0 || *id.Intents >= 1<<26:
		c.closeWith(closeInvalidIntents, "Invalid intent(s).")
		return false
	case *id.Intents&privilegedIntents&^g.portal != 0:
		c.closeWith(closeDisallowedIntents, "Disallowed intent(s).")
		return false
	}
	s := &gwSession{id: "fake-session-" + strconv.Itoa(len(g.sessions)+1), intents: *id.Intents, conn: c}
	g.sessions = append(g.sessions, s)
	c.session = s
	ready := map[string]any{"v": c.version, "session_id": s.id, "resume_gateway_url": g.url() + "/resume",
		"user":        map[string]any{"id": testApp, "username": "opsbot", "discriminator": "0", "bot": true},
		"application": map[string]any{"id": testApp, "flags": 0}, "guilds": []any{}, "private_channels": []any{}}
	f := s.frame("READY", ready)
	if id.Compress {
		_ = c.writeCompressed(f)
	} else {
		_ = c.write(f)
	}
	return true
}

func (g *fakeGateway) resume(c *gwConn, d json.RawMessage) bool {
	var r struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if err := json.Unmarshal(d, &r); err != nil {
		c.closeWith(closeDecodeError, "Error while decoding payload.")
		return false
	}
	e := gwEvent{Kind: "resume", Token: r.Token, Session: r.SessionID, Seq: r.Seq, Path: c.path}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.session != nil {
		c.closeWith(closeAlreadyIdentified, "Already authenticated.")
		return false
	}
	if !g.tokenOK(r.Token) {
		c.closeWith(closeAuthFailed, "Authentication failed.")
		return false
	}
	var s *gwSession
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
		s.conn.closeWith(closeUnknownError, "Session resumed elsewhere.")
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
func (s *gwSession) frame(typ string, d any) gwFrame {
	raw, _ := json.Marshal(d)
	s.seq++
	seq := s.seq
	f := gwFrame{Op: opDispatch, D: raw, S: &seq, T: &typ}
	s.sent = append(s.sent, f)
	return f
}

func (g *fakeGateway) detach(c *gwConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.session != nil && c.session.conn == c {
		c.session.conn = nil
	}
}

// dispatch sends an event to every session that may receive it, as
// Discord does; a session without a connection gets it when it resumes.
// MESSAGE_CREATE needs the guild (or direct) messages intent, and its
// content is blank without the Message Content intent.
func (g *fakeGateway) dispatch(typ string, d map[string]any) {
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
func (g *fakeGateway) live() []*gwConn {
	var out []*gwConn
	for _, s := range g.sessions {
		if s.conn != nil {
			out = append(out, s.conn)
		}
	}
	return out
}

// drop closes every session's connection with a close code; 4007, 4009
// and the codes that will not heal end the session as well, as on Discord.
func (g *fakeGateway) drop(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		c.closing = true
		if code == closeInvalidSeq || code == closeSessionTimedOut || fatalClose(code) {
			c.session.invalid = true
		}
		c.session.conn = nil
		c.closeWith(code, "")
	}
}

// cut ends every session's TCP connection without a close frame.
func (g *fakeGateway) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		c.closing = true
		c.session.conn = nil
		_ = c.ws.Close()
	}
}

// reconnect sends op 7 RECONNECT on every session's connection.
func (g *fakeGateway) reconnect() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.live() {
		// The client closes; with 1000 or 1001 it ends its session.
		_ = c.write(map[string]any{"op": opReconnect, "d": nil, "s": nil, "t": nil})
	}
}

func (g *fakeGateway) setAck(on bool) {
	g.mu.Lock()
	g.noAck = !on
	g.mu.Unlock()
}

func (g *fakeGateway) setDown(on bool) {
	g.mu.Lock()
	g.down = on
	g.mu.Unlock()
}

func (g *fakeGateway) setInterval(d time.Duration) {
	g.mu.Lock()
	g.interval = d
	g.mu.Unlock()
}

func (g *fakeGateway) setSilent(on bool) {
	g.mu.Lock()
	g.silent = on
	g.mu.Unlock()
}

// invalidate sends op 9 INVALID SESSION on every session's connection: d
// true lets the client resume, d false ends the session. It returns when
// the op was sent.
func (g *fakeGateway) invalidate(resumable bool) time.Time {
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

// sessionCount is how many sessions clients have identified.
func (g *fakeGateway) sessionCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// flush forgets the events seen so far.
func (g *fakeGateway) flush() {
	for {
		select {
		case <-g.seen:
		default:
			return
		}
	}
}
