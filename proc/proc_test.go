//go:build linux

package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperFifo, when set in the environment, makes the test binary a parent
// process for TestParentDeathKillsTheChild instead of running the tests.
const helperFifo = "OPSBOT_PROC_TEST_HELPER_FIFO"

func TestMain(m *testing.M) {
	if fifo := os.Getenv(helperFifo); fifo != "" {
		// Start a child that reports its pid, then wait to be killed.
		p := Start(Spec{Argv: []string{"sh", "-c", `echo "$$" > "$1"; exec sleep 1000`, "sh", fifo}})
		<-p.Done()
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// fifo makes a named pipe: a script writes pids into it and the test
// blocks reading them, so no test polls for a file to appear.
func fifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pids")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readPids reads the pids a script writes into path, failing the test if
// p ends first.
func readPids(t *testing.T, p *Process, path string) []int {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(path) // blocks until the script opens the pipe, ends when it closes it
		got <- string(b)
	}()
	var s string
	select {
	case s = <-got:
	case <-p.Done():
		select {
		case s = <-got:
		default:
			t.Fatalf("the script ended before writing its pids: %+v", p.Result())
		}
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("script wrote %q", s)
		}
		pids = append(pids, n)
	}
	return pids
}

// waitExit waits until pid has exited (a zombie has), through a pidfd,
// which becomes readable when the process ends.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // already exited and reaped
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 20_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd of %d: %v", pid, err)
		}
		if n == 0 {
			t.Fatalf("process %d still runs after 20s", pid)
		}
		return
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		argv     []string
		code     int
		signal   string
		err      string // what Err says; "" for success
		output   string
		startErr bool
	}{
		{"success", []string{"sh", "-c", "echo done"}, 0, "", "", "done\n", false},
		{"failure", []string{"sh", "-c", "echo starting; echo 'error: disk full' >&2; exit 3"}, 3, "", "exit status 3", "starting\nerror: disk full\n", false},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, -1, "killed", "signal: killed", "", false},
		{"missing program", []string{"/nonexistent/backup-tool"}, -1, "", "no such file or directory", "", true},
		{"not a shell", []string{"echo hi; true"}, -1, "", "executable file not found", "", true},
		{"empty", nil, -1, "", "empty command", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := Start(Spec{Argv: tc.argv, Timeout: time.Minute})
			res := p.Result()
			if res.ExitCode != tc.code || res.Signal != tc.signal || (res.StartErr != nil) != tc.startErr ||
				res.Stopped != NotStopped || res.Output != tc.output {
				t.Fatalf("result = %+v", res)
			}
			if err := res.Err(); tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Err() = %v, want %q", err, tc.err)
			}
			if tc.startErr != (p.Pid() == 0) {
				t.Errorf("pid %d for a run that started: %v", p.Pid(), !tc.startErr)
			}
		})
	}
}

// The child sees the inherited allow-list and the caller's variables,
// never the rest of the bot's environment, where the secrets of the config
// live. Not parallel: it sets the process environment.
func TestEnvironmentIsMinimal(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-must-not-leak")
	t.Setenv("TZ", "Europe/Berlin")
	t.Setenv("HOME", "/home/opsbot")
	res := Run(context.Background(), Spec{Argv: []string{"env"}, Env: map[string]string{"JOB": "etc", "TZ": "UTC"}})
	if res.Err() != nil {
		t.Fatalf("result = %+v", res)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.Output), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	if strings.Contains(res.Output, "xoxb-must-not-leak") {
		t.Errorf("the child saw the bot's secret:\n%s", res.Output)
	}
	if got["JOB"] != "etc" || got["TZ"] != "UTC" || got["HOME"] != "/home/opsbot" || got["PATH"] == "" {
		t.Errorf("environment:\n%s", res.Output)
	}
	for k := range got {
		if k != "JOB" && !slices.Contains(inherited, k) {
			t.Errorf("the child saw %s from the bot", k)
		}
	}
}

func TestEnvironDefaultPath(t *testing.T) {
	t.Setenv("PATH", "")
	env := environ(map[string]string{"A": "1"})
	if !slices.Contains(env, "A=1") || !slices.Contains(env, "PATH="+defaultPath) || !slices.IsSorted(env) {
		t.Errorf("environ = %q", env)
	}
}

// A stopped run takes its whole process group down: the script's sleeping
// child goes with it.
func TestStopKillsTheGroup(t *testing.T) {
	t.Parallel()
	const hang = `sleep 1000 & echo "$$ $!" > "$1"; wait`
	// Ignores SIGTERM (its children inherit that), so only SIGKILL stops it.
	const stubborn = `trap '' TERM; sleep 1000 & echo "$$ $!" > "$1"; while :; do wait; done`
	// A child that says when SIGTERM reaches it: the whole group gets it,
	// not only the leader.
	// It writes the pids once its trap is set.
	const polite = `sh -c 'trap "echo child got SIGTERM; exit 0" TERM; echo "$2 $$" > "$1"; sleep 1000 & wait' sh "$1" "$$" & wait`
	for _, tc := range []struct {
		name    string
		script  string
		timeout time.Duration
		cancel  int // how many times to call Cancel
		want    Reason
		signal  string
		output  string
	}{
		{"timeout", hang, 500 * time.Millisecond, 0, TimedOut, "terminated", ""},
		{"cancel", hang, time.Hour, 2, Cancelled, "terminated", ""},
		{"cancel ignoring SIGTERM", stubborn, time.Hour, 1, Cancelled, "killed", ""},
		{"SIGTERM to the group", polite, time.Hour, 1, Cancelled, "terminated", "child got SIGTERM\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := fifo(t)
			p := Start(Spec{Argv: []string{"sh", "-c", tc.script, "sh", path}, Timeout: tc.timeout, KillGrace: 200 * time.Millisecond})
			pids := readPids(t, p, path)
			if len(pids) != 2 || pids[0] != p.Pid() {
				t.Fatalf("script says %v, Pid %d", pids, p.Pid())
			}
			for range tc.cancel {
				p.Cancel()
			}
			res := p.Result()
			if res.Stopped != tc.want || res.Signal != tc.signal || res.ExitCode != -1 || res.Output != tc.output {
				t.Errorf("result = %+v", res)
			}
			if err := res.Err(); err == nil || err.Error() != "signal: "+tc.signal {
				t.Errorf("Err() = %v", err)
			}
			waitExit(t, pids[1])
			waitExit(t, pids[0])
		})
	}
}

// Run stops the group when its context ends, as a timeout when its
// deadline passed; a grandchild sleeping in the background is gone too.
func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		deadline bool
		want     Reason
	}{
		{"deadline", true, TimedOut},
		{"cancel", false, Cancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := fifo(t)
			ctx, cancel := context.WithCancel(context.Background())
			if tc.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			}
			defer cancel()
			pids := make(chan []int, 1)
			go func() {
				b, _ := os.ReadFile(path) // blocks until the script writes
				var ps []int
				for _, f := range strings.Fields(string(b)) {
					n, _ := strconv.Atoi(f)
					ps = append(ps, n)
				}
				pids <- ps
				if !tc.deadline {
					cancel()
				}
			}()
			res := Run(ctx, Spec{Argv: []string{"sh", "-c", `sleep 1000 & echo "$$ $!" > "$1"; wait`, "sh", path}})
			if res.Stopped != tc.want || res.Signal != "terminated" {
				t.Fatalf("result = %+v", res)
			}
			var ps []int
			select {
			case ps = <-pids:
			default:
				t.Fatal("the script was stopped before it wrote its pids")
			}
			if len(ps) != 2 {
				t.Fatalf("pids %v", ps)
			}
			waitExit(t, ps[1])
		})
	}
}

// A context that has already ended starts nothing.
func TestRunEndedContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := Run(ctx, Spec{Argv: []string{"true"}}); !errors.Is(res.StartErr, context.Canceled) || res.Err() == nil {
		t.Errorf("result = %+v", res)
	}
}

// A command that exits while a child it left behind holds its output open
// counts as exited; the child is killed with the group.
func TestLeftoverChildIsKilled(t *testing.T) {
	t.Parallel()
	path := fifo(t)
	p := Start(Spec{Argv: []string{"sh", "-c", `sleep 1000 & echo "$!" > "$1"; exit 0`, "sh", path}, Timeout: time.Minute})
	pids := readPids(t, p, path)
	res := p.Result()
	if res.Err() != nil || res.Stopped != NotStopped {
		t.Fatalf("result = %+v", res)
	}
	waitExit(t, pids[0])
}

// When the bot dies, the kernel sends its children SIGTERM: the test
// binary, run as a helper parent, starts a sleeping child, and the test
// kills the helper with SIGKILL.
func TestParentDeathKillsTheChild(t *testing.T) {
	t.Parallel()
	path := fifo(t)
	helper := Start(Spec{Argv: []string{os.Args[0]}, Env: map[string]string{helperFifo: path}, Timeout: time.Minute})
	pids := readPids(t, helper, path)
	if len(pids) != 1 {
		t.Fatalf("pids %v", pids)
	}
	if err := syscall.Kill(helper.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if res := helper.Result(); res.Signal != "killed" {
		t.Errorf("helper result = %+v", res)
	}
	waitExit(t, pids[0])
}

func TestOutputKeepsTheTail(t *testing.T) {
	t.Parallel()
	res := Run(context.Background(), Spec{Argv: []string{"sh", "-c",
		`head -c 100000 /dev/zero | tr '\0' x; echo; echo "END OF OUTPUT"`}, OutputLimit: 4096})
	if res.Err() != nil {
		t.Fatalf("result = %+v", res)
	}
	// The kept 4096 bytes start inside the line of x's, which is dropped.
	if !res.Truncated || res.Total != 100000+1+14 || res.Output != "END OF OUTPUT\n" {
		t.Errorf("output %q (truncated %v) of %d bytes", res.Output, res.Truncated, res.Total)
	}
}

func TestOutputIsMasked(t *testing.T) {
	t.Parallel()
	env := map[string]string{"BACKUP_PASSWORD": "hunter2-correct-horse", "API_TOKEN": "s3c", "BACKUP_USER": "bk"}
	mask := NewMasker(append(EnvSecrets(env), "xoxb-config-token")...)
	path := fifo(t)
	p := Start(Spec{Argv: []string{"sh", "-c", `echo "connecting with password $BACKUP_PASSWORD"
echo "token=${API_TOKEN}; user=$BACKUP_USER"
printf 'bot token xoxb-con'
cat "$1" >/dev/null
echo 'fig-token'`, "sh", path}, Env: env, Mask: mask, Timeout: time.Minute})
	// While the run goes on, the last bytes (as many as the longest secret
	// has, so the unfinished "xoxb-con") are held back, to a line end.
	want := "connecting with password ****\n"
	for {
		// Output is polled: the script writes its lines, then waits for
		// the test to open the pipe.
		if out, _ := p.Output(); out == want {
			break
		} else if strings.Contains(out, "xoxb") || strings.Contains(out, "hunter2") {
			t.Fatalf("live output shows a secret: %q", out)
		}
		select {
		case <-p.Done():
			t.Fatalf("ended early: %+v", p.Result())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := p.Result()
	if res.Output != want+"token=****; user=bk\nbot token ****\n" {
		t.Errorf("output %q", res.Output)
	}
	if got := mask.String("start xoxb-config-token"); got != "start ****" {
		t.Errorf("String = %q", got)
	}
}
