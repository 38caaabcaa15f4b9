package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"opsbot/clock"
	"opsbot/config"
)

type tlsCheck struct {
	addr    string
	host    string
	minDays int
	clock   clock.Clock
	// roots, when set, replaces the system roots (tests).
	roots *x509.CertPool
}

func newTLS(c config.Check, env Env) (Check, error) {
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, fmt.Errorf("address: %w", err)
	}
	clk := env.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	return &tlsCheck{addr: c.Address, host: host, minDays: c.MinDays, clock: clk, roots: env.RootCAs}, nil
}

func (t *tlsCheck) Run(ctx context.Context) Result {
	start := time.Now()
	d := tls.Dialer{Config: &tls.Config{ServerName: t.host, RootCAs: t.roots}}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return fail(start, "TLS handshake with %s: %s", t.addr, timeoutErr(ctx, err))
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	if len(state.PeerCertificates) == 0 {
		return fail(start, "%s sent no certificate", t.addr)
	}
	leaf := state.PeerCertificates[0]
	left := leaf.NotAfter.Sub(t.clock.Now())
	if left < time.Duration(t.minDays)*24*time.Hour {
		days := int(left.Hours() / 24)
		if left < 0 {
			return fail(start, "certificate of %s expired on %s", t.addr, leaf.NotAfter.UTC().Format(time.DateOnly))
		}
		return fail(start, "certificate of %s expires in %d days (%s), fewer than min_days %d",
			t.addr, days, leaf.NotAfter.UTC().Format(time.DateOnly), t.minDays)
	}
	return ok(start)
}
