package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for one writer and concurrent readers: a
// running process's log.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Proc is a running `opsbot serve`.
type Proc struct {
	Cmd *exec.Cmd
	// Addr is the host:port it listens on.
	Addr string
	// Logs is what it logged (Serve keeps it; Start writes it elsewhere).
	Logs *Buffer
	// Done is closed when the process has exited; Err is then its result.
	Done chan struct{}
	err  error
}

// Err waits for the process to exit and returns what Wait returned.
func (p *Proc) Err() error {
	<-p.Done
	return p.err
}

// Stop kills the process and waits for it; it may be called more than once.
func (p *Proc) Stop() {
	_ = p.Cmd.Process.Kill()
	<-p.Done
}

// Terminate sends SIGTERM, as a service manager stops opsbot, and waits up
// to within for the process to exit; the test fails if it does not. It
// returns the process's exit result.
func (p *Proc) Terminate(t testing.TB, within time.Duration) error {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done:
		return p.err
	case <-time.After(within):
		t.Fatal("serve did not stop on SIGTERM")
		return nil
	}
}

// URL is the address of path on the process's listener.
func (p *Proc) URL(path string) string { return "http://" + p.Addr + path }

var listenRe = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// Start runs `opsbot serve --config config` in dir and returns once it logs
// that it listens; its log also goes to logs when that is not nil. It fails
// when the process exits first or does not listen within the given time.
func (b Binary) Start(dir, config string, logs io.Writer, within time.Duration) (*Proc, error) {
	cmd := exec.Command(string(b), "serve", "--config", config)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if logs != nil {
		cmd.Stderr = io.MultiWriter(pw, logs)
	}
	p := &Proc{Cmd: cmd, Done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start opsbot serve: %w", err)
	}
	go func() { p.err = cmd.Wait(); pw.Close(); close(p.Done) }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case p.Addr = <-addr:
		return p, nil
	case <-p.Done:
		return nil, fmt.Errorf("serve exited: %w", errors.Join(p.err, errors.New("before it listened")))
	case <-time.After(within):
		p.Stop()
		return nil, fmt.Errorf("serve did not start within %s", within)
	}
}

// Serve writes cfg as dir/opsbot.yaml, starts `opsbot serve` on it and waits
// until it listens; the process is killed when the test ends.
func (b Binary) Serve(t testing.TB, dir, cfg string) *Proc {
	t.Helper()
	return b.ServeLogs(t, dir, cfg, &Buffer{})
}

// ServeLogs is Serve with the log going to logs, which a test shares across
// restarts of one site.
func (b Binary) ServeLogs(t testing.TB, dir, cfg string, logs *Buffer) *Proc {
	t.Helper()
	path := WriteConfig(t, dir, cfg)
	p, err := b.Start(dir, path, logs, 60*time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	p.Logs = logs
	t.Cleanup(p.Stop)
	return p
}

// Get sends GET path and returns the status and body.
func (p *Proc) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	code, _, body := p.Fetch(t, path, nil)
	return code, body
}

// Fetch sends GET path with the headers hdr and returns the status, the
// headers and the body.
func (p *Proc) Fetch(t testing.TB, path string, hdr http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr != nil {
		req.Header = hdr
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}
