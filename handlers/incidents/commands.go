package incidents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/checks"
	"opsbot/handlers"
	"opsbot/storage"
)

// maxSilence caps /incident silence --for.
const maxSilence = 30 * 24 * time.Hour

// listLimit caps the lines of /incident list and /check list.
const listLimit = 50

// Command is /incident.
func (h *Handler) Command() bot.Command {
	id := bot.Param{Name: "id", Kind: bot.KindID, Required: true}
	return bot.Command{Name: "incident", Summary: "Incidents raised by checks", Subs: []bot.Sub{
		{Name: "list", Summary: "Open incidents (--all: recent ones too)", Run: h.list,
			Flags: []bot.Param{{Name: "all", Kind: bot.KindBool, Help: "include resolved incidents"}}},
		{Name: "show", Summary: "An incident and its timeline", Args: []bot.Param{id}, Run: h.show},
		// ack and resolve check their role in the handler: a person an
		// incident escalated to may act on it without the role.
		{Name: "ack", Summary: "Acknowledge an incident, stopping escalation (oncall, or a person it escalated to)",
			Args: []bot.Param{id}, Run: h.ack},
		{Name: "resolve", Summary: "Resolve an incident by hand (oncall, or a person it escalated to)", Run: h.resolve,
			Args: []bot.Param{id, {Name: "note", Kind: bot.KindText}}},
		{Name: "silence", Summary: "Open no incidents for a check for a while", Roles: []string{"oncall"}, Run: h.silence,
			Args:  []bot.Param{{Name: "check", Kind: bot.KindString, Required: true, Placeholder: "CHECK"}},
			Flags: []bot.Param{{Name: "for", Kind: bot.KindDuration, Required: true, Help: "how long, e.g. 2h"}}},
		{Name: "unsilence", Summary: "End a check's silence now (not a config maintenance window)", Roles: []string{"oncall"},
			Run: h.unsilence, Args: []bot.Param{{Name: "check", Kind: bot.KindString, Required: true, Placeholder: "CHECK"}}},
	}}
}

// CheckCommand is /check.
func (h *Handler) CheckCommand() bot.Command {
	return bot.Command{Name: "check", Summary: "Scheduled checks", Subs: []bot.Sub{
		{Name: "list", Summary: "Every check: status, last result, latency", Run: h.checkList},
		{Name: "run", Summary: "Run a check now and show the result", Roles: []string{"oncall"}, Slow: true,
			Args: []bot.Param{{Name: "name", Kind: bot.KindString, Required: true, Placeholder: "NAME"}},
			Ack:  h.checkRunAck, Run: h.checkRun},
	}}
}

// Commands returns /incident and /check.
func (h *Handler) Commands() []bot.Command { return []bot.Command{h.Command(), h.CheckCommand()} }

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	all := req.Bool("all")
	ins, err := storage.ListIncidents(ctx, h.d.Store.DB, all, listLimit+1)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(ins) == 0 {
		if all {
			return bot.Text("No incidents yet."), nil
		}
		return bot.Text("No open incidents. (/incident list --all shows resolved ones too.)"), nil
	}
	now := h.d.Clock.Now()
	var lines []string
	for _, in := range ins[:min(len(ins), listLimit)] {
		lines = append(lines, fmt.Sprintf("#%d %s %s — %s, %s", in.ID, stateMark(in), in.Check, stateText(in, now), oneLine(in.Error, 80)))
	}
	title := "Open incidents"
	if all {
		title = "Recent incidents"
	}
	text, cut := fit(lines, maxListText)
	if cut > 0 || len(ins) > listLimit {
		text += "\n… and more; /incident show N for one"
	}
	return bot.Reply{Title: title, Text: text}, nil
}

// maxListText is how long a list's text may be: Slack shows 3000
// characters of a section, and the "and more" line must fit after it.
const maxListText = 2900

// fit joins as many of lines as fit in n characters and says how many did
// not.
func fit(lines []string, n int) (string, int) {
	used := 0
	for i, l := range lines {
		if used+utf8.RuneCountInString(l)+1 > n {
			return strings.Join(lines[:i], "\n"), len(lines) - i
		}
		used += utf8.RuneCountInString(l) + 1
	}
	return strings.Join(lines, "\n"), 0
}

func (h *Handler) get(ctx context.Context, id int64) (storage.Incident, error) {
	in, err := storage.GetIncident(h.d.Store.DB.WithContext(ctx), id)
	if errors.Is(err, storage.ErrNotFound) {
		return in, bot.Errorf("There is no incident #%d. Type /incident list to see open incidents.", id)
	}
	return in, err
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	in, err := h.get(ctx, req.Int("id"))
	if err != nil {
		return bot.Reply{}, err
	}
	evs, err := storage.IncidentEvents(ctx, h.d.Store.DB, in.ID)
	if err != nil {
		return bot.Reply{}, err
	}
	r := h.render(in, h.d.Clock.Now())
	lines := make([]string, len(evs))
	for i, e := range evs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", e.At.Format("2006-01-02 15:04:05Z"), e.Kind)
		if e.Actor != "" {
			fmt.Fprintf(&b, " by @%s", e.Actor)
		}
		if e.Detail != "" {
			fmt.Fprintf(&b, ": %s", oneLine(e.Detail, 200))
		}
		lines[i] = b.String()
	}
	r.Fields = append(r.Fields, bot.Field{Name: "Timeline", Value: timeline(lines, maxTimeline)})
	return r, nil
}

// maxTimeline is how many characters of timeline /incident show gives:
// Discord cuts an embed field at 1024, Slack at 2000.
const maxTimeline = 1000

// timeline joins the first line (how it began) and as many of the latest
// as fit in n characters, saying how many in between were left out.
func timeline(lines []string, n int) string {
	if len(lines) == 0 {
		return ""
	}
	if len(strings.Join(lines, "\n")) <= n {
		return strings.Join(lines, "\n")
	}
	used := len(lines[0]) + 40 // the first line and the "… earlier events" line
	from := len(lines)
	for from > 1 && used+len(lines[from-1])+1 <= n {
		from--
		used += len(lines[from]) + 1
	}
	out := []string{lines[0]}
	if skipped := from - 1; skipped > 0 {
		out = append(out, fmt.Sprintf("… %d earlier events (not shown)", skipped))
	}
	return strings.Join(append(out, lines[from:]...), "\n")
}

func (h *Handler) ack(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	now := h.d.Clock.Now()
	var out storage.Incident
	var already bool
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		in, err := storage.GetIncident(tx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return bot.Errorf("There is no incident #%d. Type /incident list to see open incidents.", id)
		}
		if err != nil {
			return err
		}
		if err := h.mayAct(ctx, tx, in, req.Person, "acknowledge"); err != nil {
			return err
		}
		switch {
		case in.State == storage.IncidentResolved:
			return bot.Errorf("Incident #%d is resolved already; nothing to acknowledge.", id)
		case in.AckedBy != "":
			out, already = in, true
			return nil
		}
		at := now
		in.State, in.AckedBy, in.AckedAt = storage.IncidentAcked, req.Person.Name, &at
		if err := event(tx, in.ID, now, "acknowledged", req.Person.Name, ""); err != nil {
			return err
		}
		if err := h.edit(tx, &in, now); err != nil {
			return err
		}
		out = in
		return storage.WriteAudit(tx, handlers.Audit(req, "incident.ack", fmt.Sprintf("incident:%d", id), in.Check))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if already {
		return bot.Text(fmt.Sprintf("Incident #%d was acknowledged already by @%s.", id, out.AckedBy)), nil
	}
	return bot.Reply{Text: fmt.Sprintf("Acknowledged incident #%d (%s); escalation stopped.", id, out.Check),
		Severity: bot.SeverityInfo, InChannel: true}, nil
}

func (h *Handler) resolve(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	note := strings.TrimSpace(req.String("note"))
	if n := utf8.RuneCountInString(note); n > 1000 {
		return bot.Reply{}, bot.Errorf("The note is %d characters long; keep it to 1000.", n)
	}
	now := h.d.Clock.Now()
	var out storage.Incident
	// The check's name, read without a lock: its state must be locked
	// before the incident, in the same order as a check run, or the two
	// deadlock on PostgreSQL.
	peek, err := h.get(ctx, id)
	if err != nil {
		return bot.Reply{}, err
	}
	err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		st, err := storage.LockCheckState(tx, peek.Check)
		if err != nil {
			return err
		}
		in, err := storage.GetIncident(tx, id)
		if err != nil {
			return err
		}
		if err := h.mayAct(ctx, tx, in, req.Person, "resolve"); err != nil {
			return err
		}
		if in.State == storage.IncidentResolved {
			return bot.Errorf("Incident #%d is resolved already.", id)
		}
		at := now
		in.State, in.ResolvedAt, in.ResolvedBy, in.Note = storage.IncidentResolved, &at, req.Person.Name, note
		if err := event(tx, in.ID, now, "resolved", req.Person.Name, note); err != nil {
			return err
		}
		if err := h.edit(tx, &in, now); err != nil {
			return err
		}
		if st.IncidentID == in.ID {
			// A check still failing needs its full count of failures again.
			st.IncidentID, st.Failures, st.FailingSince = 0, 0, nil
		}
		st.LastIncidentID = in.ID
		if err := storage.SaveCheckState(tx, &st); err != nil {
			return err
		}
		out = in
		return storage.WriteAudit(tx, handlers.Audit(req, "incident.resolve", fmt.Sprintf("incident:%d", id), note))
	})
	h.behind.forget(peek.Check)
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: fmt.Sprintf("Resolved incident #%d (%s).", id, out.Check), Severity: bot.SeveritySuccess, InChannel: true}, nil
}

// mayAct lets the person acknowledge or resolve the incident (verb) when
// they hold the oncall role or were paged for it: escalation DMs a person
// the incident with its Ack and Resolve buttons, and the person paged
// must be able to use them whatever their roles. Being paged counts for
// the incident's current opening only: after it resolves and reopens,
// its escalation starts over.
func (h *Handler) mayAct(ctx context.Context, tx *gorm.DB, in storage.Incident, p bot.Person, verb string) error {
	if p.HasRole("oncall") {
		return nil
	}
	evs, err := storage.IncidentEvents(ctx, tx, in.ID)
	if err != nil {
		return err
	}
	for _, e := range evs {
		paged := e.Detail == escalatedTo(p.Name) || strings.HasPrefix(e.Detail, escalatedTo(p.Name)+" (")
		if (e.Kind == escalatedEvent || e.Kind == pagedEvent) && paged && !e.At.Before(in.OpenedAt) {
			return nil
		}
	}
	return bot.Forbiddenf("Only the oncall role or a person incident #%d escalated to may %s it; ask someone on call.",
		in.ID, verb)
}

func (h *Handler) unknownCheck(name string) error {
	hint := "Type /check list to see them."
	if n := bot.Closest(strings.ToLower(name), h.names); n != "" {
		hint = fmt.Sprintf("Did you mean %s? Type /check list to see them all.", n)
	}
	return bot.Errorf("There is no check named %q. %s", oneLine(name, 60), hint)
}

func (h *Handler) silence(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	name := req.String("check")
	if _, ok := h.checks[name]; !ok {
		return bot.Reply{}, h.unknownCheck(name)
	}
	d := req.Duration("for")
	if d < time.Minute || d > maxSilence {
		what := "too long"
		if d < time.Minute {
			what = "too short"
		}
		return bot.Reply{}, bot.Errorf("--for %s is %s: silence for between 1m and 30d, e.g. /incident silence %s --for 2h.", human(d), what, name)
	}
	now := h.d.Clock.Now()
	until := now.Add(d)
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		st, err := storage.LockCheckState(tx, name)
		if err != nil {
			return err
		}
		st.SilencedUntil, st.SilencedBy = &until, req.Person.Name
		if st.IncidentID != 0 {
			if err := event(tx, st.IncidentID, now, "silenced", req.Person.Name, "for "+human(d)); err != nil {
				return err
			}
		}
		if err := storage.SaveCheckState(tx, &st); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "check.silence", "check:"+name, "for "+d.String()))
	})
	h.behind.forget(name)
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: fmt.Sprintf("Check %s is silenced until %s (%s): no incidents open, no reminders or escalation. /incident unsilence %s ends it early.",
		name, until.Format("2006-01-02 15:04Z"), human(d), name), Severity: bot.SeverityInfo, InChannel: true}, nil
}

// unsilence ends a silence set with /incident silence, as Alertmanager
// expires a silence: the check's next run (and the next tick, for an open
// incident) sees it unsilenced. A maintenance window comes from the config
// and stays; the reply says so when one covers the check.
func (h *Handler) unsilence(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	name := req.String("check")
	if _, ok := h.checks[name]; !ok {
		return bot.Reply{}, h.unknownCheck(name)
	}
	now := h.d.Clock.Now()
	var was string
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		st, err := storage.LockCheckState(tx, name)
		if err != nil {
			return err
		}
		if st.SilencedUntil == nil || !now.Before(*st.SilencedUntil) {
			msg := fmt.Sprintf("Check %s is not silenced; there is nothing to lift.", name)
			if m, ok := h.maintenance(name, now); ok {
				msg = fmt.Sprintf("Check %s is not silenced with /incident silence; it is %s, set in the config's maintenance: list, which /incident unsilence does not lift.",
					name, m)
			}
			return bot.Errorf("%s", msg)
		}
		was = h.silenceNote(name, st, now)
		st.SilencedUntil, st.SilencedBy = nil, ""
		if st.IncidentID != 0 {
			if err := event(tx, st.IncidentID, now, "unsilenced", req.Person.Name, "was "+was); err != nil {
				return err
			}
		}
		if err := storage.SaveCheckState(tx, &st); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "check.unsilence", "check:"+name, "was "+was))
	})
	h.behind.forget(name)
	if err != nil {
		return bot.Reply{}, err
	}
	text := fmt.Sprintf("Check %s is no longer silenced (it was %s): from its next run, failures open incidents, remind and escalate as usual.", name, was)
	if m, ok := h.maintenance(name, now); ok {
		text = fmt.Sprintf("Check %s is no longer silenced (it was %s), but it is still %s, set in the config's maintenance: list: no incidents open until the window ends.",
			name, was, m)
	}
	return bot.Reply{Text: text, Severity: bot.SeverityInfo, InChannel: true}, nil
}

func (h *Handler) checkList(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	if len(h.names) == 0 {
		return bot.Text("No checks are configured (add them under checks: in the config)."), nil
	}
	states, err := storage.CheckStates(ctx, h.d.Store.DB)
	if err != nil {
		return bot.Reply{}, err
	}
	now := h.d.Clock.Now()
	var bad, good []string
	for _, n := range h.names {
		c := h.checks[n]
		st, ran := states[n]
		line := fmt.Sprintf("%s (%s): ", n, c.Kind)
		switch {
		case !ran || st.LastAt == nil:
			line += "not run yet"
		default:
			mark := "ok"
			if !st.LastOK {
				mark = "FAILING: " + oneLine(st.LastError, 80)
			}
			line += fmt.Sprintf("%s, %s ago, %dms", mark, human(now.Sub(*st.LastAt)), st.LastLatency)
		}
		if st.IncidentID != 0 {
			line += fmt.Sprintf(", incident #%d", st.IncidentID)
		}
		if note := h.silenceNote(n, st, now); note != "" {
			line += ", " + note
		}
		if ran && st.LastAt != nil && !st.LastOK {
			bad = append(bad, "✗ "+line)
		} else {
			good = append(good, "✓ "+line)
		}
	}
	lines := append(bad, good...)
	more := 0
	if len(lines) > listLimit {
		more = len(lines) - listLimit
		lines = lines[:listLimit]
	}
	text, cut := fit(lines, maxListText-20)
	if more += cut; more > 0 {
		text += fmt.Sprintf("\n… and %d more", more)
	}
	return bot.Reply{Title: fmt.Sprintf("Checks: %d failing of %d", len(bad), len(h.names)), Text: text}, nil
}

// checkRunAck is shown before /check run runs: it names the check only
// when there is one and the person may run it, so it never echoes what was
// typed nor promises a run that will be refused.
func (h *Handler) checkRunAck(r *bot.Request) string {
	name := r.String("name")
	if _, ok := h.checks[name]; !ok || !r.Person.HasRole("oncall") {
		return "Working on it…"
	}
	return "Running check " + name + "…"
}

func (h *Handler) checkRun(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	name := req.String("name")
	if _, ok := h.checks[name]; !ok {
		return bot.Reply{}, h.unknownCheck(name)
	}
	run, err := h.sched.RunNow(ctx, name)
	switch {
	case errors.Is(err, checks.ErrRunning):
		return bot.Reply{}, bot.Errorf("Check %s is running right now; wait a moment and type /check run %s again.", name, name)
	case err != nil:
		return bot.Reply{}, fmt.Errorf("run check %s: %w", name, err)
	}
	r := run.Result
	if r.OK {
		return bot.Reply{Text: fmt.Sprintf("Check %s: ok in %dms.", name, r.Latency.Milliseconds()), Severity: bot.SeveritySuccess}, nil
	}
	return bot.Reply{Text: fmt.Sprintf("Check %s: FAILED after %dms: %s", name, r.Latency.Milliseconds(), r.Error),
		Severity: bot.SeverityDanger}, nil
}

// render is an incident's post as of now.
func (h *Handler) render(in storage.Incident, now time.Time) bot.Reply {
	r := bot.Reply{InChannel: true, Footer: fmt.Sprintf("incident #%d · check %s (%s)", in.ID, in.Check, in.Kind)}
	since := in.FailingSince.Format("2006-01-02 15:04Z")
	switch in.State {
	case storage.IncidentResolved:
		r.Severity = bot.SeveritySuccess
		r.Title = fmt.Sprintf("Resolved: %s (incident #%d)", in.Check, in.ID)
		end := now
		if in.ResolvedAt != nil {
			end = *in.ResolvedAt
		}
		how := "recovered"
		if in.ResolvedBy != "" {
			how = "resolved by @" + in.ResolvedBy
		}
		r.Text = fmt.Sprintf("%s after %s of downtime (failing since %s).", how, human(end.Sub(in.FailingSince)), since)
		if in.Note != "" {
			r.Fields = append(r.Fields, bot.Field{Name: "Note", Value: in.Note})
		}
		r.Fields = append(r.Fields, bot.Field{Name: "Last error", Value: oneLine(in.Error, 300)})
		return r
	case storage.IncidentAcked:
		r.Severity = bot.SeverityWarning
		r.Title = fmt.Sprintf("%s is failing (incident #%d) — acknowledged by @%s", in.Check, in.ID, in.AckedBy)
	default:
		r.Severity = bot.SeverityDanger
		r.Title = fmt.Sprintf("%s is failing (incident #%d)", in.Check, in.ID)
	}
	r.Text = fmt.Sprintf("Failing since %s (%s).", since, human(now.Sub(in.FailingSince)))
	if in.LastReminderAt != nil {
		r.Text = fmt.Sprintf("Still failing after %s (since %s).", human(now.Sub(in.FailingSince)), since)
	}
	if in.Reopens > 0 {
		r.Text += fmt.Sprintf(" Reopened %d time(s).", in.Reopens)
	}
	r.Fields = append(r.Fields, bot.Field{Name: "Error", Value: oneLine(in.Error, 300)})
	r.Buttons = []bot.Button{
		{Label: "Resolve", Command: fmt.Sprintf("/incident resolve %d", in.ID)},
		{Label: "Silence 1h", Command: fmt.Sprintf("/incident silence %s --for 1h", in.Check)},
	}
	if in.AckedBy == "" {
		r.Buttons = append([]bot.Button{{Label: "Ack", Command: fmt.Sprintf("/incident ack %d", in.ID), Style: bot.ButtonPrimary}}, r.Buttons...)
	}
	return r
}

func stateMark(in storage.Incident) string {
	switch in.State {
	case storage.IncidentResolved:
		return "[resolved]"
	case storage.IncidentAcked:
		return "[acked]"
	default:
		return "[OPEN]"
	}
}

func stateText(in storage.Incident, now time.Time) string {
	switch {
	case in.State == storage.IncidentResolved && in.ResolvedAt != nil:
		return "down " + human(in.ResolvedAt.Sub(in.FailingSince))
	case in.AckedBy != "":
		return fmt.Sprintf("failing %s, acked by @%s", human(now.Sub(in.FailingSince)), in.AckedBy)
	default:
		return "failing " + human(now.Sub(in.FailingSince))
	}
}

// human is a duration for people: 45s, 12m, 3h20m, 2d4h.
func human(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", int(d.Hours()), m)
		}
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		if h := int(d.Hours()) % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", int(d.Hours())/24, h)
		}
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	}
}

// oneLine flattens s and cuts it to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
