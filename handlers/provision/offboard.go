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

// RoleAdmin offboards people; a second admin confirms.
const RoleAdmin = "admin"

// Offboarding item kinds.
const (
	KindDeactivate = "deactivate"
	KindRevoke     = "revoke"
	KindReturn     = "return"
	KindRemove     = "remove"
)

// AccessRevoker takes every access of a person away (the access area).
type AccessRevoker interface {
	RevokeAllOf(ctx context.Context, tx *gorm.DB, req *bot.Request, person, why string) ([]int64, error)
}

// OffboardCommand is /offboard.
func (h *Handler) OffboardCommand() bot.Command {
	admin := []string{RoleAdmin}
	id := []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}}
	return bot.Command{Name: "offboard", Summary: "Offboard a person: access, accounts, devices, rotations", Subs: []bot.Sub{
		{Name: "", Summary: "Ask to offboard someone; another admin confirms", Roles: admin, Run: h.offboard,
			Args: []bot.Param{{Name: "person", Kind: bot.KindPerson, Required: true}},
			Flags: []bot.Param{{Name: "on", Kind: bot.KindString, Placeholder: "DATE", Help: "YYYY-MM-DD (UTC); default at once"},
				{Name: "template", Kind: bot.KindString, Placeholder: "TEMPLATE", Help: "whose remove commands to run; default the person's onboarding template"}}},
		{Name: "confirm", Summary: "Confirm an offboarding another admin asked for", Roles: admin, Run: h.confirm, Args: id},
		{Name: "show", Summary: "Show an offboarding checklist", Roles: admin, Run: h.showOffboard, Args: id},
	}}
}

func (h *Handler) offboard(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	p, _ := req.PersonArg("person")
	if !p.Known {
		return bot.Reply{}, bot.Errorf("%s is not under people: in the config; only people listed there can be offboarded.", p.Mention())
	}
	if p.Name == req.Person.Name {
		return bot.Reply{}, bot.Errorf("You cannot offboard yourself; ask another admin.")
	}
	now := h.d.Clock.Now()
	on, err := date(req, "on", now)
	if err != nil {
		return bot.Reply{}, err
	}
	tmpl := req.String("template")
	if tmpl != "" {
		if _, ok := h.d.Config.Provisioning.Templates[tmpl]; !ok {
			return bot.Reply{}, bot.Errorf("There is no template %q under provisioning.templates.", clip(tmpl, 64))
		}
	}
	var c storage.Checklist
	err = h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		last, err := storage.LastChecklist(tx, storage.ChecklistOffboard, p.Name)
		switch {
		case err == nil && last.State != storage.ChecklistDone:
			return bot.Errorf("%s is being offboarded already (#%d, %s); see /offboard show %d.", p.Mention(), last.ID, last.State, last.ID)
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if tmpl == "" {
			if on, err := storage.LastChecklist(tx, storage.ChecklistOnboard, p.Name); err == nil {
				tmpl = on.Template
			}
		}
		c = storage.Checklist{Kind: storage.ChecklistOffboard, Person: p.Name, Template: tmpl, StartsOn: on,
			RequestedBy: req.Person.Name, State: storage.ChecklistAwaiting, CreatedAt: now, UpdatedAt: now}
		if err := storage.CreateChecklist(tx, &c, nil); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "offboard.request", fmt.Sprintf("checklist:%d", c.ID),
			fmt.Sprintf("person=%s on=%s template=%s", p.Name, on.Format(time.DateOnly), tmpl))); err != nil {
			return err
		}
		ask := bot.Reply{Title: fmt.Sprintf("Offboarding #%d: %s asks to offboard %s on %s", c.ID, req.Person.Mention(), p.Mention(), on.Format(time.DateOnly)),
			Text:     "Confirming marks them inactive, revokes all their access, runs their remove commands, files a return ticket per device they hold and drops them from rotations.",
			Severity: bot.SeverityWarning,
			Buttons:  []bot.Button{{Label: "Confirm offboarding", Command: fmt.Sprintf("/offboard confirm %d", c.ID), Style: bot.ButtonDanger}}}
		var ns []notify.Notification
		for _, a := range h.d.Dir.WithRole(RoleAdmin) {
			if a.Name != req.Person.Name && a.Name != p.Name {
				ns = append(ns, notify.Notification{Key: fmt.Sprintf("checklist:%d:confirm:%s", c.ID, a.Name), To: notify.Destination{Person: a.Name}, Reply: ask})
			}
		}
		return h.d.Outbox.Enqueue(tx, ns...)
	})
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Title: fmt.Sprintf("Offboarding #%d of %s waits for another admin", c.ID, p.Mention()),
		Text:     fmt.Sprintf("Another admin confirms with /offboard confirm %d (the other admins got a button); nothing happens before.", c.ID),
		Severity: bot.SeverityInfo}, nil
}

// date reads a YYYY-MM-DD flag: today or later, default now.
func date(req *bot.Request, flag string, now time.Time) (time.Time, error) {
	if !req.Has(flag) {
		return now, nil
	}
	d, err := time.Parse(time.DateOnly, req.String(flag))
	if err != nil {
		return now, bot.Errorf("--%s %q is not a date; write YYYY-MM-DD, e.g. --%s %s.", flag, clip(req.String(flag), 32), flag, now.UTC().Format(time.DateOnly))
	}
	if d.Before(now.UTC().Truncate(24 * time.Hour)) {
		return now, bot.Errorf("--%s %s is in the past; leave it out for today.", flag, d.Format(time.DateOnly))
	}
	if d.After(now) {
		return d, nil
	}
	return now, nil
}

func (h *Handler) confirm(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		c, _, err := storage.GetChecklist(ctx, tx, id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && c.Kind != storage.ChecklistOffboard) {
			return bot.Errorf("There is no offboarding #%d.", id)
		}
		if err != nil {
			return err
		}
		if c.RequestedBy == req.Person.Name {
			return bot.Forbiddenf("You asked for offboarding #%d; another admin must confirm it.", id)
		}
		if c.Person == req.Person.Name {
			return bot.Forbiddenf("You cannot confirm your own offboarding.")
		}
		ok, err := storage.ConfirmChecklist(tx, id, h.d.Clock.Now())
		if err != nil {
			return err
		}
		if !ok {
			return bot.Errorf("Offboarding #%d is %s already; see /offboard show %d.", id, c.State, id)
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "offboard.confirm", fmt.Sprintf("checklist:%d", id), "person="+c.Person)); err != nil {
			return err
		}
		c.State = storage.ChecklistOpen
		if !c.StartsOn.After(h.d.Clock.Now()) {
			if _, err := h.sweep(ctx, tx, c); err != nil {
				return err
			}
		}
		return h.cards(ctx, tx, id, "")
	})
	if err != nil {
		return bot.Reply{}, err
	}
	return h.view(ctx, h.d.Store.DB, id)
}

func (h *Handler) showOffboard(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.show(ctx, req)
}

// worker is the request offboarding's steps act as: the requester, from
// the schedule.
func (h *Handler) worker(c storage.Checklist) *bot.Request {
	by, ok := h.d.Dir.ByName(c.RequestedBy)
	if !ok {
		by = bot.Person{Name: c.RequestedBy}
	}
	return &bot.Request{ID: fmt.Sprintf("checklist-%d", c.ID), Platform: "schedule", Person: by, At: h.d.Clock.Now()}
}

// sweep does an offboarding's work that needs no child process, inside
// tx: marks the person inactive (which drops them from rotations), starts
// the revokes of all their access, files a return ticket for each device
// they hold, adds the remove commands, and checks on revokes under way.
// It is idempotent: run again it adds only what is new (a grant that was
// being granted last time, a device handed out since).
func (h *Handler) sweep(ctx context.Context, tx *gorm.DB, c storage.Checklist) (changed bool, err error) {
	req := h.worker(c)
	now := h.d.Clock.Now()
	_, items, err := storage.GetChecklist(ctx, tx, c.ID)
	if err != nil {
		return false, err
	}
	have := map[string]storage.ChecklistItem{}
	for _, it := range items {
		have[it.Step] = it
	}
	var add []storage.ChecklistItem
	item := func(step, kind, label, state, ref string) {
		if _, ok := have[step]; !ok {
			it := storage.ChecklistItem{Step: step, Kind: kind, Label: label, State: state, Ref: ref, UpdatedAt: now}
			add = append(add, it)
			have[step] = it
		}
	}
	if _, ok := have["deactivate"]; !ok {
		if err := storage.SetInactive(tx, c.Person, true, req.Person.Name, now); err != nil {
			return false, err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "person.inactive", "person:"+c.Person, fmt.Sprintf("offboarding #%d", c.ID))); err != nil {
			return false, err
		}
		item("deactivate", KindDeactivate, "Inactive: no roles, out of every rotation", storage.ItemDone, "")
	}
	ids, err := h.revoker.RevokeAllOf(ctx, tx, req, c.Person, fmt.Sprintf("offboarding #%d", c.ID))
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		item(fmt.Sprintf("revoke:%d", id), KindRevoke, fmt.Sprintf("Revoke access #%d", id), storage.ItemPending, fmt.Sprintf("access #%d", id))
	}
	held, err := storage.HeldBy(ctx, tx, c.Person)
	if err != nil {
		return false, err
	}
	for _, a := range held {
		step := fmt.Sprintf("return:%s:%d", a.Device, a.ID)
		if _, ok := have[step]; ok {
			continue
		}
		tid, err := h.tickets.FileFor(tx, req, fmt.Sprintf("Collect %s from %s (offboarding #%d); then /device return %s --condition ok", a.Device, c.Person, c.ID, a.Device), "", bot.Person{Name: c.Person})
		if err != nil {
			return false, err
		}
		item(step, KindReturn, "Return "+a.Device, storage.ItemDone, fmt.Sprintf("ticket #%d", tid))
	}
	if t, ok := h.d.Config.Provisioning.Templates[c.Template]; ok {
		for _, cmd := range t.Commands {
			if len(cmd.Remove) > 0 {
				item("remove:"+cmd.Name, KindRemove, "Remove account: "+cmd.Name, storage.ItemPending, "")
			}
		}
	}
	if err := storage.AddChecklistItems(tx, c.ID, add); err != nil {
		return false, err
	}
	changed = len(add) > 0
	// Check on the revokes under way: done once the access worker has run
	// them; a failing one shows its error until it succeeds.
	_, items, err = storage.GetChecklist(ctx, tx, c.ID)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		if it.Kind != KindRevoke || storage.ItemFinished(it.State) {
			continue
		}
		var id int64
		fmt.Sscanf(it.Step, "revoke:%d", &id)
		r, err := storage.GetAccessRequest(tx, id)
		if err != nil {
			return false, err
		}
		state, detail := storage.ItemPending, strings.ReplaceAll(r.State, "_", " ")
		switch r.State {
		case storage.AccessRevoked, storage.AccessFailed, storage.AccessCancelled, storage.AccessExpired, storage.AccessDenied:
			state = storage.ItemDone
		case storage.AccessRevokeFailed:
			state, detail = storage.ItemFailed, "revoke failing, retried: "+clip(r.LastError, 200)
		case storage.AccessManualRevoke:
			detail = fmt.Sprintf("waiting for someone to revoke it by hand and type /access done %d", id)
		}
		if state != it.State || detail != it.Detail {
			if err := storage.FinishItem(tx, it.ID, state, it.Ref, detail, now); err != nil {
				return false, err
			}
			changed = true
		}
	}
	if closed, err := storage.CloseIfFinished(tx, c.ID, now); err != nil || !closed {
		return changed, err
	}
	return true, storage.WriteAudit(tx, handlers.Audit(req, "offboard.done", fmt.Sprintf("checklist:%d", c.ID), "person="+c.Person))
}

// offboardTick sweeps every offboarding whose date has come and runs their
// remove commands.
func (h *Handler) offboardTick(ctx context.Context) error {
	cs, err := storage.DueChecklists(ctx, h.d.Store.DB, storage.ChecklistOffboard, h.d.Clock.Now())
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
			before, _, err := storage.GetChecklist(ctx, tx, c.ID)
			if err != nil || before.State != storage.ChecklistOpen {
				return err
			}
			changed, err := h.sweep(ctx, tx, c)
			if err != nil || !changed {
				return err
			}
			return h.cards(ctx, tx, c.ID, fmt.Sprintf("sweep:%d", h.d.Clock.Now().UnixNano()))
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("offboarding %d: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// removeArgv is a remove command's argv for the checklist's person.
func (h *Handler) removeArgv(c storage.Checklist, step string) ([]string, config.TemplateCommand, bool) {
	t, ok := h.d.Config.Provisioning.Templates[c.Template]
	if !ok {
		return nil, config.TemplateCommand{}, false
	}
	i := slices.IndexFunc(t.Commands, func(cmd config.TemplateCommand) bool { return "remove:"+cmd.Name == step })
	if i < 0 || len(t.Commands[i].Remove) == 0 {
		return nil, config.TemplateCommand{}, false
	}
	who, ok := h.d.Dir.ByName(c.Person)
	if !ok {
		who = bot.Person{Name: c.Person}
	}
	vals := values(who, h.d.Config, c.Template, c.StartsOn)
	argv := make([]string, len(t.Commands[i].Remove))
	for j, a := range t.Commands[i].Remove {
		argv[j] = config.Expand(a, vals)
	}
	return argv, t.Commands[i], true
}
