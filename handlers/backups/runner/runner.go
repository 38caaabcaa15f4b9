// Package runner runs one backup command as a real child process: argv only
// (never a shell), in its own process group, with a minimal environment, its
// output kept in a fixed-size ring buffer, and a timeout or a cancel that
// terminates the whole group (SIGTERM, then SIGKILL after a grace period).
package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec says what to run and within which limits.
type Spec struct {
	// Argv is the command and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Dir is the working directory; empty means the bot's.
	Dir string
	// Env is added to the base environment (PATH and HOME of the bot).
	Env map[string]string
	// Timeout, when positive, stops the run after this long.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// OutputLimit is how many bytes of the output tail are kept.
	OutputLimit int
}

// Reason says why a run was stopped before it ended by itself.
type Reason int

// Why a process group was terminated.
const (
	NotStopped Reason = iota
	TimedOut
	Cancelled
)

// Result is how a run ended.
type Result struct {
	// ExitCode is the process's exit status, or -1 when it was killed by a
	// signal or never started.
	ExitCode int
	// Signal names the signal that killed it, if one did.
	Signal string
	// Stopped is set when the run was timed out or cancelled.
	Stopped Reason
	// StartErr is set when the command could not be started.
	StartErr error
	// Output is the raw tail of stdout and stderr, at most OutputLimit bytes.
	Output []byte
	// Truncated reports that earlier output was dropped.
	Truncated bool
	// Total is the number of bytes the command wrote.
	Total int64
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// Process is a started run.
type Process struct {
	spec   Spec
	ring   *Ring
	cmd    *exec.Cmd
	pid    int
	start  time.Time
	cancel chan struct{}
	once   sync.Once
	done   chan struct{}
	res    Result
}

// Start launches the command; it returns at once. A command that cannot be
// started still yields a Process whose Result carries StartErr, so callers
// handle one path.
func Start(spec Spec) *Process {
	limit := spec.OutputLimit
	if limit < 1 {
		limit = 64 << 10
	}
	p := &Process{spec: spec, ring: NewRing(limit), start: time.Now(),
		cancel: make(chan struct{}), done: make(chan struct{})}
	started := make(chan struct{})
	// The goroutine that starts the child keeps its OS thread locked until
	// the child is reaped: Pdeathsig fires when the starting thread exits,
	// and it must fire only when the whole bot dies.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(p.done)
		if len(spec.Argv) == 0 {
			p.res = Result{ExitCode: -1, StartErr: errors.New("empty command")}
			close(started)
			return
		}
		cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
		cmd.Dir = spec.Dir
		cmd.Env = Environ(spec.Env)
		cmd.Stdout = p.ring
		cmd.Stderr = p.ring
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		// Output pipes held open by a leftover grandchild must not keep
		// Wait blocked for ever once the command itself has exited.
		cmd.WaitDelay = max(spec.KillGrace, time.Second)
		if err := cmd.Start(); err != nil {
			p.res = Result{ExitCode: -1, StartErr: fmt.Errorf("start %s: %w", spec.Argv[0], err)}
			close(started)
			return
		}
		p.cmd, p.pid = cmd, cmd.Process.Pid
		close(started)
		p.res = p.wait()
	}()
	<-started
	return p
}

// wait reaps the process, stopping its group on timeout or cancel.
func (p *Process) wait() Result {
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	var timeout <-chan time.Time
	if p.spec.Timeout > 0 {
		t := time.NewTimer(p.spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	cancel := p.cancel
	var (
		why  = NotStopped
		kill <-chan time.Time
		err  error
	)
loop:
	for {
		select {
		case err = <-exited:
			break loop
		case <-timeout:
			timeout = nil
			if why == NotStopped {
				why = TimedOut
				kill = p.terminate()
			}
		case <-cancel:
			cancel = nil
			if why == NotStopped {
				why = Cancelled
				kill = p.terminate()
			}
		case <-kill:
			kill = nil
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
	}
	// Whatever the leader left behind in its group goes with it.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	res := Result{ExitCode: -1, Stopped: why, Elapsed: time.Since(p.start)}
	if st := p.cmd.ProcessState; st != nil {
		res.ExitCode = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
		}
	} else if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		res.StartErr = fmt.Errorf("wait for %s: %w", p.spec.Argv[0], err)
	}
	res.Output, res.Truncated, res.Total = p.ring.Snapshot()
	return res
}

// terminate sends SIGTERM to the group and returns when to send SIGKILL.
func (p *Process) terminate() <-chan time.Time {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	return time.After(p.spec.KillGrace)
}

// Pid is the process id (and process group id), 0 if it did not start.
func (p *Process) Pid() int { return p.pid }

// Cancel stops the run: SIGTERM to the process group, SIGKILL after the
// grace period. Calling it again, or after the end, does nothing.
func (p *Process) Cancel() {
	p.once.Do(func() {
		select {
		case <-p.done:
		default:
			close(p.cancel)
		}
	})
}

// Done is closed when the run has ended and its Result is ready.
func (p *Process) Done() <-chan struct{} { return p.done }

// Result waits for the end and returns how the run ended.
func (p *Process) Result() Result {
	<-p.done
	return p.res
}

// Output returns the tail of the output so far.
func (p *Process) Output() (tail []byte, truncated bool, total int64) {
	return p.ring.Snapshot()
}

// Environ is the child's environment: PATH and HOME from the bot (with a
// usual PATH when unset) plus extra, which wins.
func Environ(extra map[string]string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env := map[string]string{"PATH": path}
	if home := os.Getenv("HOME"); home != "" {
		env["HOME"] = home
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
