package harness

import (
	"net"
	"regexp"
	"sync"
	"testing"
)

// PGAddr is the host:port a PostgreSQL DSN (key=value form) connects to.
func PGAddr(dsn string) string {
	host, port := "127.0.0.1", "5432"
	if m := regexp.MustCompile(`host=(\S+)`).FindStringSubmatch(dsn); m != nil {
		host = m[1]
	}
	if m := regexp.MustCompile(`port=(\d+)`).FindStringSubmatch(dsn); m != nil {
		port = m[1]
	}
	return net.JoinHostPort(host, port)
}

// Proxy forwards a loopback port to PostgreSQL and can be cut and restored,
// as a network would.
type Proxy struct {
	target string
	// Port is the loopback port it listens on.
	Port  string
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	// paused, while not nil, holds every byte in both directions until it
	// is closed: a network that answers slowly, not one that is cut.
	paused chan struct{}
}

// Pause holds all traffic through the proxy, in both directions and on
// every connection, until Resume: connections stay open, answers are late.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

// Resume lets held traffic through again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

// copy forwards src to dst, holding each chunk while the proxy is paused.
func (p *Proxy) copy(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hold := p.paused
			p.mu.Unlock()
			if hold != nil {
				<-hold
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// NewProxy forwards a new loopback port to the PostgreSQL of dsn until the
// test ends.
func NewProxy(t testing.TB, dsn string) *Proxy {
	t.Helper()
	p := &Proxy{target: PGAddr(dsn)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p.Port, _ = net.SplitHostPort(ln.Addr().String())
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// DSN is dsn pointed at the proxy instead of PostgreSQL.
func (p *Proxy) DSN(dsn string) string {
	dsn = regexp.MustCompile(`host=\S+`).ReplaceAllString(dsn, "host=127.0.0.1")
	return regexp.MustCompile(`port=\S+`).ReplaceAllString(dsn, "") + " port=" + p.Port
}

// Start listens again on the same port after Stop.
func (p *Proxy) Start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+p.Port)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.copy(up, c)
			go p.copy(c, up)
		}
	}()
}

// Stop cuts every connection and stops listening.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
