package checks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"opsbot/clock"
	"opsbot/config"
)

// Switch is an http handler whose behaviour tests flip between healthy,
// erroring and slow.
type Switch struct{ mode atomic.Value }

func (s *Switch) Set(m string) { s.mode.Store(m) }

func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, _ := s.mode.Load().(string)
	switch m {
	case "500":
		http.Error(w, "database down", http.StatusInternalServerError)
	case "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	default:
		w.Write([]byte("all good, version 1.2"))
	}
}

func run(t *testing.T, c config.Check, env Env) Result {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = config.Duration(2 * time.Second)
	}
	ch, err := New(c, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.Timeout))
	defer cancel()
	return ch.Run(ctx)
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	sw := &Switch{}
	srv := httptest.NewServer(sw)
	defer srv.Close()
	tests := []struct {
		name, mode string
		c          config.Check
		ok         bool
		errHas     string
	}{
		{name: "healthy", c: config.Check{}, ok: true},
		{name: "500", mode: "500", errHas: "500 Internal Server Error, want 200-399"},
		{name: "expected 500", mode: "500", c: config.Check{Expect: config.Expect{Status: []int{500}}}, ok: true},
		{name: "slow", mode: "slow", c: config.Check{Timeout: config.Duration(200 * time.Millisecond)}, errHas: "no answer within 200ms"},
		{name: "body contains", c: config.Check{Expect: config.Expect{BodyContains: "all good"}}, ok: true},
		{name: "body missing", c: config.Check{Expect: config.Expect{BodyContains: "nope"}}, errHas: `does not contain "nope"`},
		{name: "regex", c: config.Check{Expect: config.Expect{BodyRegex: `version \d+\.\d+`}}, ok: true},
		{name: "regex fails", c: config.Check{Expect: config.Expect{BodyRegex: `^x`}}, errHas: "does not match"},
		{name: "post", c: config.Check{Method: "POST", Body: "{}", Headers: map[string]string{"X-A": "b"}}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the subtests share the switch.
			sw.Set(tt.mode)
			c := tt.c
			c.Name, c.Kind, c.URL = "web", config.KindHTTP, srv.URL+"/healthz"
			r := run(t, c, Env{})
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}

// selfSigned returns a certificate for 127.0.0.1 and localhost valid until
// notAfter, and a pool that trusts it.
func selfSigned(t *testing.T, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func TestTLSAndHTTPS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t, time.Now().Add(48*time.Hour))
	srv := httptest.NewUnstartedServer(&Switch{})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	real := clock.Real{}
	tests := []struct {
		name   string
		c      config.Check
		env    Env
		ok     bool
		errHas string
	}{
		{name: "tls expires in 2 days < 14", c: config.Check{Kind: config.KindTLS, Address: addr, MinDays: 14}, env: Env{RootCAs: pool, Clock: real}, errHas: "expires in 1 days"},
		{name: "tls fine with min_days 1", c: config.Check{Kind: config.KindTLS, Address: addr, MinDays: 1}, env: Env{RootCAs: pool, Clock: real}, ok: true},
		{name: "tls untrusted chain", c: config.Check{Kind: config.KindTLS, Address: addr, MinDays: 1}, env: Env{Clock: real}, errHas: "certificate"},
		{name: "tls nothing listening", c: config.Check{Kind: config.KindTLS, Address: strings.Replace(addr, "127.0.0.1", "127.0.0.2", 1), MinDays: 1}, env: Env{RootCAs: pool, Clock: real}, errHas: "TLS handshake"},
		{name: "tls expiry moves with the clock", c: config.Check{Kind: config.KindTLS, Address: addr, MinDays: 1}, env: Env{RootCAs: pool, Clock: clock.NewFake(time.Now().Add(72 * time.Hour))}, errHas: "expired"},
		{name: "https verified", c: config.Check{Kind: config.KindHTTP, URL: "https://" + addr + "/"}, env: Env{RootCAs: pool}, ok: true},
		{name: "https unverified fails", c: config.Check{Kind: config.KindHTTP, URL: "https://" + addr + "/"}, errHas: "certificate"},
		{name: "https insecure_skip_verify", c: config.Check{Kind: config.KindHTTP, URL: "https://" + addr + "/", InsecureSkipVerify: true}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			c.Name = "cert"
			r := run(t, c, tt.env)
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}

func TestTCP(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := l.Addr().String()
	defer l.Close()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l2.Addr().String()
	l2.Close()
	if r := run(t, config.Check{Name: "tcp", Kind: config.KindTCP, Address: open}, Env{}); !r.OK {
		t.Errorf("open port: %+v", r)
	}
	if r := run(t, config.Check{Name: "tcp", Kind: config.KindTCP, Address: closed}, Env{}); r.OK || r.Error != "connect to "+closed+": connection refused" {
		t.Errorf("closed port: %+v", r)
	}
}

// dnsServer answers A queries for names in zone on a loopback UDP port and
// NXDOMAIN for the rest.
func dnsServer(t *testing.T, zone map[string][4]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			ip, found := zone[strings.TrimSuffix(q.Name.String(), ".")]
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
			if !found {
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if found && q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip})
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	t.Parallel()
	srv := dnsServer(t, map[string][4]byte{"intranet.example.test": {10, 0, 0, 10}})
	tests := []struct {
		name, host string
		want       []string
		ok         bool
		errHas     string
	}{
		{name: "resolves", host: "intranet.example.test", ok: true},
		{name: "resolves to expected", host: "intranet.example.test", want: []string{"10.0.0.10"}, ok: true},
		{name: "wrong address", host: "intranet.example.test", want: []string{"10.0.0.11"}, errHas: "missing 10.0.0.11"},
		{name: "nxdomain", host: "nope.example.test", errHas: "resolve nope.example.test via " + srv},
		// The check asks its resolver, not /etc/hosts: localhost is in the
		// hosts file but not in this server's zone.
		{name: "hosts file not consulted", host: "localhost", errHas: "resolve localhost via " + srv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, config.Check{Name: "dns", Kind: config.KindDNS, Host: tt.host, Resolver: srv, ExpectAddresses: tt.want}, Env{})
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		argv    []string
		timeout time.Duration
		ok      bool
		errHas  string
	}{
		{name: "true", argv: []string{"true"}, ok: true},
		{name: "false", argv: []string{"false"}, errHas: "false exited with status 1"},
		{name: "output in error", argv: []string{"sh", "-c", "echo disk full >&2; exit 3"}, errHas: "status 3: disk full"},
		{name: "not a shell", argv: []string{"echo hi; true"}, errHas: "run echo hi; true"},
		// sleep in a child of sh: killing the process group ends both
		// (proc's tests prove the group dies; "did not finish in time" says
		// the check's timeout is what stopped it).
		{name: "timeout kills the group", argv: []string{"sh", "-c", "sleep 30; true"}, timeout: 300 * time.Millisecond, errHas: "did not finish in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := 5 * time.Second
			if tt.timeout > 0 {
				timeout = tt.timeout
			}
			r := run(t, config.Check{Name: "cmd", Kind: config.KindCommand, Command: tt.argv, Timeout: config.Duration(timeout)}, Env{})
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}

func TestNewUnknownKind(t *testing.T) {
	t.Parallel()
	if _, err := New(config.Check{Name: "x", Kind: "ftp"}, Env{}); err == nil || !strings.Contains(err.Error(), `unknown kind "ftp"`) {
		t.Errorf("err = %v", err)
	}
	for _, k := range config.CheckKinds {
		if _, ok := Kinds()[k]; !ok {
			t.Errorf("kind %s has no constructor", k)
		}
	}
}

// An http check's URL may carry a password or a token in its query; what a
// failed run says goes to chat and to the log, so it names the URL without
// them.
func TestHTTPErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	sw := &Switch{}
	sw.Set("500")
	srv := httptest.NewServer(sw)
	t.Cleanup(srv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	base := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name, host string
		c          config.Check
		errHas     string
	}{
		{name: "bad status", host: base, errHas: "answered 500"},
		{name: "body missing", host: base, c: config.Check{Expect: config.Expect{Status: []int{500}, BodyContains: "nope"}}, errHas: "does not contain"},
		{name: "refused", host: closed, errHas: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			c.Name, c.Kind = "web", config.KindHTTP
			c.URL = "http://ops:hunter2@" + tt.host + "/health?token=s3cr3t&x=1"
			r := run(t, c, Env{})
			if r.OK || !strings.Contains(r.Error, tt.errHas) {
				t.Fatalf("got %+v, want a failure with %q", r, tt.errHas)
			}
			for _, secret := range []string{"hunter2", "s3cr3t"} {
				if strings.Contains(r.Error, secret) {
					t.Errorf("error %q shows %q from the URL", r.Error, secret)
				}
			}
			if !strings.Contains(r.Error, tt.host+"/health") {
				t.Errorf("error %q does not name %s/health", r.Error, tt.host)
			}
		})
	}
}

func TestDNSResolverSilentOrGone(t *testing.T) {
	t.Parallel()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	gone, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.LocalAddr().String()
	gone.Close()
	for _, tt := range []struct{ name, server, errHas string }{
		{"no answer", silent.LocalAddr().String(), "timed out"},
		{"nothing listening", goneAddr, "resolve intranet.example.test via " + goneAddr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, config.Check{Name: "dns", Kind: config.KindDNS, Host: "intranet.example.test", Resolver: tt.server,
				Timeout: config.Duration(300 * time.Millisecond)}, Env{})
			if r.OK || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want a failure with %q", r, tt.errHas)
			}
		})
	}
}

// A command check sees PATH and a few harmless variables, never opsbot's
// own environment, where the tokens and passwords of the config live (as
// backup jobs and access commands already do). Not parallel: it sets the
// process environment.
func TestCommandEnvironmentHasNoSecrets(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-must-not-leak")
	r := run(t, config.Check{Name: "cmd", Kind: config.KindCommand, Command: []string{"sh", "-c", `test -z "$SLACK_BOT_TOKEN" || { echo "token: $SLACK_BOT_TOKEN"; exit 1; }`}}, Env{})
	if !r.OK {
		t.Errorf("the command saw opsbot's environment: %+v", r)
	}
}

// A command check's failure reaches a channel, so a secret of the config
// that the command prints is masked in it.
func TestCommandOutputMasked(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{}
	cfg.Slack.BotToken = "xoxb-config-token"
	r := run(t, config.Check{Name: "cmd", Kind: config.KindCommand,
		Command: []string{"sh", "-c", "echo 'login with xoxb-config-token refused' >&2; exit 2"}}, Env{Config: cfg})
	if r.OK || r.Error != "sh exited with status 2: login with **** refused" {
		t.Errorf("got %+v", r)
	}
}
