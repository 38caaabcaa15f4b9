// Command opsbot is a chat-ops bot for IT operations: helpdesk tickets,
// access requests, device lookups, backup runs and scheduled checks, in Slack,
// Discord or a local shell.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // cron and business-hours time zones work without system zone files

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"opsbot/bot"
	"opsbot/bot/discord"
	"opsbot/bot/shell"
	slackbot "opsbot/bot/slack"
	"opsbot/checks/outbox"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/access"
	"opsbot/handlers/backups"
	"opsbot/handlers/devices"
	"opsbot/handlers/incidents"
	"opsbot/handlers/tickets"
	"opsbot/server"
	"opsbot/snmp"
	"opsbot/statuspage"
	"opsbot/storage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// Exit codes: 0 done, 1 failed, 2 bad usage.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `opsbot — chat-ops for IT operations

Usage:
  opsbot serve    --config FILE                  run everything the config enables
  opsbot shell    --config FILE --user NAME      run commands from standard input as NAME
  opsbot migrate  --config FILE                  apply pending database migrations
  opsbot config check --config FILE              list every problem in a config file
  opsbot status   --config FILE                  list the replicas seen and which one leads
  opsbot outbox   list|retry|drop --config FILE  inspect and steer queued notifications
  opsbot devices  import --config FILE F.csv     add or update devices from a CSV file
  opsbot discord  register --config FILE [--guild ID]
                                                 publish the slash commands to Discord
  opsbot version                                 print the version

Run "opsbot COMMAND --help" for a command's flags.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stderr)
	case "shell":
		return shellCmd(ctx, args[1:], stdin, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr)
	case "devices":
		return devicesCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "usage: opsbot config check --config FILE")
			return exitUsage
		}
		return configCheckCmd(args[2:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "outbox":
		return outboxCmd(ctx, args[1:], stdout, stderr)
	case "discord":
		if len(args) < 2 || args[1] != "register" {
			fmt.Fprintln(stderr, "usage: opsbot discord register --config FILE [--guild ID]")
			return exitUsage
		}
		return discordRegisterCmd(ctx, args[2:], stdout, stderr)
	case "version", "--version":
		fmt.Fprint(stdout, buildInfo(version))
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "opsbot: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func newLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// core is what every command that talks to people needs.
type core struct {
	cfg    *config.Config
	log    *slog.Logger
	clock  clock.Clock
	store  *storage.Store
	dir    *bot.Directory
	outbox *outbox.Outbox
	// notifier delivers the outbox: serve runs it on every replica, the
	// shell drains it after each command. Platform adapters Register their
	// senders on it.
	notifier *outbox.Notifier
	reg      *prometheus.Registry
	router   *bot.Router
	// intake files tickets from chat messages (the tickets handler).
	intake bot.Intake
	// workers is background work every replica runs until shutdown (the
	// notifier); scheduled is work only the leader runs (checks, expiries,
	// SLA timers, backup schedules). Each returns when ctx ends.
	workers   []func(ctx context.Context) error
	scheduled []func(ctx context.Context) error
	// closers run before storage closes, e.g. to let running backups end.
	closers []func()
}

// build opens storage and assembles the handlers and the router.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*core, error) {
	c := &core{cfg: cfg, log: log, clock: clock.Real{}, reg: prometheus.NewRegistry()}
	c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	c.store = store
	c.dir = bot.NewDirectory(cfg.People)
	c.outbox = outbox.New(cfg, c.dir, c.clock)
	c.notifier, err = outbox.NewNotifier(store, c.clock, log, c.reg, cfg.Outbox,
		map[bot.Platform]bot.Sender{bot.Log: &outbox.LogSender{Log: log}})
	if err != nil {
		store.Close()
		return nil, err
	}
	c.outbox.OnWake(c.notifier.Wake)
	c.workers = append(c.workers, c.notifier.Run)
	// One SNMP client: device lookups and snmp checks share its limit.
	deps := handlers.Deps{Config: cfg, Store: store, Outbox: c.outbox, Dir: c.dir, Clock: c.clock, Log: log, Reg: c.reg,
		SNMP: snmp.NewClient(cfg.Devices.MaxConcurrent)}
	fail := func(err error) (*core, error) {
		c.close()
		return nil, err
	}
	// Each area adds its commands, its scheduled work (leader only) and its
	// shutdown steps here.
	var cmds []bot.Command
	tix, err := tickets.New(deps)
	if err != nil {
		return fail(err)
	}
	cmds = append(cmds, tix.Command())
	c.intake = tix
	c.scheduled = append(c.scheduled, tix.Run)

	bh, err := backups.New(deps)
	if err != nil {
		return fail(err)
	}
	cmds = append(cmds, bh.Command())
	c.scheduled = append(c.scheduled, bh.Run)
	c.closers = append(c.closers, func() { bh.Drain(ctx) })

	dev, err := devices.New(deps)
	if err != nil {
		return fail(err)
	}
	cmds = append(cmds, dev.Command())

	ah, err := access.New(deps)
	if err != nil {
		return fail(err)
	}
	cmds = append(cmds, ah.Command())
	c.scheduled = append(c.scheduled, ah.Run)

	inc, err := incidents.New(deps)
	if err != nil {
		return fail(err)
	}
	cmds = append(cmds, inc.Commands()...)
	c.scheduled = append(c.scheduled, inc.Run)

	c.router, err = bot.NewRouter(c.dir, log, c.reg, c.clock.Now, cmds...)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

func (c *core) close() {
	for _, f := range c.closers {
		f()
	}
	if err := c.store.Close(); err != nil {
		c.log.Error("close storage", "err", err)
	}
}

func serveCmd(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, code := newCommand("serve", "serve --config FILE", stderr).load(args)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg.Log, stderr)
	c, err := build(ctx, cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	defer c.close()
	release, err := c.store.LockServe()
	if err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	defer release()
	elector := c.store.NewElector(version, time.Duration(cfg.Leader.Interval), log, c.clock.Now)
	c.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opsbot_leader", Help: "1 while this replica runs the scheduled work.",
	}, func() float64 { return map[bool]float64{true: 1}[elector.Leading()] }))
	srv := server.New(log, c.store, c.reg)
	srv.AddReady(func() map[string]string {
		return map[string]string{"replica": elector.ID(), "leader": map[bool]string{true: "yes", false: "no"}[elector.Leading()]}
	})
	// The status page's credentials, when set, also guard /metrics.
	sp, err := statuspage.New(cfg.StatusPage, statuspage.StoreSources(cfg, c.store.DB), c.clock, log)
	if err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	if cfg.StatusPage.Enabled {
		sp.Mount(srv)          // GET /incidents/{id}, /api/v1/status
		srv.SetRoot(sp.Root()) // GET /
	}
	srv.GuardMetrics(sp.Guard)
	if err := srv.Listen(cfg.Listen); err != nil {
		log.Error("start", "err", err)
		return exitFail
	}
	if cfg.Slack.Enabled {
		sa := slackbot.New(slackbot.Options{Config: cfg.Slack, Router: c.router, Store: c.store, Clock: c.clock, Log: log,
			Intake: c.intake, Reaction: cfg.Tickets.IntakeReaction})
		sa.Mount(srv)                         // HTTP mode: /slack/commands, /slack/interactions, /slack/events
		c.workers = append(c.workers, sa.Run) // Socket Mode connection; prunes handled requests
		c.notifier.Register(bot.Slack, slackbot.NewSender(cfg.Slack, log))
	}
	if cfg.Discord.Enabled {
		d, err := discord.New(cfg.Discord, c.router, c.store, c.clock, log, discord.Options{Intake: c.intake})
		if err != nil {
			log.Error("start", "err", err)
			return exitFail
		}
		if cfg.Discord.Mode != "gateway" {
			srv.Handle("POST /discord/interactions", d)
			c.workers = append(c.workers, d.Run)
		} else {
			// Every gateway session of a bot receives every interaction:
			// one connection, the leader's, or each replica would run it.
			c.scheduled = append(c.scheduled, d.Run)
		}
		c.notifier.Register(bot.Discord, discord.NewSender(cfg.Discord, c.store, c.clock, log, discord.Options{}))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, 10*time.Second) })
	for _, w := range c.workers {
		g.Go(func() error { return w(gctx) })
	}
	g.Go(func() error {
		return elector.Run(gctx, func(ctx context.Context) error {
			lg, lctx := errgroup.WithContext(ctx)
			for _, w := range c.scheduled {
				lg.Go(func() error { return w(lctx) })
			}
			// Lead until told to stop, even with nothing scheduled.
			lg.Go(func() error { <-lctx.Done(); return lctx.Err() })
			return lg.Wait()
		})
	})
	log.Info("opsbot started", "version", version, "database", c.store.Driver(), "listen", srv.Addr())
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "err", err)
		return exitFail
	}
	log.Info("opsbot stopped")
	return exitOK
}

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
	// The shell shows every notification, whatever platform it was for.
	ss := &shell.Sender{Out: stdout}
	for _, p := range []bot.Platform{bot.Log, bot.Slack, bot.Discord} {
		c.notifier.Register(p, ss)
	}
	sh.AfterEach = func(ctx context.Context) {
		if _, err := c.notifier.Drain(ctx); err != nil && ctx.Err() == nil {
			log.Error("deliver notifications", "err", err)
		}
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

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("migrate", "migrate --config FILE", stderr)
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	// Connect, not Open: Open would apply the migrations before they are listed.
	store, err := storage.Connect(ctx, cfg.Database)
	if err != nil {
		return cmd.fail(err)
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return cmd.fail(err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
		return exitOK
	}
	for _, id := range applied {
		fmt.Fprintf(stdout, "applied %s\n", id)
	}
	return exitOK
}

func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("config check", "config check --config FILE", stderr)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	// The problems are this command's output.
	if _, ok := loadConfig(cmd.path, stdout); !ok {
		return exitFail
	}
	fmt.Fprintln(stdout, "config OK")
	return exitOK
}

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("status", "status --config FILE", stderr)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	cfg, store, code := cmd.openStore(ctx)
	if store == nil {
		return code
	}
	defer store.Close()
	now := time.Now().UTC()
	// A replica that has not reported for a few intervals is gone.
	reps, err := store.Replicas(ctx, now.Add(-5*time.Duration(cfg.Leader.Interval)-10*time.Second))
	if err != nil {
		return cmd.fail(err)
	}
	if len(reps) == 0 {
		fmt.Fprintln(stdout, "no replica is running")
		return exitOK
	}
	fmt.Fprintf(stdout, "%-40s %-7s %-8s %-10s %s\n", "REPLICA", "LEADER", "VERSION", "UP", "LAST SEEN")
	for _, r := range reps {
		fmt.Fprintf(stdout, "%-40s %-7s %-8s %-10s %s ago\n", r.ID, map[bool]string{true: "yes", false: "no"}[r.Leader],
			r.Version, bot.FormatDuration(now.Sub(r.StartedAt)), bot.FormatDuration(now.Sub(r.SeenAt)))
	}
	return exitOK
}

func discordRegisterCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("discord register", "discord register --config FILE [--guild ID]", stderr)
	var guild string
	cmd.fs.StringVar(&guild, "guild", "", "register in this server only (shows at once); global when empty")
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	c, err := build(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return cmd.fail(err)
	}
	defer c.close()
	n, err := discord.Register(ctx, cfg.Discord, guild, c.router.Commands(), discord.Options{})
	if err != nil {
		return cmd.fail(err)
	}
	where := "globally (Discord may take a while to show them)"
	if guild != "" {
		where = "in server " + guild
	}
	fmt.Fprintf(stdout, "registered %d commands %s\n", n, where)
	return exitOK
}
