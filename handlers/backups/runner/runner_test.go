package runner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		size   int
		writes []string
		want   string
		trunc  bool
	}{
		{"empty", 4, nil, "", false},
		{"fits", 8, []string{"ab", "cd"}, "abcd", false},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd", false},
		{"wraps", 4, []string{"abc", "def"}, "cdef", true},
		{"one big write", 4, []string{"0123456789"}, "6789", true},
		{"many small", 3, []string{"a", "b", "c", "d", "e"}, "cde", true},
		{"big after small", 4, []string{"a", "wxyz"}, "wxyz", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRing(tc.size)
			var total int64
			for _, w := range tc.writes {
				r.Write([]byte(w))
				total += int64(len(w))
			}
			got, trunc, n := r.Snapshot()
			if string(got) != tc.want || trunc != tc.trunc || n != total {
				t.Errorf("Snapshot() = %q, %v, %d; want %q, %v, %d", got, trunc, n, tc.want, tc.trunc, total)
			}
		})
	}
}

// gone reports whether pid no longer runs (a zombie counts as gone: it
// has exited, only its parent has not reaped it).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// waitFile waits for the pid file a test script writes once it runs.
func waitFile(t *testing.T, p *Process, path string) (parent, child int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			f := strings.Fields(string(b))
			if len(f) == 2 {
				parent, _ = strconv.Atoi(f[0])
				child, _ = strconv.Atoi(f[1])
				return parent, child
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("script ended before writing %s: %+v", path, p.Result())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("script did not write %s", path)
	return 0, 0
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		argv     []string
		exit     int
		contains string
		startErr bool
	}{
		{"success", []string{"ok.sh"}, 0, "wrote 42 files", false},
		{"failure", []string{"fail.sh"}, 3, "error: disk full", false},
		{"missing", []string{"/nonexistent/backup-tool"}, -1, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			argv := append([]string(nil), tc.argv...)
			if !strings.HasPrefix(argv[0], "/") {
				argv[0] = script(t, argv[0])
			}
			res := Start(Spec{Argv: argv, Timeout: time.Minute, KillGrace: time.Second, OutputLimit: 1024}).Result()
			if res.ExitCode != tc.exit || (res.StartErr != nil) != tc.startErr || res.Stopped != NotStopped {
				t.Fatalf("result = %+v", res)
			}
			if !bytes.Contains(res.Output, []byte(tc.contains)) {
				t.Errorf("output %q lacks %q", res.Output, tc.contains)
			}
		})
	}
}

func TestRunKeepsOnlyTheTail(t *testing.T) {
	t.Parallel()
	res := Start(Spec{Argv: []string{script(t, "big.sh")}, Timeout: time.Minute, OutputLimit: 4096}).Result()
	if res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	if len(res.Output) != 4096 || !res.Truncated || res.Total < 50<<20 {
		t.Fatalf("kept %d bytes (truncated %v) of %d", len(res.Output), res.Truncated, res.Total)
	}
	if !bytes.HasSuffix(res.Output, []byte("END OF OUTPUT\n")) {
		t.Errorf("tail ends %q", res.Output[len(res.Output)-40:])
	}
}

func TestStopKillsTheGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		cancel bool
		want   Reason
		signal string
	}{
		{"timeout", "hang.sh", false, TimedOut, "terminated"},
		{"cancel", "hang.sh", true, Cancelled, "terminated"},
		{"cancel ignoring SIGTERM", "stubborn.sh", true, Cancelled, "killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pidfile := filepath.Join(t.TempDir(), "pids")
			timeout := time.Hour
			if !tc.cancel {
				timeout = 300 * time.Millisecond
			}
			p := Start(Spec{Argv: []string{script(t, tc.script), pidfile}, Timeout: timeout,
				KillGrace: 200 * time.Millisecond, OutputLimit: 1024})
			parent, child := waitFile(t, p, pidfile)
			if parent != p.Pid() {
				t.Errorf("script pid %d, runner says %d", parent, p.Pid())
			}
			if tc.cancel {
				p.Cancel()
				p.Cancel()
			}
			res := p.Result()
			if res.Stopped != tc.want || res.Signal != tc.signal || res.ExitCode != -1 {
				t.Errorf("result = %+v", res)
			}
			waitGone(t, child)
			waitGone(t, parent)
		})
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	env := Environ(map[string]string{"A": "1", "PATH": "/x"})
	got := map[string]bool{}
	for _, e := range env {
		got[e] = true
	}
	if !got["A=1"] || !got["PATH=/x"] || len(env) > 3 {
		t.Errorf("Environ = %q", env)
	}
}

// BenchmarkRingWrite measures capturing output: 32 KiB writes into a 64 KiB
// ring, the size of a pipe read.
func BenchmarkRingWrite(b *testing.B) {
	r := NewRing(64 << 10)
	p := bytes.Repeat([]byte("backup output line\n"), 32<<10/19)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r.Write(p)
	}
}
