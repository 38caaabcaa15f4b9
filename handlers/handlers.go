// Package handlers holds opsbot's domain, one sub-package per area (tickets,
// access, devices, backups, incidents). A handler takes a bot.Request and
// returns a bot.Reply; it never sees a platform type. This package holds what
// every area is built from.
package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
)

// Deps is what an area's constructor receives.
type Deps struct {
	Config *config.Config
	Store  *storage.Store
	Outbox *notify.Outbox
	Dir    *bot.Directory
	Clock  clock.Clock
	Log    *slog.Logger
	// Reg registers the area's metrics.
	Reg prometheus.Registerer
	// SNMP is the one SNMP client of the process: device lookups and SNMP
	// checks share its devices.max_concurrent limit.
	SNMP *snmp.Client
}

// Audit is the audit entry for a change made by a request.
func Audit(req *bot.Request, action, subject, detail string) storage.AuditEntry {
	return storage.AuditEntry{At: req.At, Actor: req.Person.Name, Platform: string(req.Platform),
		Action: action, Subject: subject, Detail: detail, RequestID: req.ID}
}

// Every runs tick at once and then every interval until ctx ends, logging
// a failed pass as what (unless it failed because ctx ended). It is the
// loop of every area's scheduled work, which the leader alone runs.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, tick func(context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := tick(ctx); err != nil && ctx.Err() == nil {
			log.Error(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
