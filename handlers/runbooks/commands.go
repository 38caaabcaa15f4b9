package runbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/storage"
)

// Command is the /run command table: the verbs, and one subcommand per
// runbook whose flags are its parameters.
func (h *Handler) Command() bot.Command {
	id := []bot.Param{{Name: "run", Kind: bot.KindID, Required: true, Help: "a run number such as 7 or #7"}}
	subs := []bot.Sub{
		{Name: "list", Summary: "Runbooks you may run, and the runs waiting or running", Run: h.list},
		{Name: "show", Summary: "One run: parameters, approvals, state and output", Args: id, Run: h.show},
		{Name: "approve", Summary: "Approve someone else's run", Args: id, Run: h.approve},
		{Name: "deny", Summary: "Turn a run down", Args: id,
			Flags: []bot.Param{{Name: "reason", Kind: bot.KindString, Help: "why"}}, Run: h.deny},
		{Name: "cancel", Summary: "Withdraw a waiting run or stop a running one", Args: id, Run: h.cancelCmd},
	}
	for _, name := range h.names {
		b := h.books[name]
		var flags []bot.Param
		for _, p := range b.Params {
			flags = append(flags, bot.Param{Name: p.Name, Kind: bot.KindString, Placeholder: placeholder(p), Help: p.Type})
		}
		summary := b.Description
		if summary == "" {
			summary = "Run " + b.Name
		}
		subs = append(subs, bot.Sub{Name: b.Name, Summary: summary, Flags: flags, Run: h.request})
	}
	return bot.Command{Name: "run", Summary: "Run approved runbooks", Subs: subs}
}

func placeholder(p config.RunbookParam) string {
	if p.Type == "enum" {
		return strings.Join(p.Values, "|")
	}
	return strings.ToUpper(p.Type)
}

// mayRequest: one of the runbook's roles, or admin; a runbook without roles
// is for admins only.
func mayRequest(p bot.Person, b *book) bool {
	return p.HasRole("admin") || slices.ContainsFunc(b.Roles, p.HasRole)
}

// mayApprove: a listed approver, or, when none are listed, anyone who may
// request the runbook.
func mayApprove(p bot.Person, b *book) bool {
	if len(b.Approvers) > 0 {
		return slices.Contains(b.Approvers, p.Name)
	}
	return mayRequest(p, b)
}

// check validates every parameter by its type and returns the values, or
// one error listing every problem with the values allowed.
func (h *Handler) check(ctx context.Context, req *bot.Request, b *book) (map[string]string, error) {
	values := map[string]string{}
	var problems []string
	for _, p := range b.Params {
		raw := strings.TrimSpace(req.String(p.Name))
		if !req.Has(p.Name) || raw == "" {
			problems = append(problems, fmt.Sprintf("--%s is required (%s)", p.Name, h.allowed(ctx, p)))
			continue
		}
		if msg := h.checkValue(ctx, p, raw); msg != "" {
			problems = append(problems, fmt.Sprintf("--%s %q: %s", p.Name, clip(raw), msg))
			continue
		}
		values[p.Name] = raw
	}
	if len(problems) > 0 {
		return nil, bot.Errorf("Runbook %s did not run:\n%s", b.Name, strings.Join(problems, "\n"))
	}
	return values, nil
}

// checkValue says what is wrong with raw for p, "" when nothing is.
func (h *Handler) checkValue(ctx context.Context, p config.RunbookParam, raw string) string {
	switch p.Type {
	case "int":
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return "not a whole number; " + h.allowed(ctx, p)
		}
	case "duration":
		if _, err := config.ParseDuration(raw); err != nil {
			return "not a duration; " + h.allowed(ctx, p)
		}
	case "enum":
		if !slices.Contains(p.Values, raw) {
			return "not allowed; " + h.allowed(ctx, p)
		}
	case "device":
		if _, err := storage.GetDevice(ctx, h.store.DB, raw); err != nil {
			return "no such device; " + h.allowed(ctx, p)
		}
	default:
		if p.Pattern != "" && !regexp.MustCompile(`^(?:`+p.Pattern+`)$`).MatchString(raw) {
			return "does not match; " + h.allowed(ctx, p)
		}
		if strings.HasPrefix(raw, "-") {
			// A value must not turn into an option of the command.
			return "must not start with '-'"
		}
	}
	return ""
}

// allowed says which values p takes.
func (h *Handler) allowed(ctx context.Context, p config.RunbookParam) string {
	switch p.Type {
	case "int":
		return "a whole number such as 3"
	case "duration":
		return "a duration such as 30m or 2h"
	case "enum":
		return "allowed: " + strings.Join(p.Values, ", ")
	case "device":
		devs, err := storage.ListDevices(ctx, h.store.DB)
		if err != nil || len(devs) == 0 {
			return "a device from /device lookup"
		}
		var names []string
		for i, d := range devs {
			if i == 15 {
				names = append(names, fmt.Sprintf("and %d more (see /device lookup)", len(devs)-15))
				break
			}
			names = append(names, d.Name)
		}
		return "allowed devices: " + strings.Join(names, ", ")
	}
	if p.Pattern != "" {
		return "text matching " + p.Pattern
	}
	return "text"
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (h *Handler) request(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	b := h.books[req.Sub]
	if b == nil {
		return bot.Reply{}, bot.Errorf("No runbook called %q; /run list shows them.", req.Sub)
	}
	if !mayRequest(req.Person, b) {
		need := "the admin role"
		if len(b.Roles) > 0 {
			need = "the " + strings.Join(b.Roles, " or ") + " role (or admin)"
		}
		return bot.Reply{}, bot.Forbiddenf("You may not run %s: it needs %s.", b.Name, need)
	}
	values, err := h.check(ctx, req, b)
	if err != nil {
		return bot.Reply{}, err
	}
	js, _ := json.Marshal(values)
	r := storage.RunbookRun{Runbook: b.Name, State: storage.RunbookPending, RequestedBy: req.Person.Name,
		Params: string(js), CreatedAt: h.clock.Now()}
	if b.Approvals == 0 {
		r.State = storage.RunbookApproved
	}
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.CreateRunbookRun(tx, &r); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "runbook.request", subject(r), string(js))); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, notify.Notification{Key: requestKey(r.ID), To: h.dest(r), Reply: h.card(r)})
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if r.State == storage.RunbookApproved {
		if err := h.start(ctx, r); err != nil {
			return bot.Reply{}, err
		}
		return bot.Reply{Text: fmt.Sprintf("Runbook %s #%d started; its output follows in the thread. Stop it with /run cancel %d.", b.Name, r.ID, r.ID)}, nil
	}
	return bot.Reply{Text: fmt.Sprintf("Runbook %s #%d waits for %s from someone other than you.", b.Name, r.ID, countApprovals(b.Approvals))}, nil
}

func countApprovals(n int) string {
	if n == 1 {
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals", n)
}

// card is the request's message: what runs, who asked, where it stands.
func (h *Handler) card(r storage.RunbookRun) bot.Reply {
	b := h.books[r.Runbook]
	rep := bot.Reply{Title: fmt.Sprintf("Runbook %s #%d", r.Runbook, r.ID), InChannel: true,
		Text: fmt.Sprintf("Requested by @%s: %s", r.RequestedBy, describe(r))}
	rep.Fields = append(rep.Fields, bot.Field{Name: "Parameters", Value: paramText(r)})
	if a := r.Approvers(); len(a) > 0 {
		rep.Fields = append(rep.Fields, bot.Field{Name: "Approved by", Value: strings.Join(a, ", ")})
	}
	if r.State == storage.RunbookPending && b != nil {
		rep.Text += fmt.Sprintf(" (%d of %d approvals)", len(r.Approvers()), b.Approvals)
		rep.Buttons = []bot.Button{
			{Label: "Approve", Command: fmt.Sprintf("/run approve %d", r.ID), Style: bot.ButtonPrimary},
			{Label: "Deny", Command: fmt.Sprintf("/run deny %d", r.ID), Style: bot.ButtonDanger},
		}
	}
	return rep
}

func paramText(r storage.RunbookRun) string {
	p := params(r)
	var out []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range p {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, fmt.Sprintf("--%s %q", k, p[k]))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " ")
}

// describe is a run's state in words.
func describe(r storage.RunbookRun) string {
	switch r.State {
	case storage.RunbookPending:
		return "waiting for approval"
	case storage.RunbookApproved:
		return "approved, waiting for a free slot"
	case storage.RunbookRunning:
		return "running"
	case storage.RunbookSucceeded:
		return "succeeded"
	}
	if r.Error != "" {
		return r.State + ": " + r.Error
	}
	return r.State
}

// load reads a run the person may see; everyone who may request or approve
// its runbook, and its requester.
func (h *Handler) load(ctx context.Context, req *bot.Request) (storage.RunbookRun, *book, error) {
	r, err := storage.GetRunbookRun(ctx, h.store.DB, req.Int("run"))
	if errors.Is(err, storage.ErrNotFound) {
		return r, nil, bot.Errorf("No run #%d; /run list shows the runs.", req.Int("run"))
	}
	if err != nil {
		return r, nil, err
	}
	b := h.books[r.Runbook]
	if b == nil {
		return r, nil, bot.Errorf("Run #%d is of runbook %s, which is no longer configured.", r.ID, r.Runbook)
	}
	if r.RequestedBy != req.Person.Name && !mayRequest(req.Person, b) && !mayApprove(req.Person, b) {
		return r, nil, bot.Forbiddenf("Run #%d is not yours to see.", r.ID)
	}
	return r, b, nil
}

func (h *Handler) approve(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, b, err := h.load(ctx, req)
	if err != nil {
		return bot.Reply{}, err
	}
	switch {
	case r.State != storage.RunbookPending:
		return bot.Reply{}, bot.Errorf("Run #%d is %s; only a waiting run is approved.", r.ID, describe(r))
	case r.RequestedBy == req.Person.Name:
		return bot.Reply{}, bot.Forbiddenf("You cannot approve your own run #%d; someone else must.", r.ID)
	case !mayApprove(req.Person, b):
		return bot.Reply{}, bot.Forbiddenf("You may not approve runs of %s.", b.Name)
	case slices.Contains(r.Approvers(), req.Person.Name):
		return bot.Reply{}, bot.Errorf("You approved #%d already; it needs someone else.", r.ID)
	}
	old := r.ApprovedBy
	r.ApprovedBy = strings.Join(append(r.Approvers(), req.Person.Name), ",")
	cols := map[string]any{"approved_by": r.ApprovedBy}
	if len(r.Approvers()) >= b.Approvals {
		r.State = storage.RunbookApproved
		cols["state"] = r.State
	}
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&storage.RunbookRun{}).Where("id = ? AND state = ? AND approved_by = ?", r.ID, storage.RunbookPending, old).Updates(cols)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return bot.Errorf("Run #%d changed while you approved it; look again with /run show %d.", r.ID, r.ID)
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "runbook.approve", subject(r), r.ApprovedBy)); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardUpdate(r, "approve"))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if r.State == storage.RunbookApproved {
		if err := h.start(ctx, r); err != nil {
			return bot.Reply{}, err
		}
		return bot.Reply{Text: fmt.Sprintf("Approved #%d; it has every approval it needs and starts now.", r.ID)}, nil
	}
	return bot.Reply{Text: fmt.Sprintf("Approved #%d (%d of %d approvals).", r.ID, len(r.Approvers()), b.Approvals)}, nil
}

func (h *Handler) deny(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, b, err := h.load(ctx, req)
	if err != nil {
		return bot.Reply{}, err
	}
	if !mayApprove(req.Person, b) || r.RequestedBy == req.Person.Name {
		return bot.Reply{}, bot.Forbiddenf("Only an approver other than the requester denies #%d (withdraw your own with /run cancel %d).", r.ID, r.ID)
	}
	return h.end(ctx, req, r, storage.RunbookDenied, "runbook.deny", strings.TrimSpace(req.String("reason")))
}

func (h *Handler) cancelCmd(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, b, err := h.load(ctx, req)
	if err != nil {
		return bot.Reply{}, err
	}
	if r.RequestedBy != req.Person.Name && !mayApprove(req.Person, b) && !req.Person.HasRole("admin") {
		return bot.Reply{}, bot.Forbiddenf("Only the requester or an approver cancels #%d.", r.ID)
	}
	if r.State == storage.RunbookRunning {
		err := h.store.Tx(ctx, func(tx *gorm.DB) error {
			if _, err := storage.UpdateRunbookRun(tx, r.ID, storage.RunbookRunning, map[string]any{"cancel_by": req.Person.Name}); err != nil {
				return err
			}
			return storage.WriteAudit(tx, handlers.Audit(req, "runbook.cancel", subject(r), "running"))
		})
		if err != nil {
			return bot.Reply{}, err
		}
		if a := h.local(r.ID); a != nil {
			h.cancel(a, req.Person.Name)
		}
		return bot.Reply{Text: fmt.Sprintf("Stopping #%d.", r.ID)}, nil
	}
	return h.end(ctx, req, r, storage.RunbookCancelled, "runbook.cancel", "")
}

// end moves a waiting run to a final state.
func (h *Handler) end(ctx context.Context, req *bot.Request, r storage.RunbookRun, state, action, reason string) (bot.Reply, error) {
	from := r.State
	if from != storage.RunbookPending && from != storage.RunbookApproved {
		return bot.Reply{}, bot.Errorf("Run #%d is %s already.", r.ID, describe(r))
	}
	r.State, r.DecidedBy, r.Error = state, req.Person.Name, strings.TrimSpace(state+" by "+req.Person.Name+" "+reason)
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.UpdateRunbookRun(tx, r.ID, from, map[string]any{"state": state, "decided_by": r.DecidedBy, "error": r.Error})
		if err != nil {
			return err
		}
		if !ok {
			return bot.Errorf("Run #%d changed meanwhile; look again with /run show %d.", r.ID, r.ID)
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, action, subject(r), reason)); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.cardUpdate(r, state))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: fmt.Sprintf("Run #%d is %s.", r.ID, state)}, nil
}

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	var b strings.Builder
	for _, name := range h.names {
		bk := h.books[name]
		if !mayRequest(req.Person, bk) && !mayApprove(req.Person, bk) {
			continue
		}
		fmt.Fprintf(&b, "%s — %s (approvals: %d)\n", name, bk.Description, bk.Approvals)
	}
	if b.Len() == 0 {
		b.WriteString("No runbooks you may run.\n")
	}
	runs, err := storage.ListRunbookRuns(ctx, h.store.DB, 20, storage.RunbookPending, storage.RunbookApproved, storage.RunbookRunning)
	if err != nil {
		return bot.Reply{}, err
	}
	now := h.clock.Now()
	for _, r := range runs {
		fmt.Fprintf(&b, "#%d %s by %s, %s (%s)\n", r.ID, r.Runbook, r.RequestedBy, describe(r), clock.Ago(now, r.CreatedAt))
	}
	return bot.Reply{Title: "Runbooks", Text: strings.TrimRight(b.String(), "\n")}, nil
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, _, err := h.load(ctx, req)
	if err != nil {
		return bot.Reply{}, err
	}
	rep := h.card(r)
	if r.State == storage.RunbookRunning {
		if a := h.local(r.ID); a != nil {
			r.Output, _ = a.proc.Output()
		}
	}
	rep.Code = tail(r.Output)
	rep.InChannel = false
	return rep, nil
}
