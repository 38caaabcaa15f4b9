package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
)

// Reverts of port changes that fail are retried after RevertRetry,
// doubling up to RevertRetryMax.
const (
	RevertRetry    = 30 * time.Second
	RevertRetryMax = 15 * time.Minute
)

// portSub is /device port: set a port up or down for a while, then back.
func (h *Handler) portSub() bot.Sub {
	return bot.Sub{Name: "port", Summary: "Set a switch port up or down for a while; it is set back when the time is up",
		Args: []bot.Param{
			{Name: "device", Kind: bot.KindString, Required: true, Placeholder: "SWITCH", Help: "a device, or approve, deny, list", Complete: h.Complete},
			{Name: "port", Kind: bot.KindString, Placeholder: "IFNAME", Help: "the port's ifName or ifDescr; or the change's number after approve or deny"},
			{Name: "state", Kind: bot.KindString, Placeholder: "up|down"},
		},
		Flags: []bot.Param{
			{Name: "for", Kind: bot.KindDuration, Help: "how long, at most devices.changes.max_duration"},
			{Name: "reason", Kind: bot.KindString, Placeholder: `"..."`, Help: "why, for the audit log"},
		},
		Slow: true, Ack: func(req *bot.Request) string {
			return "Working on " + req.String("device") + " " + req.String("port") + "…"
		},
		Run: h.port}
}

func (h *Handler) port(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	switch strings.ToLower(req.String("device")) {
	case "approve", "deny":
		id, err := strconv.ParseInt(strings.TrimPrefix(req.String("port"), "#"), 10, 64)
		if err != nil {
			return bot.Reply{}, bot.Errorf("Give the change's number: /device port %s 12", strings.ToLower(req.String("device")))
		}
		if strings.ToLower(req.String("device")) == "deny" {
			return h.portDeny(ctx, req, id)
		}
		return h.portApprove(ctx, req, id)
	case "list":
		return h.portList(ctx)
	}
	return h.portRequest(ctx, req)
}

// mayChange: one of devices.changes.roles, or admin.
func (h *Handler) mayChange(p bot.Person) bool {
	return p.HasRole(RoleAdmin) || slices.ContainsFunc(h.cfg.Devices.Changes.Roles, p.HasRole)
}

func (h *Handler) portRequest(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	rules := h.cfg.Devices.Changes
	if !h.mayChange(req.Person) {
		need := "the admin role"
		if len(rules.Roles) > 0 {
			need = "the " + strings.Join(rules.Roles, " or ") + " role (or admin)"
		}
		return bot.Reply{}, bot.Forbiddenf("You may not change ports: it needs %s.", need)
	}
	action := strings.ToLower(req.String("state"))
	var problems []string
	if req.String("port") == "" {
		problems = append(problems, "name the port (its ifName or ifDescr)")
	}
	if action != "up" && action != "down" {
		problems = append(problems, "say up or down")
	}
	dur := req.Duration("for")
	switch {
	case !req.Has("for"):
		problems = append(problems, "--for is required: how long, e.g. --for 1h (the port is set back then)")
	case dur <= 0:
		problems = append(problems, "--for must be longer than 0")
	case dur > time.Duration(rules.MaxDuration):
		problems = append(problems, fmt.Sprintf("--for is at most %s", bot.FormatDuration(time.Duration(rules.MaxDuration))))
	}
	reason := strings.TrimSpace(req.String("reason"))
	if reason == "" {
		problems = append(problems, `--reason is required, e.g. --reason "visitor laptop"`)
	}
	if len(problems) > 0 {
		return bot.Reply{}, bot.Errorf("%s. Usage: /device port SWITCH IFNAME up|down --for 1h --reason \"...\"", strings.Join(problems, "; "))
	}
	d, err := h.device(ctx, req.String("device"))
	if err != nil {
		return bot.Reply{}, err
	}
	if h.protected(d.Name, req.String("port")) {
		return bot.Reply{}, bot.Forbiddenf("%s on %s is protected (devices.changes.protected): it is never changed from chat.", req.String("port"), d.Name)
	}
	p, err := h.profile(d)
	if err != nil {
		return bot.Reply{}, err
	}
	ifs, err := h.snmp.Interfaces(ctx, d.Address, p)
	if err != nil {
		return h.snmpFailed(bot.Reply{Title: title(d)}, d, p, err), nil
	}
	ifc, ok := match(ifs, req.String("port"))
	if !ok {
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return bot.Reply{}, bot.Errorf("%s has no port %q (ifName or ifDescr). Ports: %s", d.Name, clip(req.String("port"), 64), clip(strings.Join(names, ", "), 500))
	}
	// The match may have gone through the other name of the port.
	if h.protected(d.Name, ifc.Name) || h.protected(d.Name, ifc.Descr) {
		return bot.Reply{}, bot.Forbiddenf("%s (%s) on %s is protected (devices.changes.protected): it is never changed from chat.", ifc.Name, ifc.Descr, d.Name)
	}
	previous := "down"
	if ifc.AdminUp {
		previous = "up"
	}
	if previous == action {
		return bot.Reply{Text: fmt.Sprintf("%s on %s is already %s; nothing to change.", ifc.Name, d.Name, action)}, nil
	}
	c := storage.PortChange{Device: d.Name, IfIndex: ifc.Index, Port: ifc.Name, Action: action, Previous: previous,
		State: storage.PortPending, RequestedBy: req.Person.Name, Reason: reason, DurationS: int64(dur / time.Second),
		CreatedAt: h.clock.Now()}
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.CreatePortChange(tx, &c); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "device.port.request", portSubject(c),
			fmt.Sprintf("%s %s for %s: %s", c.Port, action, bot.FormatDuration(dur), reason))); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, notify.Notification{Key: portKey(c.ID), To: h.portDest(c), Reply: h.portCard(c)})
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if rules.Approvals > 0 {
		return bot.Reply{Text: fmt.Sprintf("Port change #%d (%s on %s %s for %s) waits for %d approval(s) from someone other than you.",
			c.ID, c.Port, c.Device, action, bot.FormatDuration(dur), rules.Approvals)}, nil
	}
	return h.apply(ctx, c)
}

// match finds the port by ifName, then by ifDescr, case-insensitively.
func match(ifs []snmp.Interface, name string) (snmp.Interface, bool) {
	for _, i := range ifs {
		if strings.EqualFold(i.Name, name) {
			return i, true
		}
	}
	for _, i := range ifs {
		if strings.EqualFold(i.Descr, name) {
			return i, true
		}
	}
	return snmp.Interface{}, false
}

// protected reports whether devices.changes.protected lists port of device.
func (h *Handler) protected(device, port string) bool {
	for _, p := range h.cfg.Devices.Changes.Protected {
		if strings.EqualFold(p.Device, device) && slices.ContainsFunc(p.Ports, func(s string) bool { return strings.EqualFold(s, port) }) {
			return true
		}
	}
	return false
}

func portSubject(c storage.PortChange) string {
	return fmt.Sprintf("device:%s:port:%d", c.Device, c.ID)
}
func portKey(id int64) string { return fmt.Sprintf("port:%d:request", id) }

func (h *Handler) portDest(c storage.PortChange) notify.Destination {
	if ch := h.cfg.Devices.Changes.Channel; ch != "" {
		return notify.Destination{Channel: ch}
	}
	return notify.Destination{Person: c.RequestedBy}
}

// portCard is the request's message, edited as the change moves on.
func (h *Handler) portCard(c storage.PortChange) bot.Reply {
	r := bot.Reply{Title: fmt.Sprintf("Port change #%d: %s on %s %s for %s", c.ID, c.Port, c.Device, c.Action, bot.FormatDuration(c.Duration())),
		Text: fmt.Sprintf("Requested by @%s: %s", c.RequestedBy, c.Reason), InChannel: true,
		Fields: []bot.Field{{Name: "State", Value: h.portState(c)}}}
	if a := c.Approvers(); len(a) > 0 {
		r.Fields = append(r.Fields, bot.Field{Name: "Approved by", Value: strings.Join(a, ", ")})
	}
	if c.State == storage.PortPending {
		r.Buttons = []bot.Button{
			{Label: "Approve", Command: fmt.Sprintf("/device port approve %d", c.ID), Style: bot.ButtonPrimary},
			{Label: "Deny", Command: fmt.Sprintf("/device port deny %d", c.ID), Style: bot.ButtonDanger},
		}
	}
	return r
}

func (h *Handler) portState(c storage.PortChange) string {
	switch c.State {
	case storage.PortPending:
		return fmt.Sprintf("waiting for approval (%d of %d)", len(c.Approvers()), h.cfg.Devices.Changes.Approvals)
	case storage.PortActive:
		return fmt.Sprintf("%s until %s, then back %s", c.Action, c.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), c.Previous)
	case storage.PortRevertFailed:
		return fmt.Sprintf("setting it back %s is failing (attempt %d): %s", c.Previous, c.Attempts, c.Error)
	case storage.PortReverted:
		return "back " + c.Previous
	}
	if c.Error != "" {
		return c.State + ": " + c.Error
	}
	return c.State
}

func (h *Handler) cardEdit(c storage.PortChange, why string) notify.Notification {
	return notify.Notification{Key: fmt.Sprintf("%s:%s:%d", portKey(c.ID), why, h.clock.Now().UnixNano()), Updates: portKey(c.ID),
		To: h.portDest(c), Reply: h.portCard(c)}
}

func (h *Handler) threadNote(c storage.PortChange, why string, r bot.Reply) notify.Notification {
	r.InChannel = true
	return notify.Notification{Key: fmt.Sprintf("port:%d:%s", c.ID, why), Thread: portKey(c.ID), To: h.portDest(c), Reply: r}
}

// set writes ifAdminStatus of the change's port with the device's write
// credentials and reads it back; mismatch says what it reads instead.
func (h *Handler) set(ctx context.Context, c storage.PortChange, to string) (mismatch string, err error) {
	d, err := storage.GetDevice(ctx, h.store.DB, c.Device)
	if err != nil {
		return "", fmt.Errorf("device %s: %w", c.Device, err)
	}
	cp, err := h.configProfile(d)
	if err != nil {
		return "", err
	}
	wp, ok := cp.WriteProfile()
	if !ok {
		return "", bot.Errorf("%s has no SNMP write credentials (snmp.write in its profile)", d.Name)
	}
	value := 2
	if to == "up" {
		value = 1
	}
	oid := fmt.Sprintf("%s.%d", snmp.OIDIfAdminStatus, c.IfIndex)
	if err := h.snmp.SetInt(ctx, d.Address, snmp.FromConfig(wp), oid, value); err != nil {
		return "", err
	}
	vals, err := h.snmp.Get(ctx, d.Address, snmp.FromConfig(cp), oid)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if n, ok := vals[0].Uint(); !ok || int(n) != value {
		got := vals[0].String()
		switch {
		case ok && n == 1:
			got = "up"
		case ok && n == 2:
			got = "down"
		}
		return fmt.Sprintf("%s on %s reads back %s, not %s", c.Port, c.Device, got, to), nil
	}
	return "", nil
}

// apply sets the port and starts the clock.
func (h *Handler) apply(ctx context.Context, c storage.PortChange) (bot.Reply, error) {
	mismatch, err := h.set(ctx, c, c.Action)
	if err != nil {
		h.log.Error("port change", "change", c.ID, "device", c.Device, "err", err)
	}
	now := h.clock.Now()
	from := c.State
	if err != nil {
		c.State, c.Error = storage.PortFailed, userText(err)
	} else {
		exp := now.Add(c.Duration())
		c.State, c.AppliedAt, c.ExpiresAt, c.Error = storage.PortActive, &now, &exp, mismatch
	}
	note := bot.Reply{Text: fmt.Sprintf("%s on %s is %s until %s; it is set back %s then.", c.Port, c.Device, c.Action,
		bot.FormatDuration(c.Duration())+" from now", c.Previous)}
	switch {
	case err != nil:
		note = bot.Reply{Severity: bot.SeverityDanger, Text: fmt.Sprintf("Could not set %s on %s %s: %s", c.Port, c.Device, c.Action, c.Error)}
	case mismatch != "":
		note = bot.Reply{Severity: bot.SeverityWarning, Text: fmt.Sprintf("The SET was accepted, but %s: the switch did not follow. It is still set back %s when the time is up.", mismatch, c.Previous)}
	}
	werr := h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.UpdatePortChange(tx, c.ID, from, nil, map[string]any{"state": c.State, "applied_at": c.AppliedAt,
			"expires_at": c.ExpiresAt, "error": c.Error})
		if err != nil || !ok {
			return err
		}
		detail := c.Action
		if c.Error != "" {
			detail += ": " + c.Error
		}
		if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "opsbot", Platform: "snmp", Action: "device.port.set",
			Subject: portSubject(c), Detail: detail}); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardEdit(c, "set"), h.threadNote(c, "set", note))
	})
	if werr != nil {
		return bot.Reply{}, werr
	}
	note.Text = fmt.Sprintf("#%d: %s", c.ID, note.Text)
	note.InChannel = false
	return note, nil
}

// userText is err as a person may read it: a user error's message, or the
// SNMP client's secret-free reason.
func userText(err error) string {
	var se *snmp.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	if ue, ok := bot.AsUserError(err); ok {
		return ue.Msg
	}
	return "internal error (see opsbot's log)"
}

func (h *Handler) portApprove(ctx context.Context, req *bot.Request, id int64) (bot.Reply, error) {
	c, err := h.pending(ctx, req, id)
	if err != nil {
		return bot.Reply{}, err
	}
	if slices.Contains(c.Approvers(), req.Person.Name) {
		return bot.Reply{}, bot.Errorf("You approved #%d already; it needs someone else.", id)
	}
	old := c.ApprovedBy
	c.ApprovedBy = strings.Join(append(c.Approvers(), req.Person.Name), ",")
	done := len(c.Approvers()) >= h.cfg.Devices.Changes.Approvals
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.UpdatePortChange(tx, id, storage.PortPending, &old, map[string]any{"approved_by": c.ApprovedBy})
		if err != nil {
			return err
		}
		if !ok {
			return bot.Errorf("#%d changed meanwhile; try again.", id)
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "device.port.approve", portSubject(c), c.ApprovedBy)); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardEdit(c, "approve"))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if !done {
		return bot.Reply{Text: fmt.Sprintf("Approved #%d (%d of %d).", id, len(c.Approvers()), h.cfg.Devices.Changes.Approvals)}, nil
	}
	return h.apply(ctx, c)
}

func (h *Handler) portDeny(ctx context.Context, req *bot.Request, id int64) (bot.Reply, error) {
	c, err := h.pending(ctx, req, id)
	if err != nil {
		return bot.Reply{}, err
	}
	c.State, c.Error = storage.PortDenied, "denied by "+req.Person.Name
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.UpdatePortChange(tx, id, storage.PortPending, nil, map[string]any{"state": c.State, "error": c.Error})
		if err != nil || !ok {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "device.port.deny", portSubject(c), req.String("reason"))); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardEdit(c, "deny"))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: fmt.Sprintf("Denied #%d.", id)}, nil
}

// pending loads a change waiting for approval that req's person may decide.
func (h *Handler) pending(ctx context.Context, req *bot.Request, id int64) (storage.PortChange, error) {
	c, err := storage.GetPortChange(ctx, h.store.DB, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return c, bot.Errorf("No port change #%d.", id)
	case err != nil:
		return c, err
	case c.State != storage.PortPending:
		return c, bot.Errorf("Port change #%d is %s; only a waiting change is decided.", id, h.portState(c))
	case c.RequestedBy == req.Person.Name:
		return c, bot.Forbiddenf("You cannot approve or deny your own port change #%d; someone else must.", id)
	case !h.mayChange(req.Person):
		return c, bot.Forbiddenf("You may not decide port changes.")
	}
	return c, nil
}

func (h *Handler) portList(ctx context.Context) (bot.Reply, error) {
	cs, err := storage.ActivePortChanges(ctx, h.store.DB)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(cs) == 0 {
		return bot.Text("No ports are changed now."), nil
	}
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "#%d %s on %s: %s (by %s: %s)\n", c.ID, c.Port, c.Device, h.portState(c), c.RequestedBy, c.Reason)
	}
	return bot.Reply{Title: "Changed ports", Text: strings.TrimRight(b.String(), "\n")}, nil
}

// Run sets ports back when their time is up, every 10 seconds until ctx
// ends; the leader runs it.
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, 10*time.Second, h.log, "port reverts", h.Tick)
}

// Tick sets back every port whose change is due, including those that fell
// due while opsbot was stopped, and says so in the change's thread. A
// failed revert is retried with backoff until it lands.
func (h *Handler) Tick(ctx context.Context) error {
	due, err := storage.DuePortReverts(ctx, h.store.DB, h.clock.Now())
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range due {
		errs = append(errs, h.revert(ctx, c))
	}
	return errors.Join(errs...)
}

func (h *Handler) revert(ctx context.Context, c storage.PortChange) error {
	mismatch, err := h.set(ctx, c, c.Previous)
	if err != nil {
		h.log.Error("port revert", "change", c.ID, "device", c.Device, "err", err)
	}
	now := h.clock.Now()
	from := c.State
	cols := map[string]any{}
	var note bot.Reply
	if err == nil && mismatch == "" {
		c.State, c.RevertedAt, c.Error = storage.PortReverted, &now, ""
		cols = map[string]any{"state": c.State, "reverted_at": &now, "error": ""}
		note = bot.Reply{Text: fmt.Sprintf("%s on %s is back %s: change #%d ended.", c.Port, c.Device, c.Previous, c.ID)}
	} else {
		why := mismatch
		if err != nil {
			why = userText(err)
		}
		c.Attempts++
		wait := min(RevertRetry<<min(c.Attempts-1, 10), RevertRetryMax)
		next := now.Add(wait)
		c.State, c.Error, c.NextAttemptAt = storage.PortRevertFailed, why, &next
		cols = map[string]any{"state": c.State, "error": why, "attempts": c.Attempts, "next_attempt_at": &next}
		note = bot.Reply{Severity: bot.SeverityDanger, Text: fmt.Sprintf("Could not set %s on %s back %s: %s. Trying again in %s.",
			c.Port, c.Device, c.Previous, why, bot.FormatDuration(wait))}
	}
	return h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.UpdatePortChange(tx, c.ID, from, nil, cols)
		if err != nil || !ok {
			return err
		}
		if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "opsbot", Platform: "schedule", Action: "device.port.revert",
			Subject: portSubject(c), Detail: h.portState(c)}); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardEdit(c, "revert"), h.threadNote(c, fmt.Sprintf("revert:%d", c.Attempts), note))
	})
}
