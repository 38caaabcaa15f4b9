// Package provision is /onboard: a checklist per new person, one item per
// step of their template. Tickets and devices are handled at once; access
// requests and account commands run on the start date, on the leader.
package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/storage"
)

// RoleHelpdesk may onboard people (admins hold every role).
const RoleHelpdesk = "helpdesk"

// Item kinds: ticket and device steps run when the checklist is made;
// access and command steps on the start date.
const (
	KindTicket  = "ticket"
	KindDevice  = "device"
	KindAccess  = "access"
	KindCommand = "command"
)

// Tuning of the worker.
const (
	// tickEvery is how often Run looks for due steps.
	tickEvery = 30 * time.Second
	// maxAttempts is how often a failing command runs before it becomes a
	// ticket for a person to do by hand.
	maxAttempts = 3
	// defaultTimeout limits a command without its own timeout.
	defaultTimeout = 2 * time.Minute
	// leaseMargin is added to a step's timeout for its lease: a worker
	// that died mid-step loses it after this, and the step runs again. It
	// covers the kill grace (a command that times out gets SIGTERM, then
	// SIGKILL after killGrace).
	leaseMargin = 10 * time.Second
	killGrace   = 5 * time.Second
)

// TicketFiler files a ticket inside a transaction (the tickets area).
type TicketFiler interface {
	FileFor(tx *gorm.DB, req *bot.Request, summary, queue string, requester bot.Person) (int64, error)
}

// AccessRequester asks for access on someone's behalf inside a transaction,
// through the resource's approvals (the access area).
type AccessRequester interface {
	RequestFor(ctx context.Context, tx *gorm.DB, req *bot.Request, who bot.Person, resource, role string, d time.Duration, reason string) (int64, error)
}

// Access is what onboarding and offboarding need of the access area.
type Access interface {
	AccessRequester
	AccessRevoker
}

// Handler serves /onboard and /offboard and runs the steps that wait for
// their date.
type Handler struct {
	d       handlers.Deps
	tickets TicketFiler
	access  AccessRequester
	revoker AccessRevoker
	// Interval is how often Run does a pass.
	Interval time.Duration
}

// New builds the handler over the tickets and access areas.
func New(d handlers.Deps, tickets TicketFiler, access Access) (*Handler, error) {
	if tickets == nil || access == nil {
		return nil, errors.New("provision: needs the tickets and access areas")
	}
	return &Handler{d: d, tickets: tickets, access: access, revoker: access, Interval: tickEvery}, nil
}

// Command is /onboard.
func (h *Handler) Command() bot.Command {
	helpdesk := []string{RoleHelpdesk}
	return bot.Command{Name: "onboard", Summary: "Onboard a new person from a template", Subs: []bot.Sub{
		{Name: "", Summary: "Start (or resume) onboarding: tickets and devices now, access and accounts on the start date",
			Roles: helpdesk, Run: h.onboard,
			Args: []bot.Param{{Name: "person", Kind: bot.KindPerson, Required: true, Help: "a name under people: or @mention"}},
			Flags: []bot.Param{{Name: "template", Kind: bot.KindString, Required: true, Placeholder: "TEMPLATE", Help: "a template under provisioning.templates"},
				{Name: "start", Kind: bot.KindString, Placeholder: "DATE", Help: "YYYY-MM-DD (UTC); default today"}}},
		{Name: "show", Summary: "Show an onboarding checklist", Roles: helpdesk, Run: h.show,
			Args: []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}}},
	}}
}

// step is what an item does, built from the template.
type step struct {
	item    storage.ChecklistItem
	ticket  *config.TemplateTicket
	device  *config.TemplateDevice
	access  *config.TemplateAccess
	command *config.TemplateCommand
}

// steps lists a template's steps for a person, each keyed by what it does
// so that the same step is never added twice.
func steps(t config.Template, vals map[string]string, now time.Time) []step {
	var out []step
	add := func(s step, key, kind, label string) {
		s.item = storage.ChecklistItem{Step: key, Kind: kind, Label: label, State: storage.ItemPending, UpdatedAt: now}
		out = append(out, s)
	}
	for i := range t.Tickets {
		tk := &t.Tickets[i]
		add(step{ticket: tk}, fmt.Sprintf("ticket:%d", i), KindTicket, "Ticket: "+config.Expand(tk.Summary, vals))
	}
	kinds := map[string]int{}
	for i := range t.Devices {
		d := &t.Devices[i]
		kinds[d.Kind]++
		add(step{device: d}, fmt.Sprintf("device:%s:%d", d.Kind, kinds[d.Kind]), KindDevice, "Device: a "+d.Kind)
	}
	for i := range t.Access {
		a := &t.Access[i]
		how := "for " + bot.FormatDuration(time.Duration(a.Duration))
		if a.Permanent {
			how = "permanent"
		}
		add(step{access: a}, fmt.Sprintf("access:%s:%s", a.Resource, a.Role), KindAccess, fmt.Sprintf("Access: %s %s", named(a.Resource, a.Role), how))
	}
	for i := range t.Commands {
		c := &t.Commands[i]
		add(step{command: c}, "command:"+c.Name, KindCommand, "Account: "+c.Name)
	}
	return out
}

func named(resource, role string) string {
	if role == "" {
		return resource
	}
	return resource + " (" + role + ")"
}

// values are the placeholders' values for a person.
func values(p bot.Person, cfg *config.Config, template string, start time.Time) map[string]string {
	v := map[string]string{"Person": p.Name, "Email": p.Email, "SlackID": p.SlackID, "DiscordID": p.DiscordID,
		"Template": template, "Start": start.UTC().Format(time.DateOnly)}
	for _, c := range cfg.People {
		if c.Name == p.Name {
			v["Email"], v["SlackID"], v["DiscordID"] = c.Email, c.SlackID, c.DiscordID
		}
	}
	return v
}

func (h *Handler) onboard(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	p, _ := req.PersonArg("person")
	if !p.Known {
		return bot.Reply{}, bot.Errorf("%s is not under people: in the config; add them there (platform ids may come later) and restart opsbot.", p.Mention())
	}
	name := req.String("template")
	tmpl, ok := h.d.Config.Provisioning.Templates[name]
	if !ok {
		known := slices.Sorted(mapKeys(h.d.Config.Provisioning.Templates))
		hint := "the config defines none under provisioning.templates"
		if len(known) > 0 {
			hint = "use one of " + strings.Join(known, ", ")
		}
		return bot.Reply{}, bot.Errorf("There is no template %q (%s).", clip(name, 64), hint)
	}
	now := h.d.Clock.Now()
	start := now
	if req.Has("start") {
		d, err := time.Parse(time.DateOnly, req.String("start"))
		if err != nil {
			return bot.Reply{}, bot.Errorf("--start %q is not a date; write YYYY-MM-DD, e.g. --start %s.", clip(req.String("start"), 32), now.UTC().Format(time.DateOnly))
		}
		if d.Before(now.UTC().Truncate(24 * time.Hour)) {
			return bot.Reply{}, bot.Errorf("--start %s is in the past; leave it out to start today.", d.Format(time.DateOnly))
		}
		if d.After(now) {
			start = d
		}
	}
	var c storage.Checklist
	resumed := false
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		resumed = false
		ss := steps(tmpl, values(p, h.d.Config, name, start), now)
		items := make([]storage.ChecklistItem, len(ss))
		for i, s := range ss {
			items[i] = s.item
		}
		if gone, err := storage.IsInactive(ctx, tx, p.Name); err != nil || gone {
			if err != nil {
				return err
			}
			return bot.Errorf("%s was offboarded (inactive); onboarding them again is not supported yet.", p.Mention())
		}
		open, err := storage.LastChecklist(tx, storage.ChecklistOnboard, p.Name)
		switch {
		case err == nil && open.State != storage.ChecklistOpen:
			return bot.Errorf("%s was onboarded already (#%d, %s, done); see /onboard show %d.", p.Mention(), open.ID, open.Template, open.ID)
		case err == nil:
			if open.Template != name {
				return bot.Errorf("%s is already being onboarded as %s (#%d); see /onboard show %d.", p.Mention(), open.Template, open.ID, open.ID)
			}
			c, resumed = open, true
			if err := storage.AddChecklistItems(tx, c.ID, items); err != nil {
				return err
			}
		case errors.Is(err, storage.ErrNotFound):
			c = storage.Checklist{Kind: storage.ChecklistOnboard, Person: p.Name, Template: name, StartsOn: start,
				RequestedBy: req.Person.Name, State: storage.ChecklistOpen, CreatedAt: now, UpdatedAt: now}
			if err := storage.CreateChecklist(tx, &c, items); err != nil {
				return err
			}
		default:
			return err
		}
		if err := h.prepare(ctx, tx, req, c, p, tmpl); err != nil {
			return err
		}
		action := "onboard.start"
		if resumed {
			action = "onboard.resume"
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, action, fmt.Sprintf("checklist:%d", c.ID),
			fmt.Sprintf("person=%s template=%s start=%s", p.Name, name, c.StartsOn.Format(time.DateOnly)))); err != nil {
			return err
		}
		return h.cards(ctx, tx, c.ID, "")
	})
	if err != nil {
		return bot.Reply{}, err
	}
	reply, err := h.view(ctx, h.d.Store.DB, c.ID)
	if err != nil {
		return bot.Reply{}, err
	}
	reply.Text = fmt.Sprintf("Onboarding %s as %s: tickets and devices are done now; access and accounts on %s.",
		p.Mention(), name, c.StartsOn.Format(time.DateOnly)) + "\n" + reply.Text
	if resumed {
		reply.Text = fmt.Sprintf("Resumed #%d; steps already done were left alone.\n", c.ID) + reply.Text
	}
	return reply, nil
}

// prepare does the checklist's unfinished ticket and device steps in tx.
func (h *Handler) prepare(ctx context.Context, tx *gorm.DB, req *bot.Request, c storage.Checklist, p bot.Person, tmpl config.Template) error {
	_, items, err := storage.GetChecklist(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	byStep := map[string]step{}
	for _, s := range steps(tmpl, values(p, h.d.Config, c.Template, c.StartsOn), c.CreatedAt) {
		byStep[s.item.Step] = s
	}
	now := h.d.Clock.Now()
	for _, it := range items {
		s, ok := byStep[it.Step]
		if !ok || storage.ItemFinished(it.State) {
			continue
		}
		switch {
		case s.ticket != nil:
			id, err := h.tickets.FileFor(tx, req, strings.TrimPrefix(it.Label, "Ticket: "), s.ticket.Queue, p)
			if err != nil {
				return err
			}
			if err := storage.FinishItem(tx, it.ID, storage.ItemDone, fmt.Sprintf("ticket #%d", id), "", now); err != nil {
				return err
			}
		case s.device != nil:
			if err := h.handOut(tx, req, c, it, p, s.device.Kind, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// handOut assigns a free device of kind to p, or files a ticket when none
// is free.
func (h *Handler) handOut(tx *gorm.DB, req *bot.Request, c storage.Checklist, it storage.ChecklistItem, p bot.Person, kind string, now time.Time) error {
	free, err := storage.FreeDevices(tx, kind, 1)
	if err != nil {
		return err
	}
	if len(free) == 0 {
		id, err := h.tickets.FileFor(tx, req, fmt.Sprintf("Onboarding #%d: no free %s for %s; hand one out with /device assign NAME @%s", c.ID, kind, p.Name, p.Name), "", p)
		if err != nil {
			return err
		}
		return storage.FinishItem(tx, it.ID, storage.ItemTicket, fmt.Sprintf("ticket #%d", id), "no free "+kind+" in the inventory", now)
	}
	a := storage.DeviceAssignment{Device: free[0].Name, Holder: p.Name, AssignedBy: req.Person.Name, AssignedAt: now}
	if err := storage.AssignDevice(tx, &a); err != nil {
		return err
	}
	if err := storage.WriteAudit(tx, handlers.Audit(req, "device.assign", "device:"+a.Device, fmt.Sprintf("holder=%s (onboarding #%d)", p.Name, c.ID))); err != nil {
		return err
	}
	return storage.FinishItem(tx, it.ID, storage.ItemDone, a.Device, "", now)
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	c, _, err := storage.GetChecklist(ctx, h.d.Store.DB, req.Int("id"))
	if err == nil && c.Kind != req.Command {
		err = storage.ErrNotFound
	}
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, bot.Errorf("There is no checklist #%d for /%s.", req.Int("id"), req.Command)
	}
	r, err := h.view(ctx, h.d.Store.DB, req.Int("id"))
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, bot.Errorf("There is no checklist #%d.", req.Int("id"))
	}
	return r, err
}

// view is a checklist's card: one line per item, done first marked.
func (h *Handler) view(ctx context.Context, db *gorm.DB, id int64) (bot.Reply, error) {
	c, items, err := storage.GetChecklist(ctx, db, id)
	if err != nil {
		return bot.Reply{}, err
	}
	var b strings.Builder
	done := 0
	for _, it := range items {
		mark := "[ ]"
		switch {
		case it.State == storage.ItemDone:
			mark = "[x]"
			done++
		case it.State == storage.ItemTicket:
			mark = "[t]"
			done++
		case it.State == storage.ItemFailed:
			mark = "[!]"
		}
		fmt.Fprintf(&b, "%s %s", mark, it.Label)
		if it.Ref != "" {
			b.WriteString(" — " + it.Ref)
		}
		switch {
		case it.State == storage.ItemFailed && it.Kind == KindRevoke:
			b.WriteString(" (" + clip(it.Detail, 200) + ")")
		case it.State == storage.ItemFailed:
			fmt.Fprintf(&b, " (failed %d of %d tries: %s)", it.Attempts, maxAttempts, clip(it.Detail, 200))
		case it.State == storage.ItemPending && it.Kind == KindRevoke && it.Detail != "":
			b.WriteString(" (" + clip(it.Detail, 200) + ")")
		case it.State == storage.ItemTicket && it.Detail != "":
			b.WriteString(" (" + clip(it.Detail, 200) + ")")
		case it.State == storage.ItemPending && (it.Kind == KindAccess || it.Kind == KindCommand):
			b.WriteString(" (on " + c.StartsOn.Format(time.DateOnly) + ")")
		}
		b.WriteString("\n")
	}
	sev := bot.SeverityInfo
	if c.State == storage.ChecklistDone {
		sev = bot.SeveritySuccess
	}
	what, tmpl := "Onboarding", " ("+c.Template+")"
	if c.Kind == storage.ChecklistOffboard {
		what, tmpl = "Offboarding", ""
		if c.State == storage.ChecklistAwaiting {
			b.WriteString("Waiting for a second admin: /offboard confirm " + fmt.Sprint(c.ID) + "\n")
		}
	}
	return bot.Reply{Title: fmt.Sprintf("%s #%d: @%s%s — %d of %d done", what, c.ID, c.Person, tmpl, done, len(items)),
		Text: strings.TrimRight(b.String(), "\n"), Severity: sev,
		Fields: []bot.Field{{Name: "Starts", Value: c.StartsOn.Format(time.DateOnly), Short: true},
			{Name: "State", Value: c.State, Short: true}, {Name: "By", Value: "@" + c.RequestedBy, Short: true}},
		Footer: fmt.Sprintf("/%s show %d · [x] done, [t] a ticket instead, [!] failing, retried", c.Kind, c.ID)}, nil
}

// cards posts the checklist's card to its requester and the helpdesk
// channel, or (version set) edits those posts with the current state.
func (h *Handler) cards(ctx context.Context, tx *gorm.DB, id int64, version string) error {
	r, err := h.view(ctx, tx, id)
	if err != nil {
		return err
	}
	c, _, err := storage.GetChecklist(ctx, tx, id)
	if err != nil {
		return err
	}
	var ns []notify.Notification
	for _, to := range h.destinations(c) {
		key := fmt.Sprintf("checklist:%d:card:%s%s", id, to.Person, to.Channel)
		n := notify.Notification{Key: key, To: to, Reply: r}
		if version != "" {
			n.Key, n.Updates = key+":"+version, key
		}
		ns = append(ns, n)
	}
	return h.d.Outbox.Enqueue(tx, ns...)
}

// destinations are the requester (when reachable) and the default
// queue's channel.
func (h *Handler) destinations(c storage.Checklist) []notify.Destination {
	var out []notify.Destination
	if _, ok := h.d.Dir.ByName(c.RequestedBy); ok {
		out = append(out, notify.Destination{Person: c.RequestedBy})
	}
	for _, q := range h.d.Config.Tickets.Queues {
		if q.Name == h.d.Config.Tickets.DefaultQueue {
			if ch := h.d.Config.RouteChannel(q.Channel, q.Team); ch != "" {
				out = append(out, notify.Destination{Channel: ch})
			}
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// clip shortens s to n runes for echoing.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
