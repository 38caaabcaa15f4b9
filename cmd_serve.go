package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"opsbot/bot"
	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/server"
	"opsbot/statuspage"
	"opsbot/storage"
)

// serveCmd runs everything the config enables until a signal: it builds the
// core, takes the replica lock, serves HTTP, connects the platforms, and
// runs the background work, the scheduled work only while it leads.
func serveCmd(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, code := newCommand("serve", "serve --config FILE", stderr).load(args)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg.Log, stderr)
	fail := func(err error) int {
		log.Error("start", "err", err)
		return exitFail
	}
	c, err := build(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	defer c.close()
	release, err := c.store.LockServe()
	if err != nil {
		return fail(err)
	}
	defer release()
	elector := newElector(c)
	srv, err := newHTTP(c, elector)
	if err != nil {
		return fail(err)
	}
	addSlack(c, srv)
	if err := addDiscord(c, srv); err != nil {
		return fail(err)
	}
	return runServe(ctx, c, srv, elector)
}

// newElector campaigns for the leadership of the scheduled work; the
// opsbot_leader gauge shows whether this replica holds it.
func newElector(c *core) *storage.Elector {
	elector := c.store.NewElector(version, time.Duration(c.cfg.Leader.Interval), c.log, c.clock.Now)
	c.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opsbot_leader", Help: "1 while this replica runs the scheduled work.",
	}, func() float64 { return map[bool]float64{true: 1}[elector.Leading()] }))
	return elector
}

// newHTTP listens on cfg.listen with the health, readiness and metrics
// endpoints and, when enabled, the status page.
func newHTTP(c *core, elector *storage.Elector) (*server.Server, error) {
	srv := server.New(c.log, c.store, c.reg)
	srv.AddReady(func() map[string]string {
		return map[string]string{"replica": elector.ID(), "leader": map[bool]string{true: "yes", false: "no"}[elector.Leading()]}
	})
	// The status page's credentials, when set, also guard /metrics.
	sp, err := statuspage.New(c.cfg.StatusPage, statuspage.StoreSources(c.cfg, c.store.DB), c.clock, c.log)
	if err != nil {
		return nil, err
	}
	if c.cfg.StatusPage.Enabled {
		sp.Mount(srv)                           // GET /incidents/{id}, /api/v1/status
		sp.MountReports(srv, c.cfg, c.store.DB) // GET /report/{day,week,month}.png
		srv.SetRoot(sp.Root())                  // GET /
	}
	srv.GuardMetrics(sp.Guard)
	if err := srv.Listen(c.cfg.Listen); err != nil {
		return nil, err
	}
	return srv, nil
}

// addSlack connects Slack when enabled: its HTTP endpoints or Socket Mode,
// and its sender for the outbox.
func addSlack(c *core, srv *server.Server) {
	if !c.cfg.Slack.Enabled {
		return
	}
	sa := slackbot.New(slackbot.Options{Config: c.cfg.Slack, Router: c.router, Store: c.store, Clock: c.clock, Log: c.log,
		Intake: c.intake, Reaction: c.cfg.Tickets.IntakeReaction, Outbox: c.outbox})
	sa.Mount(srv)                         // HTTP mode: /slack/commands, /slack/interactions, /slack/events
	c.workers = append(c.workers, sa.Run) // Socket Mode connection; prunes handled requests
	ss := slackbot.NewSender(c.cfg.Slack, c.log)
	c.notifier.Register(bot.Slack, ss)
	// Join the configured channels, or say which it is not in: a lost
	// answer there cannot be looked up.
	c.workers = append(c.workers, func(ctx context.Context) error { ss.JoinChannels(ctx, c.cfg.Channels); return nil })
}

// addDiscord connects Discord when enabled: its HTTP endpoint or the
// gateway, and its sender for the outbox.
func addDiscord(c *core, srv *server.Server) error {
	if !c.cfg.Discord.Enabled {
		return nil
	}
	d, err := discord.New(c.cfg.Discord, c.router, c.store, c.clock, c.log, discord.Options{Intake: c.intake, Outbox: c.outbox})
	if err != nil {
		return err
	}
	if c.cfg.Discord.Mode != "gateway" {
		srv.Handle("POST /discord/interactions", d)
		c.workers = append(c.workers, d.Run)
	} else {
		// Every gateway session of a bot receives every interaction:
		// one connection, the leader's, or each replica would run it.
		c.scheduled = append(c.scheduled, d.Run)
	}
	c.notifier.Register(bot.Discord, discord.NewSender(c.cfg.Discord, c.store, c.clock, c.log, discord.Options{}))
	return nil
}

// runServe serves HTTP and runs the workers on this replica, and the
// scheduled work while the elector leads, until ctx ends or one fails.
func runServe(ctx context.Context, c *core, srv *server.Server, elector *storage.Elector) int {
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
	c.log.Info("opsbot started", "version", version, "database", c.store.Driver(), "listen", srv.Addr())
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Error("stopped", "err", err)
		return exitFail
	}
	c.log.Info("opsbot stopped")
	return exitOK
}
