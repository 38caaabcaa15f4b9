package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"opsbot/bot"
	"opsbot/bot/shell"
	"opsbot/config"
	"opsbot/notify"
)

// shellCmd runs commands from standard input, one a line, as the person
// named by --user, and prints each reply and every notification.
func shellCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newCommand("shell", "shell --config FILE --user NAME [--images DIR]", stderr)
	var user, images string
	cmd.fs.StringVar(&user, "user", "", "run commands as this person (a name under people:)")
	cmd.fs.StringVar(&images, "images", shell.DefaultImagesDir(), "write a reply's pictures (charts) into this folder and print their paths")
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	if user == "" {
		fmt.Fprintln(stderr, "opsbot shell: --user NAME is required (a name under people: in the config)")
		return exitUsage
	}
	// Interactive, log lines would land between the replies: only warnings
	// and errors are shown then. Piped, the log goes to stderr as set.
	interactive := isTerminal(stdin)
	logCfg := cfg.Log
	if interactive && logLevel(logCfg.Level) < slog.LevelWarn {
		logCfg.Level = "warn"
	}
	log := newLogger(logCfg, stderr)
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
	sh := &shell.Adapter{Router: c.router, Person: person, Out: stdout, Images: images}
	// The shell delivers nothing for an enabled platform: it queues those
	// messages for serve like any replica and says so; the rest go to its
	// own log sink, printed here one line each. A direct message to
	// someone else is only named; its text goes to the log.
	c.notifier.Register(bot.Log, &shell.Sender{Out: stdout, Person: person.Name, Others: &notify.LogSender{Log: log}, Images: images})
	queued := shell.NewQueuedPrinter(c.store, stdout)
	queued.Person = person.Name
	c.outbox.OnQueued(queued.Add)
	sh.AfterEach = func(ctx context.Context) {
		if _, err := c.notifier.Drain(ctx); err != nil && ctx.Err() == nil {
			log.Error("deliver notifications", "err", err)
		}
		queued.Flush(ctx)
	}
	if interactive {
		fmt.Fprint(stdout, banner(person, cmd.path, cfg, logCfg.Level))
		sh.Prompt = "opsbot> "
	}
	if err := sh.Run(ctx, stdin); err != nil {
		log.Error("shell", "err", err)
		return exitFail
	}
	return exitOK
}

// isTerminal reports whether r is a terminal: a person typing.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logLevel is the level a log.level value names (info when unknown).
func logLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// banner greets a person at an interactive shell: who they are, which
// config and database, and how to get help and leave.
func banner(p bot.Person, path string, cfg *config.Config, level string) string {
	roles := "no roles: an employee"
	if len(p.Roles) > 0 {
		roles = "roles " + strings.Join(p.Roles, ", ")
	}
	db := cfg.Database.Driver
	if db == "" {
		db = "sqlite"
	}
	var platforms []string
	if cfg.Slack.Enabled {
		platforms = append(platforms, "Slack")
	}
	if cfg.Discord.Enabled {
		platforms = append(platforms, "Discord")
	}
	where := "printed here (no chat platform enabled)"
	if len(platforms) > 0 {
		where = "for " + strings.Join(platforms, " and ") + " queued for opsbot serve to send; the rest printed here"
	}
	logs := "warnings and errors only"
	if logLevel(level) >= slog.LevelError {
		logs = "errors only"
	}
	return fmt.Sprintf("opsbot shell — you are %s (%s)\nconfig %s, database %s %s\nnotifications: %s; log: %s\nType /help for the commands; exit, quit or Ctrl-D to leave.\n",
		p.Name, roles, path, db, config.RedactDSN(cfg.Database.DSN), where, logs)
}
