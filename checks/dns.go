package checks

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"opsbot/config"
)

type dnsCheck struct {
	host   string
	want   []netip.Addr
	server string
}

func newDNS(c config.Check, _ Env) (Check, error) {
	d := &dnsCheck{host: c.Host}
	for _, a := range c.ExpectAddresses {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, err
		}
		d.want = append(d.want, ip.Unmap())
	}
	if r := c.Resolver; r != "" {
		if _, err := netip.ParseAddr(r); err == nil {
			r = net.JoinHostPort(r, "53")
		}
		d.server = r
	}
	return d, nil
}

func (d *dnsCheck) Run(ctx context.Context) Result {
	start := time.Now()
	var addrs []netip.Addr
	var err error
	if d.server == "" {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", d.host)
	} else {
		// Asked directly: a check "against this resolver" must not be
		// answered from /etc/hosts, as Go's resolver would.
		addrs, err = d.ask(ctx)
	}
	if err != nil {
		return fail(start, "resolve %s%s: %s", d.host, d.via(), timeoutErr(ctx, err))
	}
	var missing []string
	for _, w := range d.want {
		found := false
		for _, a := range addrs {
			if a.Unmap() == w {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	if len(missing) > 0 {
		got := make([]string, len(addrs))
		for i, a := range addrs {
			got[i] = a.Unmap().String()
		}
		return fail(start, "%s%s resolves to %s, missing %s", d.host, d.via(), strings.Join(got, ", "), strings.Join(missing, ", "))
	}
	return ok(start)
}

// ask queries the configured server for the host's A and AAAA records.
func (d *dnsCheck) ask(ctx context.Context) ([]netip.Addr, error) {
	name, err := dnsmessage.NewName(strings.TrimSuffix(d.host, ".") + ".")
	if err != nil {
		return nil, fmt.Errorf("bad name: %w", err)
	}
	var all []netip.Addr
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		addrs, err := d.query(ctx, name, t)
		if err != nil {
			return nil, err
		}
		all = append(all, addrs...)
	}
	if len(all) == 0 {
		return nil, errors.New("no addresses in the answer")
	}
	return all, nil
}

// query sends one question over UDP, and again over TCP when the answer
// was truncated.
func (d *dnsCheck) query(ctx context.Context, name dnsmessage.Name, t dnsmessage.Type) ([]netip.Addr, error) {
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q, err := (&dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: t, Class: dnsmessage.ClassINET}},
	}).Pack()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	for _, network := range []string{"udp", "tcp"} {
		raw, err := exchange(ctx, network, d.server, q)
		if err != nil {
			return nil, err
		}
		var m dnsmessage.Message
		if err := m.Unpack(raw); err != nil {
			return nil, fmt.Errorf("unreadable answer: %w", err)
		}
		if m.ID != id || !m.Response {
			return nil, errors.New("answer does not match the question")
		}
		if m.Truncated && network == "udp" {
			continue
		}
		switch m.RCode {
		case dnsmessage.RCodeSuccess:
		case dnsmessage.RCodeNameError:
			return nil, errors.New("no such host")
		default:
			return nil, fmt.Errorf("server answered %s", strings.TrimPrefix(m.RCode.String(), "RCode"))
		}
		var out []netip.Addr
		for _, a := range m.Answers {
			switch r := a.Body.(type) {
			case *dnsmessage.AResource:
				out = append(out, netip.AddrFrom4(r.A))
			case *dnsmessage.AAAAResource:
				out = append(out, netip.AddrFrom16(r.AAAA))
			}
		}
		return out, nil
	}
	return nil, errors.New("answer truncated")
}

// exchange sends q to server and returns the answer.
func exchange(ctx context.Context, network, server string, q []byte) ([]byte, error) {
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if network == "udp" {
		if _, err := conn.Write(q); err != nil {
			return nil, err
		}
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	msg := make([]byte, 2+len(q))
	binary.BigEndian.PutUint16(msg, uint16(len(q)))
	copy(msg[2:], q)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (d *dnsCheck) via() string {
	if d.server == "" {
		return ""
	}
	return " via " + d.server
}
