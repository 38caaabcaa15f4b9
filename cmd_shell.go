package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"opsbot/bot"
	"opsbot/bot/shell"
)

// shellCmd runs commands from standard input, one a line, as the person
// named by --user, and prints each reply and every notification.
func shellCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newCommand("shell", "shell --config FILE --user NAME", stderr)
	var user string
	cmd.fs.StringVar(&user, "user", "", "run commands as this person (a name under people:)")
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	if user == "" {
		fmt.Fprintln(stderr, "opsbot shell: --user NAME is required (a name under people: in the config)")
		return exitUsage
	}
	log := newLogger(cfg.Log, stderr)
	dir := bot.NewDirectory(cfg.People)
	person, known := dir.ByName(user)
	if !known || !person.Known {
		fmt.Fprintf(stderr, "opsbot shell: nobody called %q under people: in %s (known: %v)\n", user, cmd.path, dir.Names())
		return exitUsage
	}
	c, err := build(ctx, cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	defer c.close()
	sh := &shell.Adapter{Router: c.router, Person: person, Out: stdout}
	// The shell delivers nothing for an enabled platform: it queues those
	// messages for serve like any replica and says so; the rest go to its
	// own log sink, printed here.
	c.notifier.Register(bot.Log, &shell.Sender{Out: stdout})
	queued := shell.NewQueuedPrinter(c.store, stdout)
	c.outbox.OnQueued(queued.Add)
	sh.AfterEach = func(ctx context.Context) {
		if _, err := c.notifier.Drain(ctx); err != nil && ctx.Err() == nil {
			log.Error("deliver notifications", "err", err)
		}
		queued.Flush(ctx)
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		sh.Prompt = "opsbot> "
	}
	if err := sh.Run(ctx, stdin); err != nil {
		log.Error("shell", "err", err)
		return exitFail
	}
	return exitOK
}
