// Package oncall answers /oncall (who is on call, overrides, swaps) and
// posts each team's hand-offs into its channel.
package oncall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/handlers/roster"
	"opsbot/notify"
	rota "opsbot/oncall"
	"opsbot/storage"
)

// tickEvery is how often Run looks for hand-offs to announce.
const tickEvery = 30 * time.Second

// handoffGrace is how long after a hand-off it is still announced (a
// leader that was down at the time catches up, but not days later).
const handoffGrace = time.Hour

// maxOverride caps how long an override or swap may last.
const maxOverride = 90 * 24 * time.Hour

// Handler answers /oncall and announces hand-offs.
type Handler struct {
	d handlers.Deps
	r *roster.Roster
}

// New parses the teams' rotations.
func New(d handlers.Deps) (*Handler, error) {
	r, err := roster.New(d.Config)
	if err != nil {
		return nil, err
	}
	r.Active = storage.ActiveFunc(d.Store.DB, 2*time.Second)
	return &Handler{d: d, r: r}, nil
}

// Command is /oncall.
func (h *Handler) Command() bot.Command {
	team := bot.Param{Name: "team", Kind: bot.KindString, Required: true, Placeholder: "TEAM"}
	person := bot.Param{Name: "person", Kind: bot.KindPerson, Required: true}
	return bot.Command{Name: "oncall", Summary: "Who is on call, overrides and swaps", Subs: []bot.Sub{
		{Name: "", Summary: "Who is on call now for each team, or for one (--week: the next seven days)", Run: h.show,
			Args:  []bot.Param{{Name: "team", Kind: bot.KindString, Placeholder: "TEAM"}},
			Flags: []bot.Param{{Name: "week", Kind: bot.KindBool, Help: "one line a day for the next seven days"}}},
		// Team members and admins may override: checked in the handler.
		{Name: "override", Summary: "Put a team member on call instead of the rotation (team members, admin)", Run: h.override,
			Args: []bot.Param{team, person},
			Flags: []bot.Param{{Name: "layer", Kind: bot.KindString, Placeholder: "LAYER", Help: "default: the first layer, the primary"},
				{Name: "from", Kind: bot.KindString, Required: true, Placeholder: "DATE", Help: "YYYY-MM-DD (midnight) or YYYY-MM-DDTHH:MM, in the team's zone"},
				{Name: "to", Kind: bot.KindString, Required: true, Placeholder: "DATE", Help: "last day, inclusive, or YYYY-MM-DDTHH:MM, exclusive"}}},
		{Name: "swap", Summary: "Hand your shift in a window to a team member, once they accept", Run: h.swap,
			Args: []bot.Param{team, person},
			Flags: []bot.Param{{Name: "from", Kind: bot.KindString, Required: true, Placeholder: "DATE", Help: "YYYY-MM-DD or YYYY-MM-DDTHH:MM, in the team's zone"},
				{Name: "for", Kind: bot.KindDuration, Required: true, Help: "how long, e.g. 1d"}}},
		{Name: "accept", Summary: "Accept a swap offered to you", Run: h.accept,
			Args: []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}}},
	}}
}

// when formats t in the team's zone, as people there read it.
func when(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

// who formats the person of a shift.
func who(s rota.Shift) string {
	if s.Person == "" {
		return "nobody (a gap)"
	}
	return "@" + s.Person
}

// rotation returns a team's rotation, or a user error naming the teams.
func (h *Handler) rotation(team string) (*rota.Rotation, error) {
	if rot, ok := h.r.Rotation(team); ok {
		return rot, nil
	}
	if len(h.r.Teams()) == 0 {
		return nil, bot.Errorf("No team has a rotation yet: an admin sets teams.NAME.rotation in the config.")
	}
	hint := ""
	if c := bot.Closest(strings.ToLower(team), h.r.Teams()); c != "" {
		hint = fmt.Sprintf(" Did you mean %s?", c)
	}
	return nil, bot.Errorf("There is no team %q with a rotation.%s Teams: %s.", oneLine(team), hint, strings.Join(h.r.Teams(), ", "))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	now := h.d.Clock.Now()
	team := req.String("team")
	if team == "" {
		if req.Bool("week") {
			return bot.Reply{}, bot.Errorf("--week needs a team: /oncall TEAM --week")
		}
		return h.all(ctx, now)
	}
	rot, err := h.rotation(team)
	if err != nil {
		return bot.Reply{}, err
	}
	if req.Bool("week") {
		return h.week(ctx, team, rot, now)
	}
	shifts, err := h.r.Now(ctx, h.d.Store.DB, team, now)
	if err != nil {
		return bot.Reply{}, err
	}
	r := bot.Reply{Title: "On call for " + team}
	for _, s := range shifts {
		v := who(s)
		if s.Person != "" {
			v += " until " + when(s.End, rot.Location())
		}
		if s.Override {
			v += " (override)"
		}
		r.Fields = append(r.Fields, bot.Field{Name: s.Layer, Value: v, Short: true})
	}
	r.Footer = "next hand-off " + when(rot.NextHandoff(now), rot.Location())
	return r, nil
}

// all is /oncall: one line per team.
func (h *Handler) all(ctx context.Context, now time.Time) (bot.Reply, error) {
	if len(h.r.Teams()) == 0 {
		return bot.Text("No team has a rotation yet: an admin sets teams.NAME.rotation in the config."), nil
	}
	var lines []string
	for _, team := range h.r.Teams() {
		shifts, err := h.r.Now(ctx, h.d.Store.DB, team, now)
		if err != nil {
			return bot.Reply{}, err
		}
		lines = append(lines, team+": "+layers(shifts))
	}
	return bot.Reply{Title: "On call now", Text: strings.Join(lines, "\n"), Footer: "/oncall TEAM for one team, /oncall TEAM --week for its next seven days"}, nil
}

// layers formats shifts as "primary @alice, secondary @bob".
func layers(shifts []rota.Shift) string {
	parts := make([]string, len(shifts))
	for i, s := range shifts {
		parts[i] = s.Layer + " " + who(s)
		if s.Override {
			parts[i] += " (override)"
		}
	}
	return strings.Join(parts, ", ")
}

// week is /oncall TEAM --week: one line for each of the next seven days,
// who is on call from that day's hand-off (from now, today).
func (h *Handler) week(ctx context.Context, team string, rot *rota.Rotation, now time.Time) (bot.Reply, error) {
	ovs, err := roster.Overrides(ctx, h.d.Store.DB, team, now, now.Add(8*24*time.Hour))
	if err != nil {
		return bot.Reply{}, err
	}
	l := now.In(rot.Location())
	var lines []string
	for i := range 7 {
		day := time.Date(l.Year(), l.Month(), l.Day()+i, 12, 0, 0, 0, time.UTC)
		at := rot.Handoff(day)
		if at.Before(now) {
			at = now
		}
		var shifts []rota.Shift
		for _, layer := range rot.Layers() {
			shifts = append(shifts, rot.At(layer, at, ovs, h.r.Active))
		}
		lines = append(lines, day.Format("Mon 2006-01-02")+": "+layers(shifts))
	}
	return bot.Reply{Title: "On call for " + team + ", the next seven days", Text: strings.Join(lines, "\n"),
		Footer: "each day from its hand-off at " + rot.Handoff(time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, time.UTC)).In(rot.Location()).Format("15:04 MST")}, nil
}

// parseWhen reads DATE (midnight) or DATE THH:MM in loc; dateOnly says
// which it was.
func parseWhen(flag, s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return rota.LocalInstant(d.Year(), d.Month(), d.Day(), 0, 0, loc), true, nil
	}
	if d, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return rota.LocalInstant(d.Year(), d.Month(), d.Day(), d.Hour(), d.Minute(), loc), false, nil
	}
	return time.Time{}, false, bot.Errorf("--%s %q: want a date such as 2026-12-24, or a date and time such as 2026-12-24T09:00 (in %s).", flag, oneLine(s), loc)
}

// mayChange refuses people who are neither in the team nor admins.
func (h *Handler) mayChange(req *bot.Request, team string) error {
	if req.Person.HasRole("admin") || h.r.Member(req.Person.Name, team) {
		return nil
	}
	return bot.Forbiddenf("Only members of team %s or an admin may change its on-call schedule.", team)
}

func (h *Handler) member(p bot.Person, team string) error {
	if !h.r.Member(p.Name, team) {
		return bot.Errorf("@%s is not in team %s; only its members can be on call for it.", p.Name, team)
	}
	return nil
}

func (h *Handler) override(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	team := req.String("team")
	rot, err := h.rotation(team)
	if err != nil {
		return bot.Reply{}, err
	}
	if err := h.mayChange(req, team); err != nil {
		return bot.Reply{}, err
	}
	p, _ := req.PersonArg("person")
	if err := h.member(p, team); err != nil {
		return bot.Reply{}, err
	}
	layer := req.String("layer")
	if layer == "" {
		layer = rot.Layers()[0]
	}
	if !slices.Contains(rot.Layers(), layer) {
		return bot.Reply{}, bot.Errorf("Team %s has no layer %q; its layers: %s.", team, oneLine(layer), strings.Join(rot.Layers(), ", "))
	}
	loc := rot.Location()
	from, _, err := parseWhen("from", req.String("from"), loc)
	if err != nil {
		return bot.Reply{}, err
	}
	to, dateOnly, err := parseWhen("to", req.String("to"), loc)
	if err != nil {
		return bot.Reply{}, err
	}
	if dateOnly {
		// --to names the last day: the override ends at the midnight after it.
		d := to.In(loc)
		to = rota.LocalInstant(d.Year(), d.Month(), d.Day()+1, 0, 0, loc)
	}
	now := h.d.Clock.Now()
	switch {
	case !to.After(from):
		return bot.Reply{}, bot.Errorf("--to must be after --from.")
	case to.Sub(from) > maxOverride:
		return bot.Reply{}, bot.Errorf("An override lasts at most 90 days.")
	case !to.After(now):
		return bot.Reply{}, bot.Errorf("That window is over already (it ended %s).", when(to, loc))
	}
	o := storage.OncallOverride{Team: team, Layer: layer, Person: p.Name, From: from, To: to, Kind: storage.OverrideSet,
		CreatedBy: req.Person.Name, CreatedAt: now, AcceptedAt: &now}
	text := fmt.Sprintf("@%s is %s for %s from %s to %s", p.Name, layer, team, when(from, loc), when(to, loc))
	err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.CreateOverride(tx, &o); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "oncall.override", "oncall:"+team, fmt.Sprintf("#%d %s", o.ID, text))); err != nil {
			return err
		}
		return h.toTeam(tx, team, fmt.Sprintf("oncall:override:%d", o.ID),
			bot.Reply{Text: fmt.Sprintf("On-call override #%d by @%s: %s.", o.ID, req.Person.Name, text), Severity: bot.SeverityInfo})
	})
	if err != nil {
		return bot.Reply{}, err
	}
	h.d.Outbox.Wake()
	return bot.Reply{Text: fmt.Sprintf("Override #%d: %s.", o.ID, text), Severity: bot.SeveritySuccess, InChannel: true}, nil
}

// toTeam posts into the team's channel, if it has one.
func (h *Handler) toTeam(tx *gorm.DB, team, key string, r bot.Reply) error {
	ch := h.d.Config.Teams[team].Channel
	if ch == "" {
		return nil
	}
	r.InChannel = true
	return h.d.Outbox.Enqueue(tx, notify.Notification{Key: key, To: notify.Destination{Channel: ch}, Reply: r})
}

func (h *Handler) swap(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	team := req.String("team")
	rot, err := h.rotation(team)
	if err != nil {
		return bot.Reply{}, err
	}
	p, _ := req.PersonArg("person")
	if err := h.member(p, team); err != nil {
		return bot.Reply{}, err
	}
	if p.Name == req.Person.Name {
		return bot.Reply{}, bot.Errorf("Swap with someone else: /oncall swap %s @PERSON --from DATE --for 1d.", team)
	}
	loc := rot.Location()
	from, _, err := parseWhen("from", req.String("from"), loc)
	if err != nil {
		return bot.Reply{}, err
	}
	d := req.Duration("for")
	now := h.d.Clock.Now()
	switch {
	case d <= 0 || d > maxOverride:
		return bot.Reply{}, bot.Errorf("--for must be longer than 0 and at most 90d, e.g. 1d.")
	case !from.Add(d).After(now):
		return bot.Reply{}, bot.Errorf("That window is over already.")
	}
	to := from.Add(d)
	shifts, err := h.r.Now(ctx, h.d.Store.DB, team, from)
	if err != nil {
		return bot.Reply{}, err
	}
	layer := ""
	for _, s := range shifts {
		if s.Person == req.Person.Name {
			layer = s.Layer
			break
		}
	}
	if layer == "" {
		return bot.Reply{}, bot.Errorf("You are not on call for %s at %s; /oncall %s --week shows who is.", team, when(from, loc), team)
	}
	o := storage.OncallOverride{Team: team, Layer: layer, Person: p.Name, From: from, To: to, Kind: storage.OverrideSwap,
		SwapFrom: req.Person.Name, CreatedBy: req.Person.Name, CreatedAt: now}
	window := fmt.Sprintf("%s shift for %s from %s to %s", layer, team, when(from, loc), when(to, loc))
	err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.CreateOverride(tx, &o); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "oncall.swap", "oncall:"+team, fmt.Sprintf("#%d @%s offers @%s %s", o.ID, req.Person.Name, p.Name, window))); err != nil {
			return err
		}
		return h.d.Outbox.Enqueue(tx, notify.Notification{Key: fmt.Sprintf("oncall:swap:%d", o.ID), To: notify.Destination{Person: p.Name},
			Reply: bot.Reply{Title: fmt.Sprintf("Swap #%d: @%s asks you to take over", o.ID, req.Person.Name), Text: "Take " + window + "?",
				Buttons: []bot.Button{{Label: "Accept", Command: fmt.Sprintf("/oncall accept %d", o.ID), Style: bot.ButtonPrimary}}}})
	})
	if err != nil {
		return bot.Reply{}, err
	}
	h.d.Outbox.Wake()
	return bot.Reply{Text: fmt.Sprintf("Swap #%d: asked @%s to take your %s; it is theirs once they press Accept.", o.ID, p.Name, window),
		Severity: bot.SeverityInfo}, nil
}

func (h *Handler) accept(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	now := h.d.Clock.Now()
	var o storage.OncallOverride
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		o, err = storage.GetOverride(tx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound) || err == nil && o.Kind != storage.OverrideSwap:
			return bot.Errorf("There is no swap #%d.", id)
		case err != nil:
			return err
		case o.Person != req.Person.Name:
			return bot.Forbiddenf("Swap #%d was offered to @%s; only they may accept it.", id, o.Person)
		case o.AcceptedAt != nil:
			return bot.Errorf("You accepted swap #%d already.", id)
		case !o.To.After(now):
			return bot.Errorf("Swap #%d is over already.", id)
		}
		if err := storage.AcceptOverride(tx, id, now); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "oncall.accept", "oncall:"+o.Team, fmt.Sprintf("#%d from @%s", id, o.SwapFrom))); err != nil {
			return err
		}
		return h.d.Outbox.Enqueue(tx, notify.Notification{Key: fmt.Sprintf("oncall:swap:%d:accepted", id), To: notify.Destination{Person: o.SwapFrom},
			Reply: bot.Reply{Text: fmt.Sprintf("@%s accepted swap #%d: they take your %s shift of %s.", o.Person, id, o.Layer, o.Team), Severity: bot.SeveritySuccess}})
	})
	if err != nil {
		return bot.Reply{}, err
	}
	h.d.Outbox.Wake()
	loc := time.UTC
	if rot, ok := h.r.Rotation(o.Team); ok {
		loc = rot.Location()
	}
	return bot.Reply{Text: fmt.Sprintf("Swap #%d accepted: you are %s for %s from %s to %s, in place of @%s.", id, o.Layer, o.Team,
		when(o.From, loc), when(o.To, loc), o.SwapFrom), Severity: bot.SeveritySuccess}, nil
}
