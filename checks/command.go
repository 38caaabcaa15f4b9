package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"opsbot/config"
)

// maxOutput is how much of a command check's output is kept for the error.
const maxOutput = 4096

type commandCheck struct{ argv []string }

func newCommand(c config.Check, _ Env) (Check, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("command: empty argv")
	}
	return &commandCheck{argv: c.Command}, nil
}

// limited keeps the first maxOutput bytes written to it.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := maxOutput - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// environ is what a command check sees of opsbot's environment: a few
// harmless variables, never its secrets (tokens come from ${ENV}).
func environ() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return env
}

func (c *commandCheck) Run(ctx context.Context) Result {
	start := time.Now()
	// argv only, never a shell; the command gets its own process group so
	// a timeout kills everything it started.
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	var out limited
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return ok(start)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fail(start, "%s: did not finish in time, killed", c.argv[0])
	}
	msg := strings.TrimSpace(out.String())
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg != "" {
			return fail(start, "%s exited with status %d: %s", c.argv[0], ee.ExitCode(), msg)
		}
		return fail(start, "%s exited with status %d", c.argv[0], ee.ExitCode())
	}
	return fail(start, "run %s: %v", c.argv[0], fmt.Sprint(err))
}
