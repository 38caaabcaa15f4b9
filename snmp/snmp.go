// Package snmp is opsbot's SNMP client: it reads single values, walks tables
// and fetches the system group and the interface table from a device, with
// SNMPv1, v2c and v3 (authNoPriv and authPriv). It is the only package that
// imports gosnmp; device lookups (handlers/devices) and snmp checks (checks)
// share one [Client]. Every query is bounded by the profile's timeout and
// retries, by the caller's context and by the client's limit on concurrent
// queries (devices.max_concurrent).
//
// Errors say what went wrong in terms a person can act on: [ErrTimeout] (no
// answer: wrong address, firewall, or a wrong v1/v2c community, which agents
// silently drop), [ErrAuth] (a v3 agent refused the user or passphrases),
// [ErrUnreachable] (the host said nothing listens there). They never contain
// a community or passphrase.
package snmp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"

	"opsbot/config"
)

// Profile says how to talk SNMP to one device.
type Profile struct {
	// Version is "1", "2c" or "3".
	Version string
	// Community is the v1/v2c community.
	Community string
	// Port is the agent's UDP port.
	Port int
	// Timeout limits one attempt; Retries more attempts follow a timeout.
	Timeout time.Duration
	Retries int
	// User, the protocols and passphrases are the v3 USM credentials. An
	// empty AuthProtocol means noAuthNoPriv; an empty PrivProtocol authNoPriv.
	User           string
	AuthProtocol   string
	AuthPassphrase string
	PrivProtocol   string
	PrivPassphrase string
	// Context is the v3 context name.
	Context string
}

// FromConfig turns an effective config profile into a client profile.
func FromConfig(p config.SNMPProfile) Profile {
	return Profile{
		Version: p.Version, Community: p.Community.Reveal(), Port: p.Port,
		Timeout: time.Duration(p.Timeout), Retries: p.Retries,
		User: p.User, AuthProtocol: p.AuthProtocol, AuthPassphrase: p.AuthPassphrase.Reveal(),
		PrivProtocol: p.PrivProtocol, PrivPassphrase: p.PrivPassphrase.Reveal(), Context: p.Context,
	}
}

// String describes the profile without any secret: "v2c", "v3 ops authPriv
// SHA/AES".
func (p Profile) String() string {
	if p.Version != "3" {
		return "v" + p.Version
	}
	level := "noAuthNoPriv"
	switch {
	case p.AuthProtocol != "" && p.PrivProtocol != "":
		level = "authPriv " + p.AuthProtocol + "/" + p.PrivProtocol
	case p.AuthProtocol != "":
		level = "authNoPriv " + p.AuthProtocol
	}
	return "v3 " + p.User + " " + level
}

// Budget is the longest a single request may take with its retries.
func (p Profile) Budget() time.Duration {
	return p.Timeout * time.Duration(p.Retries+1)
}

// The kinds of failure a caller tells apart with errors.Is.
var (
	// ErrTimeout means the agent did not answer in time.
	ErrTimeout = errors.New("no answer")
	// ErrAuth means a v3 agent rejected the user, the security level or a
	// passphrase.
	ErrAuth = errors.New("authentication failed")
	// ErrUnreachable means the host answered that nothing listens on the port.
	ErrUnreachable = errors.New("port unreachable")
	// ErrNoSuchObject means the agent has no value at the OID.
	ErrNoSuchObject = errors.New("no such object")
	// ErrTooMany means a walk returned more rows than the client keeps.
	ErrTooMany = errors.New("too many values")
)

// Error is a failed query: which host, what was being done, and why.
type Error struct {
	Host   string
	Op     string
	Reason string // short, secret-free reason for people
	Err    error  // one of the Err* kinds, or the underlying error
}

func (e *Error) Error() string {
	return fmt.Sprintf("snmp %s %s: %s", e.Op, e.Host, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// MaxWalk is how many values one walk keeps before it stops with ErrTooMany.
const MaxWalk = 20000

// Client runs SNMP queries, at most a fixed number at once.
type Client struct {
	sem chan struct{}
}

// NewClient returns a client that runs at most maxConcurrent queries at once.
func NewClient(maxConcurrent int) *Client {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	return &Client{sem: make(chan struct{}, maxConcurrent)}
}

// Value is one variable an agent returned.
type Value struct {
	// OID is the numeric OID without a leading dot.
	OID string
	// Type names the SNMP type, e.g. OctetString, Counter64, TimeTicks.
	Type string
	// Raw is the decoded value: string for octet strings and OIDs, uint64
	// for counters, gauges and time ticks, int64 for integers.
	Raw any
}

// String formats the value for people.
func (v Value) String() string {
	switch r := v.Raw.(type) {
	case string:
		return r
	case nil:
		return ""
	default:
		return fmt.Sprint(r)
	}
}

// Missing reports whether the agent has no value at the OID: it answered
// noSuchObject, noSuchInstance or endOfMibView.
func (v Value) Missing() bool {
	switch v.Type {
	case gosnmp.NoSuchObject.String(), gosnmp.NoSuchInstance.String(), gosnmp.EndOfMibView.String():
		return true
	}
	return false
}

// Uint returns a numeric value as uint64, and whether it was numeric.
func (v Value) Uint() (uint64, bool) {
	switch r := v.Raw.(type) {
	case uint64:
		return r, true
	case int64:
		if r >= 0 {
			return uint64(r), true
		}
	}
	return 0, false
}

// session opens a gosnmp session for one query; the caller must hold a slot
// and close the connection.
func session(ctx context.Context, host string, p Profile) (*gosnmp.GoSNMP, error) {
	g := &gosnmp.GoSNMP{
		Target: host, Port: uint16(p.Port), Timeout: p.Timeout, Retries: p.Retries,
		Context: ctx, MaxOids: gosnmp.MaxOids, MaxRepetitions: 25,
		Community: p.Community, Transport: "udp",
	}
	if p.Port < 1 || p.Port > 65535 {
		return nil, fmt.Errorf("port %d out of range", p.Port)
	}
	if p.Timeout <= 0 {
		return nil, fmt.Errorf("timeout must be positive")
	}
	switch p.Version {
	case "1":
		g.Version = gosnmp.Version1
	case "2c", "":
		g.Version = gosnmp.Version2c
	case "3":
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.ContextName = p.Context
		usm := &gosnmp.UsmSecurityParameters{UserName: p.User}
		g.MsgFlags = gosnmp.NoAuthNoPriv
		if p.AuthProtocol != "" {
			ap, ok := authProtocols[p.AuthProtocol]
			if !ok {
				return nil, fmt.Errorf("unknown auth protocol %q", p.AuthProtocol)
			}
			usm.AuthenticationProtocol, usm.AuthenticationPassphrase = ap, p.AuthPassphrase
			g.MsgFlags = gosnmp.AuthNoPriv
		}
		if p.PrivProtocol != "" {
			pp, ok := privProtocols[p.PrivProtocol]
			if !ok {
				return nil, fmt.Errorf("unknown priv protocol %q", p.PrivProtocol)
			}
			usm.PrivacyProtocol, usm.PrivacyPassphrase = pp, p.PrivPassphrase
			g.MsgFlags = gosnmp.AuthPriv
		}
		g.SecurityParameters = usm
	default:
		return nil, fmt.Errorf("unknown SNMP version %q", p.Version)
	}
	return g, nil
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224, "SHA256": gosnmp.SHA256,
	"SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192, "AES256": gosnmp.AES256,
	"AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}

// do runs fn on a connected session while holding a concurrency slot.
func (c *Client) do(ctx context.Context, op, host string, p Profile, fn func(g *gosnmp.GoSNMP) error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return &Error{Host: host, Op: op, Reason: "gave up waiting for a free SNMP slot", Err: ctx.Err()}
	}
	defer func() { <-c.sem }()
	// The whole query, retries and walks included, gets a hard deadline so
	// that nothing can hang: generous for walks, which take many requests.
	budget := p.Budget()
	if op == "walk" {
		budget *= 10
	}
	ctx, cancel := context.WithTimeout(ctx, budget+time.Second)
	defer cancel()
	g, err := session(ctx, host, p)
	if err != nil {
		return &Error{Host: host, Op: op, Reason: err.Error(), Err: err}
	}
	if err := g.Connect(); err != nil {
		return classify(op, host, err)
	}
	defer g.Conn.Close()
	if err := fn(g); err != nil {
		return classify(op, host, err)
	}
	return nil
}

// classify maps gosnmp's and the network's errors to secret-free kinds.
func classify(op, host string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	e := &Error{Host: host, Op: op, Err: err}
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, gosnmp.ErrWrongDigest):
		e.Reason, e.Err = "wrong v3 authentication passphrase (or auth protocol)", ErrAuth
	case errors.Is(err, gosnmp.ErrDecryption):
		e.Reason, e.Err = "wrong v3 privacy passphrase (or priv protocol)", ErrAuth
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		e.Reason, e.Err = "unknown v3 user", ErrAuth
	case strings.Contains(err.Error(), "not authentic"), strings.Contains(err.Error(), "not authenticated"):
		// Net-SNMP answers a wrong auth passphrase or an unknown user with
		// an unauthenticated report, which gosnmp rejects as not authentic.
		e.Reason, e.Err = "the agent rejected the v3 credentials (unknown user or wrong authentication passphrase)", ErrAuth
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		e.Reason, e.Err = "the agent does not accept this v3 security level for the user", ErrAuth
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason, e.Err = "nothing listens on that UDP port (port unreachable)", ErrUnreachable
	case errors.As(err, &dnsErr):
		e.Reason = "cannot resolve the address: " + dnsErr.Err
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout(), strings.Contains(err.Error(), "timeout"):
		e.Reason, e.Err = "no answer", ErrTimeout
	case errors.Is(err, context.Canceled):
		e.Reason = "cancelled"
	case errors.Is(err, ErrTooMany):
		e.Reason = fmt.Sprintf("more than %d values; ask for a narrower OID", MaxWalk)
	default:
		// gosnmp's other errors describe packets, never credentials.
		e.Reason = err.Error()
	}
	return e
}

// Get reads the given numeric OIDs in one request. An OID the agent has no
// value for comes back with Type "NoSuchObject" and a nil Raw.
func (c *Client) Get(ctx context.Context, host string, p Profile, oids ...string) ([]Value, error) {
	var out []Value
	err := c.do(ctx, "get", host, p, func(g *gosnmp.GoSNMP) error {
		for start := 0; start < len(oids); start += gosnmp.MaxOids {
			end := min(start+gosnmp.MaxOids, len(oids))
			pkt, err := g.Get(oids[start:end])
			if err != nil {
				return err
			}
			if pkt.Error != gosnmp.NoError {
				return fmt.Errorf("agent answered %s", pkt.Error)
			}
			for _, v := range pkt.Variables {
				out = append(out, convert(v))
			}
		}
		return nil
	})
	return out, err
}

// Walk reads every value under root: with GETBULK for v2c and v3, with
// GETNEXT for v1. It keeps at most MaxWalk values.
func (c *Client) Walk(ctx context.Context, host string, p Profile, root string) ([]Value, error) {
	var out []Value
	err := c.do(ctx, "walk", host, p, func(g *gosnmp.GoSNMP) error {
		fn := func(v gosnmp.SnmpPDU) error {
			if len(out) >= MaxWalk {
				return ErrTooMany
			}
			out = append(out, convert(v))
			return nil
		}
		if g.Version == gosnmp.Version1 {
			return g.Walk(root, fn)
		}
		return g.BulkWalk(root, fn)
	})
	return out, err
}

func convert(v gosnmp.SnmpPDU) Value {
	out := Value{OID: strings.TrimPrefix(v.Name, "."), Type: v.Type.String()}
	switch v.Type {
	case gosnmp.OctetString:
		b, _ := v.Value.([]byte)
		out.Raw = printable(b)
	case gosnmp.ObjectIdentifier, gosnmp.IPAddress:
		s, _ := v.Value.(string)
		out.Raw = strings.TrimPrefix(s, ".")
	case gosnmp.Integer:
		n, _ := v.Value.(int)
		out.Raw = int64(n)
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Counter64, gosnmp.Uinteger32:
		out.Raw = gosnmp.ToBigInt(v.Value).Uint64()
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
		out.Raw = nil
	default:
		out.Raw = fmt.Sprint(v.Value)
	}
	return out
}

// printable shows text as text and anything else (MAC addresses, binary
// blobs) as hex, so a reply never carries control characters.
func printable(b []byte) string {
	text := true
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			text = false
			break
		}
	}
	if text && strings.ToValidUTF8(string(b), "") == string(b) {
		return strings.TrimRight(string(b), "\x00")
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// ParseOID checks a numeric OID such as 1.3.6.1.2.1.1.5.0 (a leading dot is
// allowed) and returns it without the dot. It refuses names, empty arcs,
// leading zeros, arcs beyond 32 bits and more than 128 arcs.
func ParseOID(s string) (string, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return "", errors.New("empty OID")
	}
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 {
		return "", errors.New("an OID has at least two numbers, e.g. 1.3.6.1.2.1.1.5.0")
	}
	if len(arcs) > 128 {
		return "", errors.New("an OID has at most 128 numbers")
	}
	for i, a := range arcs {
		if a == "" {
			return "", fmt.Errorf("number %d is empty", i+1)
		}
		for _, c := range a {
			if c < '0' || c > '9' {
				return "", fmt.Errorf("%q is not a number: use the numeric form, e.g. 1.3.6.1.2.1.1.5.0", a)
			}
		}
		if len(a) > 1 && a[0] == '0' {
			return "", fmt.Errorf("%q has a leading zero", a)
		}
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return "", fmt.Errorf("%q is larger than 4294967295", a)
		}
		if i == 0 && n > 2 {
			return "", errors.New("an OID starts with 0, 1 or 2")
		}
		if i == 1 && arcs[0] != "2" && n > 39 {
			return "", errors.New("the second number of an OID under 0 or 1 is at most 39")
		}
		// BER encodes the first two numbers as one, 40*first+second,
		// which must fit in 32 bits.
		if i == 1 && arcs[0] == "2" && n > math.MaxUint32-80 {
			return "", fmt.Errorf("the second number of an OID under 2 is at most %d", uint64(math.MaxUint32-80))
		}
	}
	return s, nil
}

// SetInt writes an INTEGER value at oid in one SET request, with the
// profile's (write) credentials. The agent's refusal (notWritable,
// noAccess, wrongValue…) is returned as the error's reason.
func (c *Client) SetInt(ctx context.Context, host string, p Profile, oid string, value int) error {
	return c.do(ctx, "set", host, p, func(g *gosnmp.GoSNMP) error {
		pkt, err := g.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Integer, Value: value}})
		if err != nil {
			return err
		}
		if pkt.Error != gosnmp.NoError {
			return &Error{Host: host, Op: "set", Reason: "the agent refused the SET: " + pkt.Error.String()}
		}
		return nil
	})
}
