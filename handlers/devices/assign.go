package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/storage"
)

// RoleHelpdesk may hand devices to people and take them back.
const RoleHelpdesk = "helpdesk"

// historyLimit caps the check-outs /device show lists.
const historyLimit = 5

// assignmentSubs are the verbs for devices people carry: assign, return,
// mine and list --holder.
func (h *Handler) assignmentSubs(name bot.Param) []bot.Sub {
	helpdesk := []string{RoleHelpdesk}
	return []bot.Sub{
		{Name: "assign", Summary: "Hand a device to a person", Roles: helpdesk,
			Args: []bot.Param{name, {Name: "person", Kind: bot.KindPerson, Required: true}}, Run: h.assign},
		{Name: "return", Summary: "Take a device back from its holder", Roles: helpdesk,
			Args: []bot.Param{name},
			Flags: []bot.Param{{Name: "condition", Kind: bot.KindChoice, Choices: storage.Conditions(), Placeholder: "CONDITION",
				Help: strings.Join(storage.Conditions(), ", ")}},
			Run: h.giveBack},
		{Name: "mine", Summary: "List the devices you hold", Run: h.mine},
		{Name: "list", Summary: "List the devices a person holds", Roles: helpdesk,
			Flags: []bot.Param{{Name: "holder", Kind: bot.KindPerson}}, Run: h.list},
	}
}

func (h *Handler) assign(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	p, _ := req.PersonArg("person")
	d, err := h.device(ctx, req.String("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	a, err := AssignTo(ctx, h.store, d.Name, p.Name, req.Person.Name, handlers.Audit(req, "", "", ""), h.clock.Now())
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Title: fmt.Sprintf("%s now holds %s", p.Mention(), title(d)), Severity: bot.SeveritySuccess, InChannel: true,
		Fields: []bot.Field{{Name: "Kind", Value: d.Kind, Short: true}, {Name: "Since", Value: stamp(a.AssignedAt), Short: true}},
		Footer: fmt.Sprintf("Take it back with /device return %s --condition ok", d.Name)}, nil
}

// AssignTo hands device to holder in one transaction with its audit entry
// (audit gives the actor, platform and request id). A device somebody
// already holds is refused with a user-safe error that names them.
func AssignTo(ctx context.Context, store *storage.Store, device, holder, by string, audit storage.AuditEntry, now time.Time) (storage.DeviceAssignment, error) {
	a := storage.DeviceAssignment{Device: device, Holder: holder, AssignedBy: by, AssignedAt: now}
	err := store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.AssignDevice(tx, &a); err != nil {
			return err
		}
		audit.Action, audit.Subject, audit.Detail = "device.assign", "device:"+device, "holder="+holder
		if audit.At.IsZero() {
			audit.At = now
		}
		return storage.WriteAudit(tx, audit)
	})
	if errors.Is(err, storage.ErrDeviceHeld) {
		cur, cerr := storage.CurrentHolder(ctx, store.DB, device)
		if cerr != nil {
			return a, bot.Errorf("%s is already assigned; return it first with /device return %s --condition ok.", device, device)
		}
		if cur.Holder == holder {
			return a, bot.Errorf("@%s already holds %s (since %s).", holder, device, stamp(cur.AssignedAt))
		}
		return a, bot.Errorf("%s is held by @%s since %s; return it first with /device return %s --condition ok.",
			device, cur.Holder, stamp(cur.AssignedAt), device)
	}
	return a, err
}

func (h *Handler) giveBack(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	name := strings.ToLower(req.String("name"))
	if !req.Has("condition") {
		return bot.Reply{}, bot.Errorf("Say how it came back: /device return %s --condition ok (or damaged, lost).", clip(name, 64))
	}
	d, err := h.device(ctx, name)
	if err != nil {
		return bot.Reply{}, err
	}
	cond := req.String("condition")
	var a storage.DeviceAssignment
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if a, err = storage.ReturnDevice(tx, d.Name, req.Person.Name, cond, h.clock.Now()); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "device.return", "device:"+d.Name,
			fmt.Sprintf("holder=%s condition=%s", a.Holder, cond)))
	})
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, bot.Errorf("Nobody holds %s; hand it out with /device assign %s @person.", d.Name, d.Name)
	}
	if err != nil {
		return bot.Reply{}, err
	}
	sev := bot.SeveritySuccess
	if cond != storage.ConditionOK {
		sev = bot.SeverityWarning
	}
	return bot.Reply{Title: fmt.Sprintf("%s returned %s (%s)", mention(a.Holder), title(d), cond), Severity: sev, InChannel: true,
		Fields: []bot.Field{{Name: "Held", Value: stamp(a.AssignedAt) + " – " + stamp(*a.ReturnedAt), Short: true}}}, nil
}

func (h *Handler) mine(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.held(ctx, req.Person.Name, "You hold")
}

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	p, ok := req.PersonArg("holder")
	if !ok {
		return bot.Reply{}, bot.Errorf("Say whose devices to list: /device list --holder @alice (your own: /device mine).")
	}
	return h.held(ctx, p.Name, p.Mention()+" holds")
}

// held lists what holder carries.
func (h *Handler) held(ctx context.Context, holder, lead string) (bot.Reply, error) {
	as, err := storage.HeldBy(ctx, h.store.DB, holder)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(as) == 0 {
		return bot.Reply{Text: lead + " no devices."}, nil
	}
	ix, err := h.index(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	var b strings.Builder
	for _, a := range as {
		line := a.Device
		if d, ok := ix.Get(a.Device); ok && d.Kind != "" {
			line += " · " + d.Kind
		}
		fmt.Fprintf(&b, "%s · since %s\n", line, stamp(a.AssignedAt))
	}
	return bot.Reply{Title: fmt.Sprintf("%s %d device(s)", lead, len(as)), Text: strings.TrimRight(b.String(), "\n")}, nil
}

// holderFields are the holder and recent check-outs of d for /device show.
func (h *Handler) holderFields(ctx context.Context, d storage.Device) ([]bot.Field, error) {
	hist, err := storage.AssignmentHistory(ctx, h.store.DB, d.Name, historyLimit)
	if err != nil || len(hist) == 0 {
		return nil, err
	}
	var f []bot.Field
	if hist[0].ReturnedAt == nil {
		f = append(f, bot.Field{Name: "Holder", Value: fmt.Sprintf("%s since %s", mention(hist[0].Holder), stamp(hist[0].AssignedAt)), Short: true})
	}
	var b strings.Builder
	for _, a := range hist {
		fmt.Fprintf(&b, "%s: assigned to %s by %s", stamp(a.AssignedAt), mention(a.Holder), mention(a.AssignedBy))
		if a.ReturnedAt != nil {
			fmt.Fprintf(&b, "; returned %s (%s) to %s", stamp(*a.ReturnedAt), a.Condition, mention(a.ReturnedBy))
		}
		b.WriteString("\n")
	}
	return append(f, bot.Field{Name: "History", Value: strings.TrimRight(b.String(), "\n")}), nil
}

func mention(name string) string { return "@" + name }

// stamp is a UTC time to the minute.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
