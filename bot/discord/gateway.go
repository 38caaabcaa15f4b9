package discord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// intakeIntents are what replies to a ticket's message need: the guild
// messages, and the privileged Message Content intent to read them.
// Interactions need no intent.
const intakeIntents = discordgo.IntentGuildMessages | discordgo.IntentMessageContent

// closeDisallowedIntents is the close code Discord sends when IDENTIFY asks
// for a privileged intent the application has not been granted.
const closeDisallowedIntents = 4014

// handshakeTimeout bounds connecting to the gateway: the websocket
// handshake and Discord's HELLO and READY (or RESUMED).
const handshakeTimeout = 30 * time.Second

// maxReconnectWait is the longest pause between two failed connects.
const maxReconnectWait = time.Minute

// runGateway holds the gateway session until ctx ends. It reconnects
// itself rather than through discordgo, whose reconnect loop outlives
// Close: a replica that stopped leading would keep, or regain, a session
// and run every interaction a second time.
func (a *Adapter) runGateway(ctx context.Context) error {
	s, err := discordgo.New("Bot " + a.cfg.Token.Reveal())
	if err != nil {
		return errors.New("discord gateway: cannot build the session")
	}
	s.ShouldReconnectOnError = false
	// A 429 is waited out by connect, which ctx can stop, not by a sleep.
	s.ShouldRetryOnRateLimit = false
	// discordgo's endpoints are package variables; its only REST call, the
	// gateway URL lookup, goes to discord.api_url through the transport.
	next := a.api.http.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	s.Client = &http.Client{Timeout: requestTimeout, Transport: &apiTransport{ctx: ctx, from: discordgo.EndpointAPI,
		to: a.api.base + "/", next: next}}
	d := gatewayDialer{ctx: ctx}
	s.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, NetDialContext: d.dial, HandshakeTimeout: handshakeTimeout}

	var h inflight
	defer h.closeAndWait()
	down := make(chan struct{}, 1)
	s.AddHandler(func(*discordgo.Session, *discordgo.Disconnect) {
		select {
		case down <- struct{}{}:
		default:
		}
	})
	s.AddHandler(func(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
		h.do(func() { a.OnInteraction(ctx, ic.Interaction) })
	})
	s.Identify.Intents = discordgo.IntentsNone
	if a.intake != nil {
		s.Identify.Intents = intakeIntents
		s.AddHandler(func(_ *discordgo.Session, mc *discordgo.MessageCreate) {
			h.do(func() { a.OnMessage(ctx, mc.Message) })
		})
	}

	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		// Gateway interactions are recorded as HTTP ones are.
		a.prune(ctx)
	}()
	defer func() { <-pruned }()

	for a.connect(ctx, s, &d) {
		select {
		case <-ctx.Done():
		case <-down:
			if ctx.Err() == nil {
				a.log.Warn("discord gateway: disconnected; reconnecting")
				continue
			}
		}
		break
	}
	// Close sends close code 1000, which ends the session on Discord's side.
	if err := s.Close(); err != nil {
		a.log.Warn("discord gateway: close", "err", err)
	}
	return nil
}

// connect opens the session, resuming it when discordgo still has one,
// and retries with a growing pause until it is open; false when ctx ended
// first. Should Discord refuse the Message Content intent, the session
// goes on without it: commands matter more than comments from replies.
func (a *Adapter) connect(ctx context.Context, s *discordgo.Session, d *gatewayDialer) bool {
	wait := time.Second
	for {
		err := d.open(ctx, s)
		if errors.Is(err, discordgo.ErrWSAlreadyOpen) {
			// A second Disconnect for a connection already replaced.
			return true
		}
		if err == nil {
			a.log.Info("discord gateway connected", "intents", int(s.Identify.Intents))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == closeDisallowedIntents && s.Identify.Intents&discordgo.IntentMessageContent != 0 {
			a.log.Error("discord gateway: Discord refused the Message Content intent; connecting without it, so replies to a ticket's message do not become comments until it is switched on (developer portal, Bot, Privileged Gateway Intents)")
			s.Identify.Intents = discordgo.IntentsNone
			continue
		}
		// discordgo's errors do not carry the token, but stay terse anyway.
		a.log.Error("discord gateway: connect failed; retrying", "err", err.Error(), "in", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, maxReconnectWait)
	}
}

// gatewayDialer dials the gateway for discordgo and remembers the
// connection while Open runs: discordgo reads HELLO and READY without a
// deadline, so the dialer sets one and ctx can cut the connection.
type gatewayDialer struct {
	// ctx is the session's: discordgo dials without one.
	ctx  context.Context
	mu   sync.Mutex
	conn net.Conn
}

func (d *gatewayDialer) dial(_ context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: handshakeTimeout}).DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		c.Close()
		return nil, fmt.Errorf("set gateway handshake deadline: %w", err)
	}
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, nil
}

// open runs s.Open, which ctx ends by closing the connection being set up;
// an open connection loses its handshake deadline (heartbeats watch it).
func (d *gatewayDialer) open(ctx context.Context, s *discordgo.Session) error {
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conn != nil {
			d.conn.Close()
		}
	})
	err := s.Open()
	stop()
	d.mu.Lock()
	c := d.conn
	d.conn = nil
	d.mu.Unlock()
	if err == nil && c != nil {
		if err := c.SetDeadline(time.Time{}); err != nil {
			return fmt.Errorf("clear gateway handshake deadline: %w", err)
		}
	}
	return err
}

// apiTransport sends the requests discordgo makes to Discord's API base to
// another base (discord.api_url), within the gateway session's context.
type apiTransport struct {
	// ctx is the session's: a lookup must not outlive Run.
	ctx      context.Context
	from, to string
	next     http.RoundTripper
}

func (t *apiTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	if rest, ok := strings.CutPrefix(r.URL.String(), t.from); ok {
		u, err := r.URL.Parse(t.to + rest)
		if err != nil {
			return nil, fmt.Errorf("discord api url: %w", err)
		}
		r.URL, r.Host = u, u.Host
	}
	return t.next.RoundTrip(r)
}

// inflight counts the gateway's event handlers, which discordgo runs on
// goroutines of its own, so that Run returns only after they have; events
// that arrive once it is shutting down are dropped.
type inflight struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (h *inflight) do(f func()) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	f()
}

func (h *inflight) closeAndWait() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wg.Wait()
}
