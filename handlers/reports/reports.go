// Package reports answers /report with the ops digest (see report) and
// posts the configured reports: into their channels on their cron
// schedules, through the outbox, once per report and period.
package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/report"
	"opsbot/storage"
)

// TickEvery is how often Run looks for reports that are due.
const TickEvery = 30 * time.Second

// CatchUp is how long after its cron time a report is still posted: a
// leader that was down then catches up, but not days later.
const CatchUp = time.Hour

// Handler answers /report and posts the scheduled reports.
type Handler struct {
	d       handlers.Deps
	entries []entry
	teams   []string

	mu sync.Mutex
	// posted holds the keys of reports this process has enqueued, so a
	// report is computed once per period, not at every tick of CatchUp.
	posted map[string]bool
}

type entry struct {
	config.Report
	sched cron.Schedule
	loc   *time.Location
}

// New parses the configured reports' schedules.
func New(d handlers.Deps) (*Handler, error) {
	h := &Handler{d: d, teams: report.Teams(d.Config), posted: map[string]bool{}}
	for i, r := range d.Config.Reports {
		s, err := config.ParseSchedule(r.Cron, r.Timezone)
		if err != nil {
			return nil, fmt.Errorf("reports[%d].cron: %w", i, err)
		}
		loc, err := time.LoadLocation(r.Timezone)
		if err != nil {
			return nil, fmt.Errorf("reports[%d].timezone: %w", i, err)
		}
		r.Channel = d.Config.RouteChannel(r.Channel, r.Team)
		h.entries = append(h.entries, entry{Report: r, sched: s, loc: loc})
	}
	return h, nil
}

// Command is /report.
func (h *Handler) Command() bot.Command {
	return bot.Command{Name: "report", Summary: "The ops digest: uptime, incidents, tickets, access, backups, with charts", Subs: []bot.Sub{
		// Who may: checked in the handler (staff for everything, team
		// members for their team).
		{Name: "", Summary: "The digest of yesterday, the last 7 days or the last 30 days, against the period before", Run: h.show,
			Slow: true, Ack: func(*bot.Request) string { return "Drawing the digest…" },
			Args: []bot.Param{{Name: "period", Kind: bot.KindString, Placeholder: "day|week|month", Help: "default: week"}},
			Flags: []bot.Param{{Name: "team", Kind: bot.KindString, Placeholder: "TEAM",
				Help: "only the team's checks, queues, resources and backup jobs"}}},
	}}
}

// oneLine shortens what someone typed for an error message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return s
}

// parsePeriod reads the period argument, or says what to type.
func parsePeriod(s string) (string, error) {
	if s == "" {
		return report.Week, nil
	}
	p := strings.ToLower(s)
	if report.IsPeriod(p) {
		return p, nil
	}
	hint := ""
	if c := bot.Closest(p, report.Periods); c != "" {
		hint = fmt.Sprintf(" Did you mean %s?", c)
	}
	return "", bot.Errorf("There is no period %q.%s Type /report day, /report week or /report month.", oneLine(s), hint)
}

// team checks the --team flag's value, or says which teams there are.
func (h *Handler) team(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	t := strings.ToLower(s)
	if slices.Contains(h.teams, t) {
		return t, nil
	}
	if len(h.teams) == 0 {
		return "", bot.Errorf("There are no teams: type /report without --team, or ask an admin to set teams in the config.")
	}
	hint := ""
	if c := bot.Closest(t, h.teams); c != "" {
		hint = fmt.Sprintf(" Did you mean %s?", c)
	}
	return "", bot.Errorf("There is no team %q.%s Teams: %s. Type /report week --team TEAM.", oneLine(s), hint, strings.Join(h.teams, ", "))
}

// allowed says whether a person may see a digest: anyone with a role sees
// every digest; a team's members see their team's. People who are not
// staff see nothing: the digest names checks, resources and volumes that
// are not theirs to browse.
func (h *Handler) allowed(p bot.Person, team string) error {
	if len(p.Roles) > 0 {
		return nil
	}
	if cp, ok := h.d.Config.Person(p.Name); ok && p.Known && team != "" && slices.Contains(cp.Teams, team) {
		return nil
	}
	if team != "" {
		return bot.Errorf("Only members of team %s and people with a role (helpdesk, oncall, admin…) may see its digest.", team)
	}
	mine := ""
	if cp, ok := h.d.Config.Person(p.Name); ok && p.Known && len(cp.Teams) > 0 {
		mine = fmt.Sprintf(" Type /report week --team %s for your team's.", cp.Teams[0])
	}
	return bot.Errorf("Only people with a role (helpdesk, oncall, admin…) may see the whole digest.%s", mine)
}

// zone is the time zone of a team's digest: its rotation's, else UTC.
func (h *Handler) zone(team string) *time.Location {
	if t, ok := h.d.Config.Teams[team]; ok && t.Rotation != nil {
		if loc, err := time.LoadLocation(t.Rotation.Timezone); err == nil {
			return loc
		}
	}
	return time.UTC
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	period, err := parsePeriod(req.String("period"))
	if err != nil {
		return bot.Reply{}, err
	}
	team, err := h.team(req.String("team"))
	if err != nil {
		return bot.Reply{}, err
	}
	if err := h.allowed(req.Person, team); err != nil {
		return bot.Reply{}, err
	}
	now := h.d.Clock.Now()
	p, err := report.NewPeriod(period, now, h.zone(team))
	if err != nil {
		return bot.Reply{}, err
	}
	d, err := report.Compute(ctx, h.d.Store.DB, h.d.Config, p, team, now)
	if err != nil {
		return bot.Reply{}, err
	}
	return d.Reply()
}

// Run posts the scheduled reports every TickEvery until ctx ends; only the
// leader runs it.
func (h *Handler) Run(ctx context.Context) error {
	if len(h.entries) == 0 {
		<-ctx.Done()
		return nil
	}
	return handlers.Every(ctx, TickEvery, h.d.Log, "scheduled reports", h.Tick)
}

// lastFire is the latest time at or before now, and no earlier than
// CatchUp before it, at which sched fires.
func lastFire(sched cron.Schedule, now time.Time) (time.Time, bool) {
	t := sched.Next(now.Add(-CatchUp - time.Second))
	if t.IsZero() || t.After(now) {
		return time.Time{}, false
	}
	for {
		n := sched.Next(t)
		if n.IsZero() || n.After(now) {
			return t, true
		}
		t = n
	}
}

// Key is the outbox key of a report's post for the period starting at
// start: the same on every replica, so the period is posted once.
func Key(name string, start time.Time) string {
	return "report:" + name + ":" + start.UTC().Format(time.RFC3339)
}

// Tick posts each report whose cron time passed within CatchUp and whose
// period has not been posted. The post is keyed by the report and the
// period's start, so however often Tick runs, on however many replicas,
// each period goes out once; the writes carry the leader's term, so a
// deposed leader's post is refused.
func (h *Handler) Tick(ctx context.Context) error {
	now := h.d.Clock.Now()
	var errs []error
	wake := false
	for _, e := range h.entries {
		fire, ok := lastFire(e.sched, now)
		if !ok {
			continue
		}
		p, err := report.NewPeriod(e.Period, fire, e.loc)
		if err != nil {
			errs = append(errs, fmt.Errorf("report %s: %w", e.Name, err))
			continue
		}
		key := Key(e.Name, p.Start)
		if done, err := h.done(ctx, key); err != nil || done {
			errs = append(errs, err)
			continue
		}
		d, err := report.Compute(ctx, h.d.Store.DB, h.d.Config, p, e.Team, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("report %s: %w", e.Name, err))
			continue
		}
		r, err := d.Reply()
		if err != nil {
			errs = append(errs, fmt.Errorf("report %s: %w", e.Name, err))
			continue
		}
		r.InChannel = true
		err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
			return h.d.Outbox.Enqueue(tx, notify.Notification{Key: key, To: notify.Destination{Channel: e.Channel}, Reply: r})
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("report %s: %w", e.Name, err))
			continue
		}
		h.mu.Lock()
		h.posted[key] = true
		h.mu.Unlock()
		wake = true
	}
	if wake {
		h.d.Outbox.Wake()
	}
	return errors.Join(errs...)
}

// done reports whether the report keyed key was enqueued already, by this
// process or (after a restart or a change of leader) by another.
func (h *Handler) done(ctx context.Context, key string) (bool, error) {
	h.mu.Lock()
	posted := h.posted[key]
	h.mu.Unlock()
	if posted {
		return true, nil
	}
	var rows []string
	for _, p := range []bot.Platform{bot.Slack, bot.Discord, bot.Log} {
		rows = append(rows, notify.RowKey(key, p))
	}
	var n int64
	if err := h.d.Store.DB.WithContext(ctx).Model(&storage.OutboxMessage{}).Where("key IN ?", rows).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up report %s in the outbox: %w", key, err)
	}
	if n > 0 {
		h.mu.Lock()
		h.posted[key] = true
		h.mu.Unlock()
	}
	return n > 0, nil
}
