package checks

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"

	"opsbot/config"
)

type dnsCheck struct {
	host     string
	want     []netip.Addr
	resolver *net.Resolver
	server   string
}

func newDNS(c config.Check, _ Env) (Check, error) {
	d := &dnsCheck{host: c.Host, resolver: net.DefaultResolver}
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
		d.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, network, r)
			},
		}
	}
	return d, nil
}

func (d *dnsCheck) Run(ctx context.Context) Result {
	start := time.Now()
	addrs, err := d.resolver.LookupNetIP(ctx, "ip", d.host)
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

func (d *dnsCheck) via() string {
	if d.server == "" {
		return ""
	}
	return " via " + d.server
}
