// Package handlertest drives handlers the way the shell does: a real store
// (SQLite, or PostgreSQL when configured), a fake clock, the real router, and
// command lines typed as configured people.
package handlertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/bot/shell"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// Env is one test's bot: its dependencies, its fake clock and its router.
type Env struct {
	T      testing.TB
	Deps   handlers.Deps
	Clock  *clock.Fake
	Router *bot.Router
}

// Start is the fake clock's starting time: a Monday morning.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// New opens a store on the backend and builds the dependencies from cfg.
// Call Use with the area's commands before Run.
func New(t testing.TB, b storagetest.Backend, cfg *config.Config) *Env {
	t.Helper()
	fc := clock.NewFake(Start)
	dir := bot.NewDirectory(cfg.People)
	d := handlers.Deps{
		Config: cfg,
		Store:  storagetest.Open(t, b),
		Outbox: notify.New(cfg, dir, fc),
		Dir:    dir,
		Clock:  fc,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Reg:    prometheus.NewRegistry(),
		SNMP:   snmp.NewClient(cfg.Devices.MaxConcurrent),
	}
	return &Env{T: t, Deps: d, Clock: fc}
}

// Use builds the router over the given commands.
func (e *Env) Use(cmds ...bot.Command) {
	e.T.Helper()
	r, err := bot.NewRouter(e.Deps.Dir, e.Deps.Log, prometheus.NewRegistry(), e.Clock.Now, cmds...)
	if err != nil {
		e.T.Fatal(err)
	}
	db := e.Deps.Store.DB
	r.SetInactive(func(ctx context.Context, name string) (bool, error) { return storage.IsInactive(ctx, db, name) })
	e.Router = r
}

// Run types line as the named person (a configured name, or "slack:U123"
// for an unknown employee) and returns the reply.
func (e *Env) Run(person, line string) bot.Reply {
	e.T.Helper()
	p, ok := e.Deps.Dir.ByName(person)
	if !ok {
		e.T.Fatalf("no person %q", person)
	}
	return e.Router.Handle(context.Background(), bot.Incoming{Platform: bot.Shell, Person: p,
		Channel: "shell", Line: line, Route: bot.Route{Platform: bot.Shell, Channel: "shell"}})
}

// Text is Run with the reply rendered as the shell prints it.
func (e *Env) Text(person, line string) string {
	e.T.Helper()
	return shell.Render(e.Run(person, line))
}

// Outbox returns every queued notification, oldest first.
func (e *Env) Outbox() []storage.OutboxMessage {
	e.T.Helper()
	var out []storage.OutboxMessage
	if err := e.Deps.Store.DB.Order("id").Find(&out).Error; err != nil {
		e.T.Fatal(err)
	}
	return out
}

// Audit returns the audit log, oldest first.
func (e *Env) Audit() []storage.AuditEntry {
	e.T.Helper()
	out, err := storage.ListAudit(context.Background(), e.Deps.Store.DB, storage.AuditFilter{})
	if err != nil {
		e.T.Fatal(err)
	}
	return out
}
