package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/access"
	"opsbot/handlers/backups"
	"opsbot/handlers/devices"
	"opsbot/handlers/incidents"
	"opsbot/handlers/oncall"
	"opsbot/handlers/provision"
	"opsbot/handlers/reports"
	"opsbot/handlers/runbooks"
	"opsbot/handlers/tickets"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
)

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
	outbox *notify.Outbox
	// notifier delivers the outbox: serve runs it on every replica, the
	// shell drains it after each command. serve registers a sender for each
	// platform it enables; the notifier claims only those platforms' messages
	// and this process's own log sink messages.
	notifier *notify.Notifier
	reg      *prometheus.Registry
	router   *bot.Router
	// intake files tickets from chat messages (the tickets handler).
	intake bot.Intake
	// tickets and access are the areas onboarding files tickets and asks
	// for access through.
	tickets *tickets.Handler
	access  *access.Handler
	// workers is background work every replica runs until shutdown (the
	// notifier); scheduled is work only the leader runs (checks, expiries,
	// SLA timers, backup schedules). Each returns when ctx ends.
	workers   []func(ctx context.Context) error
	scheduled []func(ctx context.Context) error
	// closers run before storage closes, e.g. to let running backups end.
	closers []func()
}

// build opens storage and assembles the notifications, the handlers and the
// router.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*core, error) {
	c := &core{cfg: cfg, log: log, clock: clock.Real{}, reg: prometheus.NewRegistry()}
	c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	c.store = store
	c.dir = bot.NewDirectory(cfg.People)
	if err := c.addNotifications(); err != nil {
		store.Close()
		return nil, err
	}
	cmds, err := c.addAreas(ctx)
	if err == nil {
		c.router, err = bot.NewRouter(c.dir, log, c.reg, c.clock.Now, cmds...)
	}
	if err == nil {
		db := store.DB
		c.router.SetInactive(func(ctx context.Context, name string) (bool, error) { return storage.IsInactive(ctx, db, name) })
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// addNotifications builds the outbox and its notifier, which every replica
// runs; it delivers this process's log sink messages, and each platform's
// once serve registers that platform's sender.
func (c *core) addNotifications() error {
	c.outbox = notify.New(c.cfg, c.dir, c.clock)
	n, err := notify.NewNotifier(c.store, c.clock, c.log, c.reg, c.cfg.Outbox,
		map[bot.Platform]bot.Sender{bot.Log: &notify.LogSender{Log: c.log}})
	if err != nil {
		return err
	}
	c.notifier = n
	c.outbox.Attach(n)
	c.workers = append(c.workers, n.Run)
	return nil
}

// addAreas builds each area's handler, in the order of /help, and returns
// their commands. Each area adds its scheduled work (leader only) and its
// shutdown steps here.
func (c *core) addAreas(ctx context.Context) ([]bot.Command, error) {
	// One SNMP client: device lookups and snmp checks share its limit.
	deps := handlers.Deps{Config: c.cfg, Store: c.store, Outbox: c.outbox, Dir: c.dir, Clock: c.clock, Log: c.log, Reg: c.reg,
		SNMP: snmp.NewClient(c.cfg.Devices.MaxConcurrent)}
	var cmds []bot.Command
	for _, add := range []func(handlers.Deps) ([]bot.Command, error){
		c.addTickets,
		func(d handlers.Deps) ([]bot.Command, error) { return c.addBackups(ctx, d) },
		c.addDevices,
		c.addAccess,
		c.addIncidents,
		c.addOncall,
		c.addProvision,
		func(d handlers.Deps) ([]bot.Command, error) { return c.addRunbooks(ctx, d) },
		c.addReports,
	} {
		more, err := add(deps)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, more...)
	}
	return cmds, nil
}

func (c *core) addTickets(deps handlers.Deps) ([]bot.Command, error) {
	h, err := tickets.New(deps)
	if err != nil {
		return nil, err
	}
	c.intake, c.tickets = h, h
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command()}, nil
}

func (c *core) addBackups(ctx context.Context, deps handlers.Deps) ([]bot.Command, error) {
	h, err := backups.New(deps)
	if err != nil {
		return nil, err
	}
	c.scheduled = append(c.scheduled, h.Run)
	c.closers = append(c.closers, func() { h.Drain(ctx) })
	return []bot.Command{h.Command()}, nil
}

func (c *core) addDevices(deps handlers.Deps) ([]bot.Command, error) {
	h, err := devices.New(deps)
	if err != nil {
		return nil, err
	}
	// Ports changed with /device port are set back by the leader.
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command()}, nil
}

func (c *core) addAccess(deps handlers.Deps) ([]bot.Command, error) {
	h, err := access.New(deps)
	if err != nil {
		return nil, err
	}
	c.access = h
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command()}, nil
}

func (c *core) addIncidents(deps handlers.Deps) ([]bot.Command, error) {
	h, err := incidents.New(deps)
	if err != nil {
		return nil, err
	}
	c.scheduled = append(c.scheduled, h.Run)
	return h.Commands(), nil
}

func (c *core) addOncall(deps handlers.Deps) ([]bot.Command, error) {
	h, err := oncall.New(deps)
	if err != nil {
		return nil, err
	}
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command()}, nil
}

func (c *core) addProvision(deps handlers.Deps) ([]bot.Command, error) {
	h, err := provision.New(deps, c.tickets, c.access)
	if err != nil {
		return nil, err
	}
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command(), h.OffboardCommand()}, nil
}

func (c *core) addRunbooks(ctx context.Context, deps handlers.Deps) ([]bot.Command, error) {
	h, err := runbooks.New(deps)
	if err != nil {
		return nil, err
	}
	// Every replica streams the output of the runs it runs; the leader
	// starts waiting runs and marks lost ones.
	c.workers = append(c.workers, h.Stream)
	c.scheduled = append(c.scheduled, h.Run)
	c.closers = append(c.closers, func() { h.Drain(ctx) })
	return []bot.Command{h.Command()}, nil
}

func (c *core) addReports(deps handlers.Deps) ([]bot.Command, error) {
	h, err := reports.New(deps)
	if err != nil {
		return nil, err
	}
	// The leader posts the scheduled reports.
	c.scheduled = append(c.scheduled, h.Run)
	return []bot.Command{h.Command()}, nil
}

func (c *core) close() {
	for _, f := range c.closers {
		f()
	}
	if err := c.store.Close(); err != nil {
		c.log.Error("close storage", "err", err)
	}
}
