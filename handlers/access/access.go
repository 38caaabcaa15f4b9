// Package access handles access requests: a person asks for a role on a
// configured resource for a limited time, approvers approve or deny from chat,
// the grant action runs once enough distinct approvers agreed, and the revoke
// action runs when the time is up, retried until it succeeds.
package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/access/action"
	"opsbot/notify"
	"opsbot/proc"
	"opsbot/storage"
)

// Limits on what a request may carry.
const (
	maxReason = 1000
	maxNote   = 500
	// maxGrantAttempts is how often a failing grant is tried before opsbot
	// gives up and runs the revoke action to clean up.
	maxGrantAttempts = 5
	// system is the actor of changes opsbot makes on its own.
	system = "opsbot"
)

// denyButtonReason is the reason a Deny button gives: a button cannot ask
// for text, so it carries a complete command with a fixed reason.
const denyButtonReason = "denied from button"

// Handler serves /access and runs expiries.
type Handler struct {
	cfg    *config.Config
	store  *storage.Store
	out    *notify.Outbox
	dir    *bot.Directory
	clock  clock.Clock
	log    *slog.Logger
	runner *action.Runner
	// Interval is how often Run does a pass.
	Interval time.Duration

	// slots holds one token per grant or revoke action running from a
	// pass, bounding them to access.max_concurrent_actions.
	slots chan struct{}
	// busy holds the requests whose action a pass has started and not
	// finished, so a later pass does not start it again.
	mu   sync.Mutex
	busy map[int64]struct{}
	// running counts the goroutines passes started, for Run to wait on.
	running sync.WaitGroup
}

// New builds the access handler.
func New(d handlers.Deps) (*Handler, error) {
	if d.Store == nil || d.Outbox == nil || d.Dir == nil || d.Clock == nil || d.Config == nil {
		return nil, errors.New("access: missing dependencies")
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	n := d.Config.Access.MaxConcurrentActions
	if n < 1 {
		n = 8 // a Config not from Load; Validate refuses < 1 in a file
	}
	return &Handler{cfg: d.Config, store: d.Store, out: d.Outbox, dir: d.Dir, clock: d.Clock,
		log: log.With("area", "access"), runner: &action.Runner{Now: d.Clock.Now, Mask: proc.NewMasker(d.Config.SecretValues()...)},
		Interval: 10 * time.Second, slots: make(chan struct{}, n), busy: map[int64]struct{}{}}, nil
}

// Command is the /access command table.
func (h *Handler) Command() bot.Command {
	id := []bot.Param{{Name: "id", Kind: bot.KindID, Required: true}}
	dur := bot.Param{Name: "for", Kind: bot.KindDuration, Required: true, Help: "how long, e.g. 8h (at most the resource's max_duration)"}
	return bot.Command{Name: "access", Summary: "Ask for temporary access, approve it, revoke it", Subs: []bot.Sub{
		{Name: "request", Summary: "Ask for access to a resource for a limited time",
			Args: []bot.Param{{Name: "resource", Kind: bot.KindString, Required: true, Placeholder: "RESOURCE", Complete: h.completeResource}},
			Flags: []bot.Param{{Name: "role", Kind: bot.KindString, Placeholder: "ROLE", Help: "one of the resource's roles (default the first)"},
				dur, {Name: "reason", Kind: bot.KindString, Placeholder: `"TEXT"`, Help: "why you need it"}},
			Run: h.request},
		{Name: "list", Summary: "List open requests you can see",
			Flags: []bot.Param{{Name: "mine", Kind: bot.KindBool}, {Name: "pending", Kind: bot.KindBool}, {Name: "active", Kind: bot.KindBool},
				{Name: "failing", Kind: bot.KindBool, Help: "grants and revokes that are failing (admins)"}},
			Run: h.list},
		{Name: "show", Summary: "Show one request", Args: id, Run: h.show},
		{Name: "approve", Summary: "Approve a request (or its extension)", Args: id,
			Flags: []bot.Param{{Name: "note", Kind: bot.KindString, Placeholder: `"TEXT"`}},
			Slow:  true, Ack: func(*bot.Request) string { return "Recording your approval…" }, Run: h.approve},
		{Name: "deny", Summary: "Deny a request (or its extension)", Args: id,
			Flags: []bot.Param{{Name: "reason", Kind: bot.KindString, Required: true, Placeholder: `"TEXT"`}}, Run: h.deny},
		{Name: "revoke", Summary: "End access now, or withdraw a pending request", Args: id,
			Slow: true, Ack: func(*bot.Request) string { return "Revoking…" }, Run: h.revoke},
		{Name: "extend", Summary: "Ask for more time on active access (needs approval again)", Args: id,
			Flags: []bot.Param{dur}, Run: h.extend},
		{Name: "done", Summary: "Confirm a manual grant or revoke was carried out", Args: id, Run: h.done},
		{Name: "resources", Summary: "List what you can ask access to", Run: h.resources},
		{Name: "audit", Summary: "Show the access audit log", Roles: []string{"admin"},
			Args: []bot.Param{{Name: "resource", Kind: bot.KindString, Placeholder: "RESOURCE"}}, Run: h.audit},
	}}
}

// resource finds a configured resource or says which ones exist.
func (h *Handler) resource(name string) (config.Resource, error) {
	if r, ok := h.cfg.Resource(name); ok {
		return r, nil
	}
	var names []string
	for _, r := range h.cfg.Access.Resources {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return config.Resource{}, bot.Errorf("No resources are configured for access requests; ask an admin to add some under access.resources.")
	}
	msg := fmt.Sprintf("There is no resource %q.", name)
	if c := bot.Closest(strings.ToLower(name), names); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	}
	return config.Resource{}, bot.Errorf("%s Resources: %s (see /access resources).", msg, strings.Join(names, ", "))
}

// approvers lists who may approve requests for res, sorted.
func (h *Handler) approvers(res config.Resource) []string {
	names := slices.Clone(res.Approvers)
	if res.ApproverRole != "" {
		for _, p := range h.dir.WithRole(res.ApproverRole) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// canApprove reports whether p may approve requests for res.
func canApprove(res config.Resource, p bot.Person) bool {
	if !p.Known {
		return false
	}
	return slices.Contains(res.Approvers, p.Name) || (res.ApproverRole != "" && p.HasRole(res.ApproverRole))
}

// canSee reports whether p may see request r.
func (h *Handler) canSee(r *storage.AccessRequest, p bot.Person) bool {
	if r.Requester == p.Name || (p.Known && p.HasRole("admin")) {
		return true
	}
	res, ok := h.cfg.Resource(r.Resource)
	return ok && canApprove(res, p)
}

// load reads request id for person p, refusing those p may not see.
func (h *Handler) load(ctx context.Context, db *gorm.DB, id int64, p bot.Person, lock bool) (*storage.AccessRequest, error) {
	var r *storage.AccessRequest
	var err error
	if lock {
		r, err = storage.LockAccessRequest(db, id)
	} else {
		r, err = storage.GetAccessRequest(db.WithContext(ctx), id)
	}
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !h.canSee(r, p)) {
		return nil, bot.Errorf("There is no access request #%d you can see; /access list shows yours.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load access request %d: %w", id, err)
	}
	return r, nil
}

func (h *Handler) request(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	res, err := h.resource(req.String("resource"))
	if err != nil {
		return bot.Reply{}, err
	}
	role := req.String("role")
	switch {
	case role == "" && len(res.Roles) > 0:
		role = res.Roles[0]
	case role != "" && !slices.Contains(res.Roles, role):
		if len(res.Roles) == 0 {
			return bot.Reply{}, bot.Errorf("%s has no roles to choose from; leave out --role.", res.Name)
		}
		return bot.Reply{}, bot.Errorf("%s has no role %q; choose one of %s with --role.", res.Name, role, strings.Join(res.Roles, ", "))
	}
	d := req.Duration("for")
	if max := time.Duration(res.MaxDuration); d > max {
		return bot.Reply{}, bot.Errorf("--for %s is longer than %s allows; the maximum is %s. Try --for %s.",
			bot.FormatDuration(d), res.Name, bot.FormatDuration(max), bot.FormatDuration(max))
	}
	reason := strings.TrimSpace(req.String("reason"))
	if res.ReasonRequired && reason == "" {
		return bot.Reply{}, bot.Errorf(`%s needs a reason: add --reason "why you need it".`, res.Name)
	}
	if n := len([]rune(reason)); n > maxReason {
		return bot.Reply{}, bot.Errorf("The reason is %d characters long; keep it under %d.", n, maxReason)
	}
	others := slices.DeleteFunc(h.approvers(res), func(n string) bool { return n == req.Person.Name })
	if len(others) < res.Approvals {
		who := "nobody"
		switch len(others) {
		case 0:
		case 1:
			who = "only 1 person"
		default:
			who = fmt.Sprintf("only %d people", len(others))
		}
		return bot.Reply{}, bot.Errorf("%s needs %s but %s other than you can approve; ask an admin to add approvers.",
			res.Name, plural(res.Approvals, "approval"), who)
	}
	var r *storage.AccessRequest
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		got, existing, err := h.open(ctx, tx, req, req.Person, res, role, d, reason, others)
		if existing {
			return bot.Errorf("You already have #%d for %s, %s; see /access show %d.",
				got.ID, named(res.Name, role), stateText(got.State), got.ID)
		}
		r = got
		return err
	})
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Title: fmt.Sprintf("Requested #%d: %s for %s", r.ID, named(res.Name, role), bot.FormatDuration(d)),
		Text: fmt.Sprintf("Waiting for %s from %s. You will hear back here; /access show %d shows progress.",
			plural(res.Approvals, "approval"), mentions(others), r.ID), Severity: bot.SeverityInfo}, nil
}

// open stores a pending request of who for res and asks its approvers
// (others), in tx with its audit entry; req names who asked. When who
// already has an open request for the resource and role, it returns that
// one and existing is true.
func (h *Handler) open(ctx context.Context, tx *gorm.DB, req *bot.Request, who bot.Person, res config.Resource, role string,
	d time.Duration, reason string, others []string) (r *storage.AccessRequest, existing bool, err error) {
	now := h.clock.Now()
	r = &storage.AccessRequest{Resource: res.Name, Role: role, Requester: who.Name, Email: who.Email,
		SlackID: who.SlackID, DiscordID: who.DiscordID, Reason: reason, Channel: h.cfg.RouteChannel(res.Channel, res.Team),
		Duration: d, State: storage.AccessPending, ApprovalsNeeded: res.Approvals,
		PendingUntil: now.Add(time.Duration(h.cfg.Access.PendingTTL)), CreatedAt: now, UpdatedAt: now}
	open, err := storage.ListAccessRequests(ctx, tx, storage.AccessFilter{Requester: r.Requester,
		Resources: []string{res.Name}, States: openStates})
	if err != nil {
		return nil, false, err
	}
	for _, o := range open {
		if o.Role == role {
			return &o, true, nil
		}
	}
	if err := storage.CreateAccessRequest(tx, r); err != nil {
		return nil, false, err
	}
	detail := fmt.Sprintf("role=%s for=%s reason=%q", role, bot.FormatDuration(d), reason)
	if who.Name != req.Person.Name {
		detail += " requester=" + who.Name
	}
	if err := storage.WriteAudit(tx, handlers.Audit(req, "access.request", subject(r), detail)); err != nil {
		return nil, false, err
	}
	var ns []notify.Notification
	if r.Channel != "" {
		ns = append(ns, notify.Notification{Key: postKey(r.ID), To: notify.Destination{Channel: r.Channel}, Reply: h.card(r, nil)})
	}
	ask := h.card(r, nil)
	ask.Text = fmt.Sprintf("%s asks for %s for %s. You can approve it.", mention(r.Requester), grantOf(role, res.Name), bot.FormatDuration(d))
	for _, a := range others {
		ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:r0:ask:%s", r.ID, a), To: notify.Destination{Person: a}, Reply: ask})
	}
	return r, false, h.enqueue(tx, ns...)
}

// RequestFor asks for role on resource for d on behalf of who, inside tx,
// through the resource's normal approvals; req names who asks (onboarding).
// An open request of who for the same resource and role is returned
// instead of a second one. Problems with the request are user-safe errors.
func (h *Handler) RequestFor(ctx context.Context, tx *gorm.DB, req *bot.Request, who bot.Person, resource, role string,
	d time.Duration, reason string) (int64, error) {
	res, ok := h.cfg.Resource(resource)
	if !ok {
		return 0, bot.Errorf("there is no resource %q under access.resources", resource)
	}
	if (role == "") != (len(res.Roles) == 0) || (role != "" && !slices.Contains(res.Roles, role)) {
		return 0, bot.Errorf("%s has no role %q", res.Name, role)
	}
	if d <= 0 || d > time.Duration(res.MaxDuration) {
		return 0, bot.Errorf("%s for %s is not between 1s and its max_duration %s", res.Name, bot.FormatDuration(d), bot.FormatDuration(time.Duration(res.MaxDuration)))
	}
	others := slices.DeleteFunc(h.approvers(res), func(n string) bool { return n == who.Name })
	if len(others) < res.Approvals {
		return 0, bot.Errorf("%s needs %s but only %d people other than %s can approve", res.Name, plural(res.Approvals, "approval"), len(others), who.Name)
	}
	r, _, err := h.open(ctx, tx, req, who, res, role, d, reason, others)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// openStates are the states of a request that is not finished.
var openStates = []string{storage.AccessPending, storage.AccessGranting, storage.AccessGrantFailed, storage.AccessAwaitingManual,
	storage.AccessActive, storage.AccessRevoking, storage.AccessRevokeFailed, storage.AccessManualRevoke}

// activeStates hold access, or might.
var activeStates = []string{storage.AccessGranting, storage.AccessGrantFailed, storage.AccessAwaitingManual,
	storage.AccessActive, storage.AccessRevoking, storage.AccessRevokeFailed, storage.AccessManualRevoke}

func (h *Handler) approve(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	note := strings.TrimSpace(req.String("note"))
	if n := len([]rune(note)); n > maxNote {
		return bot.Reply{}, bot.Errorf("The note is %d characters long; keep it under %d.", n, maxNote)
	}
	var reply bot.Reply
	runGrant := false
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		r, err := h.load(ctx, tx, id, req.Person, true)
		if err != nil {
			return err
		}
		res, err := h.configured(r)
		if err != nil {
			return err
		}
		now := h.clock.Now()
		ext := r.State == storage.AccessActive && r.ExtendUntil != nil
		switch {
		case r.State == storage.AccessPending && !now.Before(r.PendingUntil),
			ext && !now.Before(*r.ExtendUntil):
			return bot.Errorf("#%d waited too long for approval and has expired; the requester can ask again.", id)
		case r.State == storage.AccessAwaitingManual:
			return bot.Errorf("#%d is approved and waits for the manual grant; once done, type /access done %d.", id, id)
		case r.State != storage.AccessPending && !ext:
			return bot.Errorf("#%d is %s; there is nothing to approve.", id, stateText(r.State))
		}
		if r.Requester == req.Person.Name {
			return bot.Forbiddenf("You cannot approve your own request #%d; another approver has to.", id)
		}
		if !canApprove(res, req.Person) {
			return bot.Forbiddenf("You are not an approver for %s (%s).", res.Name, approverText(res))
		}
		err = storage.AddAccessApproval(tx, &storage.AccessApproval{RequestID: r.ID, Round: r.Round, Approver: req.Person.Name, Note: note, At: now})
		if errors.Is(err, storage.ErrDuplicate) {
			return bot.Errorf("You have already approved #%d; it needs approval from someone else.", id)
		}
		if err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "access.approve", subject(r), fmt.Sprintf("round=%d note=%q", r.Round, note))); err != nil {
			return err
		}
		approvals, err := storage.AccessApprovals(tx, r.ID, r.Round)
		if err != nil {
			return err
		}
		var ns []notify.Notification
		switch {
		case len(approvals) < r.ApprovalsNeeded:
			reply = bot.Reply{Text: fmt.Sprintf("Approved #%d (%d of %d). Waiting for %s from someone else.", id,
				len(approvals), r.ApprovalsNeeded, plural(r.ApprovalsNeeded-len(approvals), "more approval")), Severity: bot.SeverityInfo}
		case ext:
			*r.ExpiresAt = r.ExpiresAt.Add(r.ExtendFor)
			added := r.ExtendFor
			r.ExtendFor, r.ExtendUntil, r.Warned = 0, nil, false
			if err := storage.WriteAudit(tx, systemAudit(now, "access.extended", subject(r), fmt.Sprintf("by=%s until=%s", bot.FormatDuration(added), stamp(*r.ExpiresAt)))); err != nil {
				return err
			}
			ns = append(ns, h.tell(r, "extended", bot.Reply{Title: fmt.Sprintf("Extended #%d: %s", r.ID, named(r.Resource, r.Role)),
				Text: fmt.Sprintf("Your access now lasts until %s.", stamp(*r.ExpiresAt)), Severity: bot.SeveritySuccess}))
			reply = bot.Reply{Text: fmt.Sprintf("Approved the extension of #%d; it now ends %s.", id, stamp(*r.ExpiresAt)), Severity: bot.SeveritySuccess}
		default:
			r.State, r.Attempts, r.NextAttemptAt = storage.AccessGranting, 0, &now
			runGrant = true
			if err := storage.WriteAudit(tx, systemAudit(now, "access.approved", subject(r), "approvers="+strings.Join(approverNames(approvals), ","))); err != nil {
				return err
			}
		}
		r.UpdatedAt = now
		if err := storage.SaveAccessRequest(tx, r); err != nil {
			return err
		}
		ns = append(ns, h.edit(r, approvals))
		return h.enqueue(tx, ns...)
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if runGrant {
		if err := h.process(ctx, id); err != nil {
			h.log.Error("grant after approval", "id", id, "err", err)
		}
		r, err := storage.GetAccessRequest(h.store.DB.WithContext(ctx), id)
		if err != nil {
			return bot.Reply{}, fmt.Errorf("reload access request %d: %w", id, err)
		}
		text := fmt.Sprintf("Approved #%d. %s", id, outcomeText(r))
		if outcome := outcomeText(r); strings.HasPrefix(outcome, "Approved") {
			text = fmt.Sprintf("#%d: %s", id, outcome) // not "Approved #1. Approved, but…"
		}
		reply = bot.Reply{Text: text, Severity: severity(r.State)}
	}
	return reply, nil
}

func (h *Handler) deny(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	reason := strings.TrimSpace(req.String("reason"))
	if reason == "" {
		return bot.Reply{}, bot.Errorf(`Say why: /access deny %d --reason "why not".`, id)
	}
	if n := len([]rune(reason)); n > maxReason {
		return bot.Reply{}, bot.Errorf("The reason is %d characters long; keep it under %d.", n, maxReason)
	}
	var reply bot.Reply
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		r, err := h.load(ctx, tx, id, req.Person, true)
		if err != nil {
			return err
		}
		res, err := h.configured(r)
		if err != nil {
			return err
		}
		ext := r.State == storage.AccessActive && r.ExtendUntil != nil
		if r.State != storage.AccessPending && !ext {
			return bot.Errorf("#%d is %s; only a pending request or extension can be denied.", id, stateText(r.State))
		}
		if r.Requester == req.Person.Name {
			return bot.Forbiddenf("You cannot decide on your own request #%d; to withdraw it, type /access revoke %d.", id, id)
		}
		if !canApprove(res, req.Person) {
			return bot.Forbiddenf("You are not an approver for %s (%s).", res.Name, approverText(res))
		}
		now := h.clock.Now()
		var told bot.Reply
		if ext {
			r.ExtendFor, r.ExtendUntil = 0, nil
			told = bot.Reply{Title: fmt.Sprintf("Extension of #%d denied", r.ID), Severity: bot.SeverityWarning,
				Text: fmt.Sprintf("%s denied more time on %s: %s. Your access still ends %s.", req.Person.Mention(), r.Resource, reason, stamp(*r.ExpiresAt))}
			reply = bot.Reply{Text: fmt.Sprintf("Denied the extension of #%d.", id)}
		} else {
			r.State, r.ClosedAt, r.ClosedBy, r.CloseReason = storage.AccessDenied, &now, req.Person.Name, reason
			told = bot.Reply{Title: fmt.Sprintf("Access request #%d denied", r.ID), Severity: bot.SeverityWarning,
				Text: fmt.Sprintf("%s denied %s: %s", req.Person.Mention(), grantOf(r.Role, r.Resource), reason)}
			reply = bot.Reply{Text: fmt.Sprintf("Denied #%d; %s has been told.", id, mention(r.Requester))}
		}
		return h.save(tx, r, now, handlers.Audit(req, "access.deny", subject(r), fmt.Sprintf("round=%d reason=%q", r.Round, reason)), "denied", told)
	})
	return reply, err
}

func (h *Handler) revoke(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	var reply bot.Reply
	run := false
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		r, err := h.load(ctx, tx, id, req.Person, true)
		if err != nil {
			return err
		}
		res, known := h.cfg.Resource(r.Resource)
		if r.Requester != req.Person.Name && !req.Person.HasRole("admin") && !(known && canApprove(res, req.Person)) {
			return bot.Forbiddenf("Only %s, an approver of %s or an admin can revoke #%d.", mention(r.Requester), r.Resource, id)
		}
		now := h.clock.Now()
		action := "access.revoke_requested"
		switch r.State {
		case storage.AccessPending:
			if r.Requester != req.Person.Name {
				return bot.Forbiddenf(`#%d is waiting for approval and only %s can withdraw it; to turn it down, type /access deny %d --reason "why".`,
					id, mention(r.Requester), id)
			}
			r.State, r.ClosedAt, r.ClosedBy, r.CloseReason = storage.AccessCancelled, &now, req.Person.Name, "withdrawn"
			action = "access.cancel"
			reply = bot.Reply{Text: fmt.Sprintf("Withdrew #%d; nothing was granted.", id)}
		case storage.AccessGranting, storage.AccessGrantFailed:
			if r.ClaimedUntil != nil && now.Before(*r.ClaimedUntil) {
				return bot.Errorf("The grant of #%d is running right now; try /access revoke %d again in a minute.", id, id)
			}
			fallthrough
		case storage.AccessActive, storage.AccessAwaitingManual:
			r.State, r.Attempts, r.NextAttemptAt, r.LastError = storage.AccessRevoking, 0, &now, ""
			r.ClosedBy, r.CloseReason, r.ExtendFor, r.ExtendUntil = req.Person.Name, "revoked by "+req.Person.Mention(), 0, nil
			run = true
		case storage.AccessRevoking, storage.AccessRevokeFailed, storage.AccessManualRevoke:
			return bot.Errorf("#%d is already being revoked (%s); /access show %d has the details.", id, stateText(r.State), id)
		default:
			return bot.Errorf("#%d is %s; there is nothing to revoke.", id, stateText(r.State))
		}
		return h.save(tx, r, now, handlers.Audit(req, action, subject(r), "state="+r.State), "", bot.Reply{})
	})
	if err != nil || !run {
		return reply, err
	}
	if err := h.process(ctx, id); err != nil {
		h.log.Error("revoke", "id", id, "err", err)
	}
	r, err := storage.GetAccessRequest(h.store.DB.WithContext(ctx), id)
	if err != nil {
		return bot.Reply{}, fmt.Errorf("reload access request %d: %w", id, err)
	}
	return bot.Reply{Text: fmt.Sprintf("#%d: %s", id, outcomeText(r)), Severity: severity(r.State)}, nil
}

func (h *Handler) extend(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	d := req.Duration("for")
	var reply bot.Reply
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		r, err := h.load(ctx, tx, id, req.Person, true)
		if err != nil {
			return err
		}
		if r.Requester != req.Person.Name {
			return bot.Forbiddenf("Only %s can ask to extend #%d.", mention(r.Requester), id)
		}
		res, err := h.configured(r)
		if err != nil {
			return err
		}
		if r.State != storage.AccessActive {
			return bot.Errorf("#%d is %s; only active access can be extended. Ask anew with /access request %s.", id, stateText(r.State), r.Resource)
		}
		if r.ExtendUntil != nil {
			return bot.Errorf("#%d already has an extension of %s waiting for approval.", id, bot.FormatDuration(r.ExtendFor))
		}
		if max := time.Duration(res.MaxDuration); d > max {
			return bot.Errorf("--for %s is longer than %s allows; the maximum is %s. Try --for %s.",
				bot.FormatDuration(d), res.Name, bot.FormatDuration(max), bot.FormatDuration(max))
		}
		now := h.clock.Now()
		until := now.Add(time.Duration(h.cfg.Access.PendingTTL))
		r.Round++
		r.ExtendFor, r.ExtendUntil, r.UpdatedAt = d, &until, now
		if err := storage.SaveAccessRequest(tx, r); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "access.extend", subject(r), fmt.Sprintf("round=%d for=%s", r.Round, bot.FormatDuration(d)))); err != nil {
			return err
		}
		approvals, err := storage.AccessApprovals(tx, r.ID, 0)
		if err != nil {
			return err
		}
		ask := h.card(r, approvals)
		ask.Text = fmt.Sprintf("%s asks for %s more on %s. You can approve it.", mention(r.Requester), bot.FormatDuration(d), named(r.Resource, r.Role))
		ns := []notify.Notification{h.edit(r, approvals)}
		others := slices.DeleteFunc(h.approvers(res), func(n string) bool { return n == r.Requester })
		for _, a := range others {
			ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:r%d:ask:%s", r.ID, r.Round, a), To: notify.Destination{Person: a}, Reply: ask})
		}
		if r.Channel != "" {
			ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:r%d:ask", r.ID, r.Round), To: notify.Destination{Channel: r.Channel}, Reply: ask, Thread: postKey(r.ID)})
		}
		reply = bot.Reply{Text: fmt.Sprintf("Asked for %s more on #%d; waiting for %s from %s.", bot.FormatDuration(d), id,
			plural(r.ApprovalsNeeded, "approval"), mentions(others)), Severity: bot.SeverityInfo}
		return h.enqueue(tx, ns...)
	})
	return reply, err
}

func (h *Handler) done(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("id")
	var reply bot.Reply
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		r, err := h.load(ctx, tx, id, req.Person, true)
		if err != nil {
			return err
		}
		res, err := h.configured(r)
		if err != nil {
			return err
		}
		if !canApprove(res, req.Person) || r.Requester == req.Person.Name {
			return bot.Forbiddenf("Only an approver of %s other than the requester can confirm #%d (%s).", res.Name, id, approverText(res))
		}
		now := h.clock.Now()
		var told bot.Reply
		var act string
		switch r.State {
		case storage.AccessAwaitingManual:
			exp := now.Add(r.Duration)
			r.State, r.GrantedAt, r.ExpiresAt = storage.AccessActive, &now, &exp
			act = "access.grant"
			told = grantedReply(r)
			reply = bot.Reply{Text: fmt.Sprintf("Marked #%d granted; it will be revoked %s.", id, stamp(exp)), Severity: bot.SeveritySuccess}
		case storage.AccessManualRevoke:
			r.State, r.ClosedAt = finalRevokeState(r), &now
			act = "access.revoke"
			told = revokedReply(r)
			reply = bot.Reply{Text: fmt.Sprintf("Marked #%d revoked.", id), Severity: bot.SeveritySuccess}
		default:
			return bot.Errorf("#%d is %s; /access done is for a grant or revoke done by hand.", id, stateText(r.State))
		}
		return h.save(tx, r, now, handlers.Audit(req, act, subject(r), "manual; state="+r.State), "done", told)
	})
	return reply, err
}

// configured is the request's resource, which must still be configured for
// decisions on it.
func (h *Handler) configured(r *storage.AccessRequest) (config.Resource, error) {
	res, ok := h.cfg.Resource(r.Resource)
	if !ok {
		return config.Resource{}, bot.Errorf("%s is no longer configured, so #%d cannot be changed from chat; ask an admin.", r.Resource, r.ID)
	}
	return res, nil
}

func subject(r *storage.AccessRequest) string { return fmt.Sprintf("access:%s:%d", r.Resource, r.ID) }

func postKey(id int64) string { return fmt.Sprintf("access:%d:post", id) }

// edit is the channel message of r, edited to show its state now.
func (h *Handler) edit(r *storage.AccessRequest, approvals []storage.AccessApproval) notify.Notification {
	if r.Channel == "" {
		return notify.Notification{}
	}
	return notify.Notification{Key: fmt.Sprintf("access:%d:card:%d", r.ID, r.Seq), To: notify.Destination{Channel: r.Channel},
		Reply: h.card(r, approvals), Updates: postKey(r.ID)}
}

// tell is a direct message to the requester about r.
func (h *Handler) tell(r *storage.AccessRequest, what string, reply bot.Reply) notify.Notification {
	return notify.Notification{Key: fmt.Sprintf("access:%d:%s:%d", r.ID, what, r.Seq), To: notify.Destination{Person: r.Requester}, Reply: reply}
}

func systemAudit(at time.Time, action, subj, detail string) storage.AuditEntry {
	return storage.AuditEntry{At: at, Actor: system, Platform: "system", Action: action, Subject: subj, Detail: detail}
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// completeResource suggests configured resources whose name contains what
// was typed, for type-ahead menus.
func (h *Handler) completeResource(_ context.Context, _ bot.Person, prefix string) []bot.Choice {
	prefix = strings.ToLower(prefix)
	var out []bot.Choice
	for _, r := range h.cfg.Access.Resources {
		if strings.Contains(strings.ToLower(r.Name), prefix) && len(out) < 25 {
			out = append(out, bot.Choice{Label: r.Name, Value: r.Name})
		}
	}
	return out
}

// RevokeAllOf takes every access of person away inside tx, for
// offboarding: requests waiting for approval are withdrawn; granted ones
// (and grants that may have happened) go to revoking, where the worker runs
// the resource's revoke action and retries it until it succeeds (a manual
// revoke waits for /access done). A grant running right now is left for the
// next call. It returns the ids of the requests whose revoke is under way.
func (h *Handler) RevokeAllOf(ctx context.Context, tx *gorm.DB, req *bot.Request, person, why string) ([]int64, error) {
	rs, err := storage.ListAccessRequests(ctx, tx, storage.AccessFilter{Requester: person, States: openStates})
	if err != nil {
		return nil, err
	}
	now := h.clock.Now()
	var ids []int64
	for i := range rs {
		r := &rs[i]
		action := "access.revoke_requested"
		switch r.State {
		case storage.AccessPending:
			r.State, r.ClosedAt, r.ClosedBy, r.CloseReason = storage.AccessCancelled, &now, req.Person.Name, why
			action = "access.cancel"
		case storage.AccessGranting, storage.AccessGrantFailed:
			if r.ClaimedUntil != nil && now.Before(*r.ClaimedUntil) {
				continue
			}
			fallthrough
		case storage.AccessActive, storage.AccessAwaitingManual:
			r.State, r.Attempts, r.NextAttemptAt, r.LastError = storage.AccessRevoking, 0, &now, ""
			r.ClosedBy, r.CloseReason, r.ExtendFor, r.ExtendUntil = req.Person.Name, why, 0, nil
			ids = append(ids, r.ID)
		default: // being revoked already
			ids = append(ids, r.ID)
			continue
		}
		if err := h.save(tx, r, now, handlers.Audit(req, action, subject(r), "state="+r.State+" reason="+why), "", bot.Reply{}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
