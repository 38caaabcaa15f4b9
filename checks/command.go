package checks

import (
	"context"
	"errors"
	"strings"
	"time"

	"opsbot/config"
	"opsbot/proc"
)

// maxOutput is how much of a command check's output is kept for the error.
const maxOutput = 4096

type commandCheck struct {
	argv []string
	mask *proc.Masker
}

func newCommand(c config.Check, env Env) (Check, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("command: empty argv")
	}
	return &commandCheck{argv: c.Command, mask: proc.NewMasker(env.Config.SecretValues()...)}, nil
}

func (c *commandCheck) Run(ctx context.Context) Result {
	start := time.Now()
	// argv only, never a shell, in its own process group (see proc), so a
	// timeout kills everything it started; it sees none of opsbot's secrets.
	res := proc.Run(ctx, proc.Spec{Argv: c.argv, OutputLimit: maxOutput, Mask: c.mask})
	if res.Err() == nil {
		return ok(start)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fail(start, "%s: did not finish in time, killed", c.argv[0])
	}
	if res.StartErr != nil {
		return fail(start, "run %s: %v", c.argv[0], res.StartErr)
	}
	msg := strings.TrimSpace(res.Output)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg != "" {
		return fail(start, "%s exited with status %d: %s", c.argv[0], res.ExitCode, msg)
	}
	return fail(start, "%s exited with status %d", c.argv[0], res.ExitCode)
}
