package checks

import (
	"context"
	"net"
	"time"

	"opsbot/config"
)

type tcpCheck struct{ addr string }

func newTCP(c config.Check, _ Env) (Check, error) { return &tcpCheck{addr: c.Address}, nil }

func (t *tcpCheck) Run(ctx context.Context) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return fail(start, "connect to %s: %s", t.addr, timeoutErr(ctx, err))
	}
	conn.Close()
	return ok(start)
}
