package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// The gateway session is opsbot's own, over gorilla/websocket with
// discordgo's types for the events: discordgo (v0.28.1, and v0.29.0 as
// well) resumes at the address it first dialled instead of READY's
// resume_gateway_url, closes with 1000 and then tries to RESUME the session
// that close ended, calls a connection dead only after five missed
// heartbeat acks, and keeps reconnecting after Close.

// intakeIntents are what replies to a ticket's message need: the guild
// messages, and the privileged Message Content intent to read them.
// Interactions need no intent.
const intakeIntents = discordgo.IntentGuildMessages | discordgo.IntentMessageContent

// gatewayVersion is the gateway API version opsbot speaks, with JSON
// payloads and no transport compression.
const gatewayVersion = "10"

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
	closeUnknownError      = 4000
	closeUnknownOpcode     = 4001
	closeDecodeError       = 4002
	closeNotAuthenticated  = 4003
	closeAuthFailed        = 4004
	closeAlreadyIdentified = 4005
	closeInvalidSeq        = 4007
	closeSessionTimedOut   = 4009
	closeInvalidShard      = 4010
	closeShardingRequired  = 4011
	closeInvalidAPIVersion = 4012
	closeInvalidIntents    = 4013
	// closeDisallowedIntents: IDENTIFY asked for a privileged intent the
	// application has not been granted.
	closeDisallowedIntents = 4014
)

// closeResumable is the code opsbot closes with when it means to resume:
// Discord ends the session on 1000 and 1001 only.
const closeResumable = 4900

// handshakeTimeout bounds connecting to the gateway: the websocket
// handshake and Discord's HELLO and READY (or RESUMED).
const handshakeTimeout = 30 * time.Second

// maxReconnectWait is the longest pause between two failed connects.
const maxReconnectWait = time.Minute

// invalidSessionWait is how long to wait after INVALID SESSION (d: false)
// before identifying again: a random 1 to 5 seconds, as Discord asks.
func invalidSessionWait() time.Duration {
	return time.Second + rand.N(4*time.Second)
}

// gatewayStopped is a close code that no reconnect will heal: a bad token,
// shard settings, API version or intents.
type gatewayStopped struct{ code int }

func (e gatewayStopped) Error() string {
	why := map[int]string{
		closeAuthFailed:        "Discord refused the bot token (4004 authentication failed); check discord.token",
		closeInvalidShard:      "Discord refused the shard settings (4010 invalid shard)",
		closeShardingRequired:  "Discord requires sharding for this bot (4011 sharding required)",
		closeInvalidAPIVersion: "Discord refused gateway version " + gatewayVersion + " (4012 invalid API version)",
		closeInvalidIntents:    "Discord refused the gateway intents (4013 invalid intents)",
		closeDisallowedIntents: "Discord refused the gateway intents (4014 disallowed intents); switch them on in the developer portal",
	}[e.code]
	return "discord gateway stopped: " + why + "; restart opsbot once it is fixed"
}

// fatalClose reports whether a server close code will not heal.
func fatalClose(code int) bool {
	return code == closeAuthFailed || code >= closeInvalidShard && code <= closeDisallowedIntents
}

// next is what to do after a connection ends.
type next int

const (
	nextResume   next = iota // reconnect at resume_gateway_url and RESUME
	nextIdentify             // reconnect and IDENTIFY a new session
	nextWait                 // INVALID SESSION: wait 1–5 s, then IDENTIFY
	nextStop                 // ctx ended, or a close that will not heal
)

// gatewaySession is what a RESUME needs: the session, where to resume it
// and the last sequence number received.
type gatewaySession struct {
	id        string
	resumeURL string
	seq       int64
}

// gateway holds one bot's gateway session across connections.
type gateway struct {
	a       *Adapter
	intents discordgo.Intent
	// url is GET /gateway's answer, asked once per Run.
	url  string
	sess gatewaySession
	// work is the context event handlers run in: it outlives the session
	// by the shutdown grace period.
	work context.Context
	h    *inflight
}

// runGateway holds the gateway session until ctx ends. A replica that
// stops leading ends its session (close 1000) and keeps nothing that would
// reconnect: each interaction must run on one replica only.
func (a *Adapter) runGateway(ctx, work context.Context) error {
	var h inflight
	defer h.closeAndWait()
	g := &gateway{a: a, intents: discordgo.IntentsNone, work: work, h: &h}
	if a.intake != nil {
		g.intents = intakeIntents
	}
	wait := time.Second
	for {
		if g.url == "" {
			if err := g.lookup(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				a.log.Error("discord gateway: lookup failed; retrying", "err", err.Error(), "in", wait)
				if !sleep(ctx, wait) {
					return nil
				}
				wait = min(wait*2, maxReconnectWait)
				continue
			}
		}
		n, ready, err := g.connection(ctx)
		switch {
		case n == nextStop:
			return err
		case ready || n == nextWait:
			// Reconnect at once after a session that worked; INVALID
			// SESSION has a wait of its own.
			wait = time.Second
		default:
			if err != nil {
				a.log.Error("discord gateway: connect failed; retrying", "err", err.Error(), "in", wait)
			}
			if !sleep(ctx, wait) {
				return nil
			}
			wait = min(wait*2, maxReconnectWait)
		}
		switch n {
		case nextIdentify:
			g.sess = gatewaySession{}
		case nextWait:
			g.sess = gatewaySession{}
			if !sleep(ctx, a.invalidWait()) {
				return nil
			}
		}
	}
}

// lookup asks Discord (GET /gateway) where to connect.
func (g *gateway) lookup(ctx context.Context) error {
	var gw struct {
		URL string `json:"url"`
	}
	if err := g.a.api.do(ctx, "look up the gateway", http.MethodGet, "/gateway", false, nil, &gw); err != nil {
		return err
	}
	if gw.URL == "" {
		return errors.New("look up the gateway: no url in the answer")
	}
	g.url = gw.URL
	return nil
}

// sleep waits d, or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// payload is one gateway message.
type payload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

// dialURL is where to connect: resume_gateway_url for a RESUME, else the
// gateway, with the version and encoding.
func (g *gateway) dialURL() (string, error) {
	base := g.url
	if g.sess.id != "" && g.sess.resumeURL != "" {
		base = g.sess.resumeURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") {
		return "", fmt.Errorf("gateway url %q is not a websocket url", base)
	}
	q := u.Query()
	q.Set("v", gatewayVersion)
	q.Set("encoding", "json")
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// connection runs one websocket connection: HELLO, IDENTIFY or RESUME,
// heartbeats and dispatches, until it ends. It returns what to do next and
// whether the session became ready (READY or RESUMED) on it.
func (g *gateway) connection(ctx context.Context) (n next, ready bool, err error) {
	a := g.a
	u, err := g.dialURL()
	if err != nil {
		g.url = ""
		return nextIdentify, false, err
	}
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout,
		NetDialContext: (&net.Dialer{Timeout: handshakeTimeout}).DialContext}
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nextStop, false, nil
		}
		return nextResume, false, fmt.Errorf("dial the gateway: %w", err)
	}
	c := &gatewayConn{ws: ws, stop: make(chan struct{}), read: make(chan struct{})}
	frames := make(chan payload)
	gone := make(chan error, 1)
	go func() {
		defer close(c.read)
		for {
			_, raw, err := ws.ReadMessage()
			if err != nil {
				gone <- err
				return
			}
			var p payload
			if err := json.Unmarshal(raw, &p); err != nil {
				gone <- fmt.Errorf("decode gateway payload: %w", err)
				return
			}
			select {
			case frames <- p:
			case <-c.stop:
				return
			}
		}
	}()
	defer c.finish()

	handshake := time.NewTimer(handshakeTimeout)
	defer handshake.Stop()
	beat := time.NewTimer(time.Hour)
	beat.Stop()
	defer beat.Stop()
	var interval time.Duration
	acked := true
	heartbeat := func() error {
		var seq any
		if g.sess.seq > 0 {
			seq = g.sess.seq
		}
		return c.send(opHeartbeat, seq)
	}
	for {
		select {
		case <-ctx.Done():
			// 1000 ends the session on Discord's side: nothing is left
			// for this replica, or another, to resume.
			c.close(websocket.CloseNormalClosure)
			return nextStop, ready, nil
		case <-handshake.C:
			c.close(closeResumable)
			return nextResume, false, fmt.Errorf("no HELLO and READY (or RESUMED) within %s", handshakeTimeout)
		case <-beat.C:
			if !acked {
				// A zombied connection: reconnect and resume now.
				a.log.Warn("discord gateway: heartbeat not acknowledged; reconnecting")
				c.close(closeResumable)
				return nextResume, ready, nil
			}
			acked = false
			if err := heartbeat(); err != nil {
				return nextResume, ready, err
			}
			beat.Reset(interval)
		case err := <-gone:
			return g.ended(err, ready)
		case p := <-frames:
			if p.S != nil {
				g.sess.seq = *p.S
			}
			switch p.Op {
			case opHello:
				var h struct {
					Interval int64 `json:"heartbeat_interval"`
				}
				if err := json.Unmarshal(p.D, &h); err != nil || h.Interval <= 0 {
					c.close(closeResumable)
					return nextResume, false, errors.New("HELLO without a heartbeat interval")
				}
				interval = time.Duration(h.Interval) * time.Millisecond
				// The first heartbeat comes after a random part of the
				// interval, so that reconnecting clients spread out.
				beat.Reset(time.Duration(rand.Float64() * float64(interval)))
				if err := g.hello(c); err != nil {
					return nextResume, false, err
				}
			case opHeartbeatAck:
				acked = true
			case opHeartbeat:
				if err := heartbeat(); err != nil {
					return nextResume, ready, err
				}
			case opReconnect:
				a.log.Info("discord gateway: Discord asked to reconnect")
				c.close(closeResumable)
				return nextResume, ready, nil
			case opInvalidSession:
				var resumable bool
				_ = json.Unmarshal(p.D, &resumable)
				c.close(closeResumable)
				if resumable && g.sess.id != "" {
					a.log.Info("discord gateway: session invalidated, resumable; resuming")
					return nextResume, ready, nil
				}
				a.log.Info("discord gateway: session invalidated; identifying afresh")
				return nextWait, ready, nil
			case opDispatch:
				switch p.T {
				case "READY":
					var r struct {
						SessionID string `json:"session_id"`
						ResumeURL string `json:"resume_gateway_url"`
					}
					if err := json.Unmarshal(p.D, &r); err != nil || r.SessionID == "" {
						c.close(closeResumable)
						return nextIdentify, false, errors.New("READY without a session id")
					}
					g.sess.id, g.sess.resumeURL = r.SessionID, r.ResumeURL
					ready = true
					handshake.Stop()
					a.log.Info("discord gateway connected", "intents", int(g.intents))
				case "RESUMED":
					ready = true
					handshake.Stop()
					a.log.Info("discord gateway resumed")
				default:
					g.event(p.T, p.D)
				}
			}
		}
	}
}

// hello answers HELLO: RESUME when there is a session, else IDENTIFY.
func (g *gateway) hello(c *gatewayConn) error {
	tok := g.a.cfg.Token.Reveal()
	if g.sess.id != "" {
		return c.send(opResume, map[string]any{"token": tok, "session_id": g.sess.id, "seq": g.sess.seq})
	}
	return c.send(opIdentify, map[string]any{"token": tok, "intents": g.intents,
		"properties": map[string]string{"os": runtime.GOOS, "browser": "opsbot", "device": "opsbot"}})
}

// ended decides what follows a connection that Discord (or the network)
// closed.
func (g *gateway) ended(err error, ready bool) (next, bool, error) {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		g.a.log.Warn("discord gateway: disconnected; resuming", "err", err.Error())
		return nextResume, ready, nil
	}
	switch {
	case ce.Code == closeInvalidSeq || ce.Code == closeSessionTimedOut:
		g.a.log.Warn("discord gateway: session ended by Discord; identifying afresh", "code", ce.Code)
		return nextIdentify, ready, nil
	case ce.Code == closeDisallowedIntents && g.intents&discordgo.IntentMessageContent != 0:
		g.a.log.Error("discord gateway: Discord refused the Message Content intent; connecting without it, so replies to a ticket's message do not become comments until it is switched on (developer portal, Bot, Privileged Gateway Intents)")
		g.intents = discordgo.IntentsNone
		return nextIdentify, true, nil
	case fatalClose(ce.Code):
		err := gatewayStopped{code: ce.Code}
		g.a.log.Error(err.Error())
		return nextStop, ready, err
	}
	g.a.log.Warn("discord gateway: disconnected; resuming", "code", ce.Code)
	return nextResume, ready, nil
}

// event hands a dispatch to the adapter on a goroutine of its own, as
// HTTP requests are served: one slow command holds up no other.
func (g *gateway) event(typ string, d json.RawMessage) {
	switch typ {
	case "INTERACTION_CREATE":
		// Decoded as over HTTP, so component types discordgo does not
		// know (a modal's Label, say) do not drop the interaction.
		it, err := DecodeInteraction(d)
		if err != nil {
			g.a.log.Warn("discord gateway: undecodable interaction", "err", err)
			return
		}
		g.h.start(func() { g.a.OnInteraction(g.work, it) })
	case "MESSAGE_CREATE":
		if g.a.intake == nil {
			return
		}
		var m discordgo.Message
		if err := json.Unmarshal(d, &m); err != nil {
			g.a.log.Warn("discord gateway: undecodable message", "err", err)
			return
		}
		g.h.start(func() { g.a.OnMessage(g.work, &m) })
	}
}

// gatewayConn is one websocket connection to the gateway.
type gatewayConn struct {
	ws *websocket.Conn
	// stop ends the reader, which closes read when it returns.
	stop, read chan struct{}
}

// finish drops the connection and waits for its reader.
func (c *gatewayConn) finish() {
	close(c.stop)
	_ = c.ws.Close()
	<-c.read
}

func (c *gatewayConn) send(op int, d any) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode gateway payload: %w", err)
	}
	if err := c.ws.SetWriteDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return err
	}
	if err := c.ws.WriteJSON(payload{Op: op, D: raw}); err != nil {
		return fmt.Errorf("write to the gateway: %w", err)
	}
	return nil
}

// close sends a close frame with code; the deferred finish drops the
// connection.
func (c *gatewayConn) close(code int) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
}

// inflight counts the gateway's event handlers so that Run returns only
// after they have; events that arrive once it is shutting down are dropped.
type inflight struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// start runs f on a goroutine of its own unless shutdown has begun.
func (h *inflight) start(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

func (h *inflight) closeAndWait() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wg.Wait()
}
