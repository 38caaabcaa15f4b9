// Package incidents runs the scheduled checks and turns what they find into
// incidents: it records every result, drives the incident state machine,
// posts one message per incident through the outbox and edits it as the
// incident changes, and answers /incident and /check.
package incidents

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/checks"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/roster"
	"opsbot/notify"
	"opsbot/oncall"
	"opsbot/storage"
)

// tickEvery is how often Run looks at open incidents for reminders and
// escalation, and prunes old results.
const tickEvery = 30 * time.Second

// pruneBatch is how many old results one delete removes.
const pruneBatch = 5000

// Handler owns the checks' scheduler and the incidents.
type Handler struct {
	d      handlers.Deps
	set    config.CheckSettings
	checks map[string]*check
	names  []string
	sched  *checks.Scheduler
	behind *behind
	roster *roster.Roster
}

// New builds the checks from the configuration and their scheduler.
func New(d handlers.Deps) (*Handler, error) {
	return NewWithEnv(d, checks.Env{})
}

// NewWithEnv is New with extra check environment (tests pass their own
// certificate authority); Config, DB, Clock and SNMP are filled in from d.
func NewWithEnv(d handlers.Deps, env checks.Env) (*Handler, error) {
	env.Config, env.DB, env.Clock, env.SNMP = d.Config, d.Store.DB, d.Clock, d.SNMP
	if env.Transports == nil {
		env.Transports = checks.NewTransports()
	}
	ros, err := roster.New(d.Config)
	if err != nil {
		return nil, err
	}
	ros.Active = storage.ActiveFunc(d.Store.DB, 2*time.Second)
	h := &Handler{d: d, set: d.Config.CheckSettings, checks: map[string]*check{}, behind: newBehind(), roster: ros}
	if h.set.Workers < 1 {
		h.set = config.Default().CheckSettings
	}
	h.sched = checks.NewScheduler(d.Clock, h.set.Workers, h.Record, checks.NewMetrics(d.Reg))
	var errs []error
	policies := map[policyKey]*checks.Policy{}
	for _, c := range d.Config.Checks {
		j, err := checks.JobFor(c, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := h.sched.Add(j); err != nil {
			errs = append(errs, err)
			continue
		}
		// A team's check posts into the team's channel unless it names its own.
		c.Channel = d.Config.RouteChannel(c.Channel, c.Team)
		// Checks of one policy share it: most checks have the same one.
		k := policyKey{c.Failures, c.Successes, c.Escalate, c.Team}
		if c.Escalate != nil {
			k.team = "" // a check's own escalate wins over its team's
		}
		pol, ok := policies[k]
		if !ok {
			p := h.policyOf(c)
			pol = &p
			policies[k] = pol
		}
		h.checks[c.Name] = &check{Name: c.Name, Kind: c.Kind, Channel: c.Channel, Team: c.Team, policy: pol}
		h.names = append(h.names, c.Name)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Strings(h.names)
	if d.Reg != nil {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "opsbot_incidents_open", Help: "Incidents not resolved."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				n, err := storage.CountOpenIncidents(ctx, d.Store.DB)
				if err != nil {
					return 0
				}
				return float64(n)
			})
		if err := d.Reg.Register(g); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("register incident metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Scheduler is the checks' scheduler (tests drive it with RunDue).
func (h *Handler) Scheduler() *checks.Scheduler { return h.sched }

// Run runs the scheduler and, every 30 seconds, Tick, until ctx ends.
func (h *Handler) Run(ctx context.Context) error {
	behindDone := make(chan struct{})
	go func() { defer close(behindDone); h.writeBehind(ctx) }()
	defer func() { <-behindDone }()
	done := make(chan error, 1)
	go func() { done <- h.sched.Run(ctx) }()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return ctx.Err()
		case <-t.C:
			if err := h.Tick(ctx); err != nil && ctx.Err() == nil {
				h.d.Log.Error("incident tick", "err", err)
			}
		}
	}
}

// Tick does one pass at the clock's now: reminders and escalation of open
// incidents, and pruning of results older than the retention. It is
// idempotent: every change is keyed, so two passes (or two processes) at
// the same time post nothing twice.
func (h *Handler) Tick(ctx context.Context) error {
	now := h.d.Clock.Now()
	open, err := storage.ListIncidents(ctx, h.d.Store.DB, false, 10000)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range open {
		c, ok := h.checks[in.Check]
		if !ok {
			continue // removed from the config: it stays open until resolved by hand
		}
		err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
			st, err := storage.LockCheckState(tx, c.Name)
			if err != nil {
				return err
			}
			if err := h.step(tx, c, &st, nil, now); err != nil {
				return err
			}
			return storage.SaveCheckState(tx, &st)
		})
		h.behind.forget(c.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("incident #%d: %w", in.ID, err))
		}
	}
	before := now.Add(-time.Duration(h.set.Retention))
	for range 100 {
		n, err := storage.PruneCheckResults(ctx, h.d.Store.DB, before, pruneBatch)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if n < pruneBatch {
			break
		}
	}
	return errors.Join(errs...)
}

// Record stores one run's result and takes the incident state machine one
// step, in one transaction with the notifications it causes: a crash at
// any point leaves either all of it or none. While Run runs, a steady-state
// result is buffered and written within a second (see behind.go).
func (h *Handler) Record(ctx context.Context, run checks.Run) error {
	c, ok := h.checks[run.Job.Name]
	if !ok {
		return fmt.Errorf("record result: unknown check %s", run.Job.Name)
	}
	now := h.d.Clock.Now()
	if h.buffer(run, now) {
		return nil
	}
	runs := append(h.behind.takePending(c.Name), pendingRun{run: run, at: now})
	err := h.write(ctx, runs)
	if err != nil {
		h.d.Log.Error("record check result", "check", c.Name, "err", err)
	}
	return err
}

// slotOf keys a run for de-duplication: a scheduled run by its slot, a
// manual one by its own start (each /check run is its own slot).
func slotOf(run checks.Run) *string {
	if run.Manual {
		var b [4]byte
		_, _ = rand.Read(b[:])
		s := fmt.Sprintf("manual:%d:%x", run.Started.UnixNano(), b)
		return &s
	}
	return storage.ScheduledSlot(run.Scheduled)
}

// check is what the handler keeps of a configured check: its names, the
// channel it posts to (routed to its team's) and its state machine policy,
// built once. The scheduler's job holds what a run needs.
type check struct {
	Name, Kind, Channel, Team string
	policy                    *checks.Policy // shared by the checks it is the same for
}

// policyKey is what a check's policy is made of.
type policyKey struct {
	failures, successes int
	escalate            *config.Escalation
	team                string
}

// policyOf is the state machine's view of a check's config.
func (h *Handler) policyOf(c config.Check) checks.Policy {
	p := checks.Policy{Failures: c.Failures, Successes: c.Successes,
		RemindEvery: time.Duration(h.set.RemindEvery), FlapWindow: time.Duration(h.set.FlapWindow)}
	if c.Escalate != nil {
		// A check's own escalate wins over its team's escalation.
		p.EscalateAfter, p.EscalateTo = time.Duration(c.Escalate.After), c.Escalate.To
		return p
	}
	for _, s := range h.d.Config.Teams[c.Team].Escalation {
		for _, to := range s.To {
			p.EscalateTo = append(p.EscalateTo, to)
			p.EscalateAt = append(p.EscalateAt, time.Duration(s.After))
		}
	}
	return p
}

// silenced reports whether the check is silenced or in maintenance at t.
func (h *Handler) silenced(name string, st storage.CheckState, t time.Time) bool {
	if st.SilencedUntil != nil && t.Before(*st.SilencedUntil) {
		return true
	}
	for _, m := range h.d.Config.Maintenance {
		if m.Covers(name, t) {
			return true
		}
	}
	return false
}

// silenceNote says why the check is silenced at t (who silenced it until
// when, or the maintenance window and its reason), "" when it is not.
func (h *Handler) silenceNote(name string, st storage.CheckState, t time.Time) string {
	if st.SilencedUntil != nil && t.Before(*st.SilencedUntil) {
		by := ""
		if st.SilencedBy != "" {
			by = " by @" + st.SilencedBy
		}
		return fmt.Sprintf("silenced%s until %s", by, st.SilencedUntil.UTC().Format("2006-01-02 15:04Z"))
	}
	if note, ok := h.maintenance(name, t); ok {
		return note
	}
	return ""
}

// maintenance says which configured maintenance window covers the check at
// t ("in maintenance until …" with its reason), and whether one does.
func (h *Handler) maintenance(name string, t time.Time) (string, bool) {
	for _, m := range h.d.Config.Maintenance {
		if m.Covers(name, t) {
			note := "in maintenance until " + m.End.UTC().Format("2006-01-02 15:04Z")
			if m.Reason != "" {
				note += " (" + oneLine(m.Reason, 80) + ")"
			}
			return note, true
		}
	}
	return "", false
}

func view(in *storage.Incident) *checks.Incident {
	if in == nil {
		return nil
	}
	v := &checks.Incident{ID: in.ID, PostedAt: in.OpenedAt, LastUpdate: in.OpenedAt, Acked: in.AckedBy != "",
		EscalationStep: in.EscalationStep}
	if in.LastReminderAt != nil && in.LastReminderAt.After(v.LastUpdate) {
		v.LastUpdate = *in.LastReminderAt
	}
	if in.ResolvedAt != nil {
		v.ResolvedAt = *in.ResolvedAt
	}
	return v
}

// machineState is what the state machine sees of a check: its stored
// counters and silence, and its open and last incidents (nil for none).
func (h *Handler) machineState(name string, st storage.CheckState, open, last *storage.Incident, now time.Time) checks.State {
	ms := checks.State{Failures: st.Failures, Successes: st.Successes, Open: view(open), Last: view(last),
		Silenced: h.silenced(name, st, now)}
	if st.FailingSince != nil {
		ms.FailingSince = *st.FailingSince
	}
	return ms
}

// step runs the state machine for one check inside tx and carries out its
// actions; res is nil when only time has passed.
func (h *Handler) step(tx *gorm.DB, c *check, st *storage.CheckState, res *checks.Result, now time.Time) error {
	var open, last *storage.Incident
	if st.IncidentID != 0 {
		in, err := storage.GetIncident(tx, st.IncidentID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err == nil && in.State != storage.IncidentResolved {
			open = &in
		} else {
			st.IncidentID = 0
		}
	}
	if open == nil && st.LastIncidentID != 0 {
		in, err := storage.GetIncident(tx, st.LastIncidentID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err == nil && in.State == storage.IncidentResolved {
			last = &in
		}
	}
	ns, acts := checks.Step(h.machineState(c.Name, *st, open, last, now), res, now, *c.policy)
	st.Failures, st.Successes = ns.Failures, ns.Successes
	st.FailingSince = nil
	if !ns.FailingSince.IsZero() {
		fs := ns.FailingSince
		st.FailingSince = &fs
	}
	if res != nil {
		at := now
		st.LastAt, st.LastOK, st.LastError, st.LastLatency = &at, res.OK, res.Error, res.Latency.Milliseconds()
	}
	cur, edit := open, false
	for _, a := range acts {
		switch a.Kind {
		case checks.ActOpen:
			in := storage.Incident{Check: c.Name, Kind: c.Kind, Channel: c.Channel, State: storage.IncidentOpen,
				OpenedAt: now, FailingSince: ns.FailingSince, Error: res.Error, ChangedAt: now}
			if err := storage.CreateIncident(tx, &in); err != nil {
				return err
			}
			cur = &in
			st.IncidentID, st.LastIncidentID = in.ID, in.ID
			if err := event(tx, in.ID, now, "opened", "", fmt.Sprintf("after %d failures: %s", ns.Failures, res.Error)); err != nil {
				return err
			}
			if err := h.post(tx, in); err != nil {
				return err
			}
			if err := h.page(tx, c, in, now); err != nil {
				return err
			}
		case checks.ActReopen:
			in := *last
			in.State, in.AckedBy, in.AckedAt, in.ResolvedAt, in.ResolvedBy, in.Note = storage.IncidentOpen, "", nil, nil, "", ""
			in.OpenedAt, in.FailingSince, in.Error, in.EscalationStep, in.LastReminderAt = now, ns.FailingSince, res.Error, 0, nil
			in.Reopens++
			cur, edit = &in, true
			st.IncidentID, st.LastIncidentID = in.ID, in.ID
			if err := event(tx, in.ID, now, "reopened", "", res.Error); err != nil {
				return err
			}
			// At most one "reopened" reply per flap window, however often it flaps.
			window := int64(h.set.FlapWindow)
			if err := h.notify(tx, notify.Notification{
				Key:    fmt.Sprintf("incident:%d:reopened:%d", in.ID, now.UnixNano()/max(window, 1)),
				To:     notify.Destination{Channel: in.Channel},
				Thread: openKey(in.ID),
				Reply: bot.Reply{Text: fmt.Sprintf("Incident #%d reopened: %s is failing again (%s)", in.ID, in.Check, in.Error),
					Severity: bot.SeverityDanger},
			}); err != nil {
				return err
			}
			if err := h.page(tx, c, in, now); err != nil {
				return err
			}
		case checks.ActResolve:
			cur.State, edit = storage.IncidentResolved, true
			at := now
			cur.ResolvedAt = &at
			st.IncidentID = 0
			if err := event(tx, cur.ID, now, "resolved", "", "recovered after "+human(now.Sub(cur.FailingSince))+" of downtime"); err != nil {
				return err
			}
		case checks.ActRemind:
			at := now
			cur.LastReminderAt, edit = &at, true
			if res != nil && !res.OK {
				cur.Error = res.Error
			}
			if err := event(tx, cur.ID, now, "reminder", "", "still failing after "+human(now.Sub(cur.FailingSince))); err != nil {
				return err
			}
		case checks.ActEscalate:
			cur.EscalationStep = a.Step
			// An oncall:TEAM:LAYER step records whom it paged (pageLayer).
			if _, _, isRef := roster.Ref(a.Target); !isRef {
				if err := event(tx, cur.ID, now, escalatedEvent, "", escalatedTo(a.Target)); err != nil {
					return err
				}
			}
			if err := h.escalate(tx, *cur, a, now); err != nil {
				return err
			}
		}
	}
	if cur != nil && len(acts) > 0 {
		if edit {
			if err := h.edit(tx, cur, now); err != nil {
				return err
			}
		} else if err := storage.SaveIncident(tx, cur); err != nil {
			return err
		}
	}
	return nil
}

// escalatedEvent is the timeline kind of an escalation; its detail,
// escalatedTo(target), is what lets the person paged act on the incident
// (mayAct).
const escalatedEvent = "escalated"

// escalatedTo is the detail of an escalation event to target (a person's
// name or channel:NAME).
func escalatedTo(target string) string { return "to " + target }

// event appends a line to an incident's timeline.
func event(tx *gorm.DB, id int64, at time.Time, kind, actor, detail string) error {
	return storage.AddIncidentEvent(tx, &storage.IncidentEvent{IncidentID: id, At: at, Kind: kind, Actor: actor, Detail: detail})
}

// openKey is the outbox key of an incident's one post; every later change
// edits it.
func openKey(id int64) string { return fmt.Sprintf("incident:%d:open", id) }

// notify enqueues n unless it has no channel to go to (a check without a
// channel records incidents and escalates, but posts nowhere).
func (h *Handler) notify(tx *gorm.DB, n notify.Notification) error {
	if n.To.Channel == "" && n.To.Person == "" {
		return nil
	}
	return h.d.Outbox.Enqueue(tx, n)
}

// post enqueues an incident's one post.
func (h *Handler) post(tx *gorm.DB, in storage.Incident) error {
	return h.notify(tx, notify.Notification{Key: openKey(in.ID), To: notify.Destination{Channel: in.Channel},
		Reply: h.render(in, in.OpenedAt)})
}

// edit saves the incident with its next revision and enqueues the edit of
// its post, keyed by the revision so it is queued once.
func (h *Handler) edit(tx *gorm.DB, in *storage.Incident, now time.Time) error {
	in.Rev++
	in.ChangedAt = now
	if err := storage.SaveIncident(tx, in); err != nil {
		return err
	}
	return h.notify(tx, notify.Notification{Key: fmt.Sprintf("incident:%d:rev:%d", in.ID, in.Rev),
		To: notify.Destination{Channel: in.Channel}, Updates: openKey(in.ID), Reply: h.render(*in, now)})
}

// escalate notifies one escalation target: a person by direct message,
// channel:NAME, or whoever is on call as oncall:TEAM:LAYER.
func (h *Handler) escalate(tx *gorm.DB, in storage.Incident, a checks.Action, now time.Time) error {
	key := fmt.Sprintf("incident:%d:escalate:%d:%d", in.ID, in.Reopens, a.Step)
	title := fmt.Sprintf("Escalated: incident #%d not acknowledged after %s", in.ID, human(now.Sub(in.OpenedAt)))
	if team, layer, ok := roster.Ref(a.Target); ok {
		return h.pageLayer(tx, in, team, layer, now, key, title)
	}
	if name, isChannel := cutChannel(a.Target); isChannel {
		r := h.render(in, now)
		r.Title = title
		return h.notify(tx, notify.Notification{Key: key, To: notify.Destination{Channel: name}, Reply: r})
	}
	return h.dm(tx, in, a.Target, key, title, now)
}

// dm sends an incident to a person paged for it.
func (h *Handler) dm(tx *gorm.DB, in storage.Incident, person, key, title string, now time.Time) error {
	r := h.render(in, now)
	r.Title = title
	if p, ok := h.d.Dir.ByName(person); ok && !p.HasRole("oncall") {
		// Paged, they may ack and resolve this incident (mayAct) but not
		// silence the check: no button that would only be refused.
		r.Buttons = slices.DeleteFunc(r.Buttons, func(b bot.Button) bool { return strings.HasPrefix(b.Command, "/incident silence ") })
	}
	return h.notify(tx, notify.Notification{Key: key, To: notify.Destination{Person: person}, Reply: r})
}

// pagedEvent is the timeline kind of paging the person on call when an
// incident opens; like an escalation, it lets them act on it (mayAct).
const pagedEvent = "paged"

// page DMs the primary on call of the check's team (its rotation's first
// layer) about a new or reopened incident.
func (h *Handler) page(tx *gorm.DB, c *check, in storage.Incident, now time.Time) error {
	rot, ok := h.roster.Rotation(c.Team)
	if !ok {
		return nil
	}
	primary := rot.Layers()[0]
	title := fmt.Sprintf("Paged: %s is failing (incident #%d); you are %s on call for %s", in.Check, in.ID, primary, c.Team)
	return h.pageLayer(tx, in, c.Team, primary, now, fmt.Sprintf("incident:%d:page:%d", in.ID, in.Reopens), title)
}

// pageLayer DMs whoever holds the team's layer now. A gap (overrides or
// inactive people left nobody) pages the next layer that has someone and
// posts into the team's channel, saying so.
func (h *Handler) pageLayer(tx *gorm.DB, in storage.Incident, team, layer string, now time.Time, key, title string) error {
	var shifts []oncall.Shift
	if _, ok := h.roster.Rotation(team); ok { // config validation makes sure; else a gap
		var err error
		if shifts, err = h.roster.Now(tx.Statement.Context, tx, team, now); err != nil {
			return err
		}
	}
	at := slices.IndexFunc(shifts, func(s oncall.Shift) bool { return s.Layer == layer })
	if at >= 0 && shifts[at].Person != "" {
		p := shifts[at].Person
		kind := pagedEvent
		if strings.HasPrefix(key, fmt.Sprintf("incident:%d:escalate:", in.ID)) {
			kind = escalatedEvent
		}
		if err := event(tx, in.ID, now, kind, "", escalatedTo(p)+" ("+layer+" on call for "+team+")"); err != nil {
			return err
		}
		return h.dm(tx, in, p, key, title, now)
	}
	gap := fmt.Sprintf("nobody is on call as %s for %s", layer, team)
	backup := ""
	for _, s := range shifts[at+1:] {
		if s.Person != "" {
			backup = s.Person
			break
		}
	}
	text := fmt.Sprintf("Incident #%d (%s): %s; ", in.ID, in.Check, gap)
	if backup != "" {
		text += "paged @" + backup + " instead."
	} else {
		text += "nobody else is on call either: someone please take it."
	}
	if err := event(tx, in.ID, now, "gap", "", text); err != nil {
		return err
	}
	if backup != "" {
		if err := event(tx, in.ID, now, pagedEvent, "", escalatedTo(backup)+" (in a gap: "+gap+")"); err != nil {
			return err
		}
		if err := h.dm(tx, in, backup, key, title+" — "+gap+", so you are paged", now); err != nil {
			return err
		}
	}
	if ch := h.d.Config.Teams[team].Channel; ch != "" {
		return h.notify(tx, notify.Notification{Key: key + ":gap", To: notify.Destination{Channel: ch},
			Reply: bot.Reply{Text: text, Severity: bot.SeverityWarning, InChannel: true}})
	}
	return nil
}

func cutChannel(s string) (string, bool) {
	const p = "channel:"
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
