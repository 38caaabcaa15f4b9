// Package proc runs every child process of opsbot the same way: argv only
// (never a shell), a minimal environment, its own process group that a
// timeout or a cancel terminates whole (SIGTERM, then SIGKILL after a grace
// period), the parent-death signal on Linux, and its output kept as a
// fixed-size tail with secrets masked.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultOutputLimit is how many bytes of output are kept when a Spec
// does not say.
const DefaultOutputLimit = 64 << 10

// Spec says what to run and within which limits.
type Spec struct {
	// Argv is the command and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Dir is the working directory; empty means the bot's.
	Dir string
	// Env is added to the variables taken from the bot's environment
	// (PATH, HOME, LANG, TZ, TMPDIR) and wins over them.
	Env map[string]string
	// Timeout, when positive, stops the run after this long.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL when a run is
	// stopped; zero sends SIGKILL right after SIGTERM.
	KillGrace time.Duration
	// OutputLimit is how many bytes of the output's tail are kept
	// (DefaultOutputLimit when not positive).
	OutputLimit int
	// Mask hides secrets in the output; nil hides none.
	Mask *Masker
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
	// Signal names the signal that killed it ("terminated", "killed"), if
	// one did.
	Signal string
	// Stopped is set when the run was timed out or cancelled.
	Stopped Reason
	// StartErr is set, as exec reported it, when the command could not be
	// started (or, rarely, not be reaped).
	StartErr error
	// Output is the tail of stdout and stderr together, at most
	// OutputLimit bytes, with secrets masked and control characters
	// replaced; when earlier output was dropped, so is the cut first line.
	Output string
	// Truncated reports that earlier output was dropped.
	Truncated bool
	// Total is the number of bytes the command wrote.
	Total int64
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// Err is nil when the run exited with status 0; otherwise StartErr, or an
// *ExitError saying how it ended.
func (r Result) Err() error {
	switch {
	case r.StartErr != nil:
		return r.StartErr
	case r.ExitCode == 0 && r.Signal == "":
		return nil
	}
	return &ExitError{Code: r.ExitCode, Signal: r.Signal}
}

// ExitError is a run that ended with a non-zero status or by a signal.
type ExitError struct {
	// Code is the exit status, -1 when a signal ended the run.
	Code int
	// Signal names the signal, if one ended the run.
	Signal string
}

// Error reads as exec's errors do: "exit status 3", "signal: killed".
func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "signal: " + e.Signal
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// Process is a started run.
type Process struct {
	spec  Spec
	ring  *ring
	cmd   *exec.Cmd
	pid   int
	start time.Time
	stopc chan Reason // holds the first stop request
	once  sync.Once
	done  chan struct{}
	res   Result
}

// Run runs spec to its end and returns how it ended. When ctx ends first,
// the process group is stopped as for a timeout (ctx's deadline passed) or
// a cancel.
func Run(ctx context.Context, spec Spec) Result {
	if err := ctx.Err(); err != nil {
		return Result{ExitCode: -1, StartErr: err}
	}
	p := Start(spec)
	select {
	case <-p.done:
	case <-ctx.Done():
		why := Cancelled
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = TimedOut
		}
		p.stop(why)
	}
	return p.Result()
}

// Start launches the command; it returns at once. A command that cannot be
// started still yields a Process whose Result carries StartErr, so callers
// handle one path.
func Start(spec Spec) *Process {
	limit := spec.OutputLimit
	if limit < 1 {
		limit = DefaultOutputLimit
	}
	p := &Process{spec: spec, ring: newRing(limit), start: time.Now(),
		stopc: make(chan Reason, 1), done: make(chan struct{})}
	started := make(chan struct{})
	// The goroutine that starts the child keeps its OS thread locked until
	// the child is reaped: the parent-death signal fires when the starting
	// thread exits, and it must fire only when the whole bot dies.
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
		cmd.Env = environ(spec.Env)
		cmd.Stdout = p.ring
		cmd.Stderr = p.ring
		cmd.SysProcAttr = sysProcAttr()
		// Output pipes held open by a leftover grandchild must not keep
		// Wait blocked for ever once the command itself has exited.
		cmd.WaitDelay = max(spec.KillGrace, time.Second)
		if err := cmd.Start(); err != nil {
			p.res = Result{ExitCode: -1, StartErr: err, Elapsed: time.Since(p.start)}
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
				why, kill = TimedOut, p.terminate()
			}
		case r := <-p.stopc:
			if why == NotStopped {
				why, kill = r, p.terminate()
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
	} else if err != nil {
		res.StartErr = err
	}
	tail, truncated, total := p.ring.Snapshot()
	res.Output, res.Truncated, res.Total = p.spec.Mask.output(tail, truncated), truncated, total
	return res
}

// terminate sends SIGTERM to the group and returns when to send SIGKILL.
func (p *Process) terminate() <-chan time.Time {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	return time.After(p.spec.KillGrace)
}

// stop asks for the group to be terminated, once.
func (p *Process) stop(why Reason) {
	p.once.Do(func() { p.stopc <- why })
}

// Pid is the process id (and process group id), 0 if it did not start.
func (p *Process) Pid() int { return p.pid }

// Cancel stops the run: SIGTERM to the process group, SIGKILL after the
// grace period. Calling it again, or after the end, does nothing.
func (p *Process) Cancel() { p.stop(Cancelled) }

// Done is closed when the run has ended and its Result is ready.
func (p *Process) Done() <-chan struct{} { return p.done }

// Result waits for the end and returns how the run ended.
func (p *Process) Result() Result {
	<-p.done
	return p.res
}

// Output returns the output so far, masked like Result's, and how many
// bytes were written in all. The last bytes, which may be the start of a
// secret still being written, are held back until the line ends.
func (p *Process) Output() (text string, total int64) {
	tail, truncated, total := p.ring.Snapshot()
	return p.spec.Mask.live(tail, truncated), total
}

// inherited are the variables a child takes from the bot's environment;
// nothing else of it (tokens and passwords read through ${ENV}) reaches
// a child.
var inherited = []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"}

// defaultPath is the child's PATH when the bot has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ is a child's environment: the inherited variables the bot has
// (with a usual PATH when it has none) plus extra, which wins; sorted.
func environ(extra map[string]string) []string {
	env := map[string]string{"PATH": defaultPath}
	for _, k := range inherited {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
