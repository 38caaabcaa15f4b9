package oncall

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/storage"
)

// Run announces hand-offs every 30 seconds until ctx ends; only the leader
// runs it.
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, tickEvery, h.d.Log, "on-call hand-off", h.Tick)
}

// Tick posts, into the channel of each team whose rotation handed off in
// the last hour, who takes over and the team's open incidents. The post is
// keyed by the team and the hand-off, so it goes out once however often
// Tick runs, and on however many replicas.
func (h *Handler) Tick(ctx context.Context) error {
	now := h.d.Clock.Now()
	var errs []error
	var open []storage.Incident
	loaded := false
	for _, team := range h.r.Teams() {
		ch := h.d.Config.Teams[team].Channel
		rot, _ := h.r.Rotation(team)
		start := rot.ShiftStart(now)
		if ch == "" || now.Sub(start) >= handoffGrace {
			continue
		}
		if !loaded {
			var err error
			if open, err = storage.ListIncidents(ctx, h.d.Store.DB, false, 1000); err != nil {
				return err
			}
			loaded = true
		}
		shifts, err := h.r.Now(ctx, h.d.Store.DB, team, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r := bot.Reply{Title: fmt.Sprintf("On-call hand-off for %s", team),
			Text:     fmt.Sprintf("Taking over until %s: %s.", when(rot.NextHandoff(now), rot.Location()), layers(shifts)),
			Severity: bot.SeverityInfo}
		var lines []string
		for _, in := range open {
			if c, ok := h.d.Config.Check(in.Check); ok && c.Team == team {
				lines = append(lines, fmt.Sprintf("#%d %s: %s since %s", in.ID, in.Check, in.State, in.FailingSince.In(rot.Location()).Format("Mon 15:04 MST")))
			}
		}
		if len(lines) == 0 {
			lines = []string{"none"}
		}
		r.Fields = []bot.Field{{Name: "Open incidents", Value: strings.Join(lines, "\n")}}
		err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
			return h.toTeam(tx, team, fmt.Sprintf("oncall:handoff:%s:%d", team, start.Unix()), r)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("team %s: %w", team, err))
		}
	}
	h.d.Outbox.Wake()
	return errors.Join(errs...)
}
