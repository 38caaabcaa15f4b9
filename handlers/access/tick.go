package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers/access/action"
	"opsbot/notify"
	"opsbot/storage"
)

// leaseMargin is added to an action's timeout for its lease: a process that
// crashed mid-action loses the lease after this, and the action runs again.
const leaseMargin = time.Minute

// backoff is the wait before retry number attempts+1 of a failed action.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < 15*time.Minute; i++ {
		d *= 2
	}
	return min(d, 15*time.Minute)
}

// Run does a pass every Interval until ctx ends. It does not wait for the
// actions a pass starts: a hung action holds up only itself (and one of the
// access.max_concurrent_actions slots) while later passes go on. Once ctx
// ends, Run waits for the actions still running; they see ctx cancelled and
// leave their lease to run out, so they are retried.
func (h *Handler) Run(ctx context.Context) error {
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	defer h.running.Wait()
	for {
		done, err := h.Dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			h.log.Error("access tick", "err", err)
		}
		h.running.Add(1)
		go func() {
			defer h.running.Done()
			for r := range done {
				if r.Err != nil && ctx.Err() == nil {
					h.log.Error("access action", "id", r.ID, "err", r.Err)
				}
			}
		}()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick does one pass at the clock's time, as Dispatch does, and waits for
// the actions it started.
func (h *Handler) Tick(ctx context.Context) error {
	done, err := h.Dispatch(ctx)
	errs := []error{err}
	for r := range done {
		errs = append(errs, r.Err)
	}
	return errors.Join(errs...)
}

// ActionResult is how one grant or revoke action started by Dispatch ended:
// Err is a failure to run or record it (a failing action is recorded, with
// its retry, and is not an error here).
type ActionResult struct {
	ID  int64
	Err error
}

// Dispatch does one pass at the clock's time: it expires requests nobody
// decided on, warns holders whose access ends soon, starts the revoke of
// grants whose time is up, and starts every grant or revoke action that is
// due (first tries, retries and actions a crashed process left behind).
// The actions run in the background, at most access.max_concurrent_actions
// at once in this process, each within its own timeout; an action still
// running from an earlier pass is not started again. Each outcome is sent on
// the returned channel, which is closed once all of them have finished.
// Several processes may call it at once: each change re-checks the row
// under its lock, and each action is leased to one process.
func (h *Handler) Dispatch(ctx context.Context) (<-chan ActionResult, error) {
	errs := h.sweeps(ctx)
	ids, err := storage.DueAccessActions(ctx, h.store.DB, h.clock.Now())
	if err != nil {
		errs = append(errs, err)
	}
	return h.start(ctx, h.reserve(ids)), errors.Join(errs...)
}

// reserve marks ids as running in this process and returns those that were
// not already.
func (h *Handler) reserve(ids []int64) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	for _, id := range ids {
		if _, ok := h.busy[id]; !ok {
			h.busy[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

func (h *Handler) unreserve(ids ...int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		delete(h.busy, id)
	}
}

// start runs the actions of ids, reserved by reserve, in id order as slots
// free up, and reports each on the returned channel.
func (h *Handler) start(ctx context.Context, ids []int64) <-chan ActionResult {
	out := make(chan ActionResult, len(ids))
	if len(ids) == 0 {
		close(out)
		return out
	}
	h.running.Add(1)
	go func() {
		defer h.running.Done()
		var wg sync.WaitGroup
		defer func() {
			wg.Wait()
			close(out)
		}()
		for i, id := range ids {
			if ctx.Err() != nil {
				h.unreserve(ids[i:]...)
				return
			}
			select {
			case h.slots <- struct{}{}:
			case <-ctx.Done():
				h.unreserve(ids[i:]...)
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := h.process(ctx, id)
				<-h.slots
				h.unreserve(id)
				if err != nil {
					err = fmt.Errorf("action #%d: %w", id, err)
				}
				out <- ActionResult{ID: id, Err: err}
			}()
		}
	}()
	return out
}

// sweeps move requests on by time: pending requests and extensions nobody
// decided on expire, holders are warned, grants whose time is up start their
// revoke, and approvers get their daily digest.
func (h *Handler) sweeps(ctx context.Context) []error {
	now := h.clock.Now()
	var errs []error
	sweep := func(what, query string, args []any, fn func(tx *gorm.DB, r *storage.AccessRequest) error) {
		ids, err := storage.AccessIDsWhere(ctx, h.store.DB, query, args...)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, id := range ids {
			err := h.store.Tx(ctx, func(tx *gorm.DB) error {
				r, err := storage.LockAccessRequest(tx, id)
				if err != nil {
					return err
				}
				return fn(tx, r)
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s #%d: %w", what, id, err))
			}
		}
	}
	sweep("expire pending", "state = ? AND pending_until <= ?", []any{storage.AccessPending, now},
		func(tx *gorm.DB, r *storage.AccessRequest) error {
			if r.State != storage.AccessPending || now.Before(r.PendingUntil) {
				return nil
			}
			r.State, r.ClosedAt, r.ClosedBy, r.CloseReason = storage.AccessExpired, &now, system, "nobody decided in time"
			return h.save(tx, r, now, systemAudit(now, "access.expire_pending", subject(r), "no decision within pending_ttl"), "expired", bot.Reply{
				Title: fmt.Sprintf("Access request #%d expired", r.ID), Severity: bot.SeverityWarning,
				Text: fmt.Sprintf("Nobody decided on %s in time. Ask again with /access request %s if you still need it.", grantOf(r.Role, r.Resource), r.Resource)})
		})
	sweep("expire extension", "state = ? AND extend_until <= ?", []any{storage.AccessActive, now},
		func(tx *gorm.DB, r *storage.AccessRequest) error {
			if r.State != storage.AccessActive || r.ExtendUntil == nil || now.Before(*r.ExtendUntil) {
				return nil
			}
			r.ExtendFor, r.ExtendUntil = 0, nil
			return h.save(tx, r, now, systemAudit(now, "access.expire_extension", subject(r), fmt.Sprintf("round=%d", r.Round)), "extension-expired", bot.Reply{
				Title: fmt.Sprintf("Extension of #%d expired", r.ID), Severity: bot.SeverityWarning,
				Text: fmt.Sprintf("Nobody approved more time in time; your access to %s still ends %s.", r.Resource, stamp(*r.ExpiresAt))})
		})
	warn := time.Duration(h.cfg.Access.WarnBefore)
	if warn > 0 {
		sweep("warn", "state = ? AND warned = ? AND expires_at <= ? AND expires_at > ?", []any{storage.AccessActive, false, now.Add(warn), now},
			func(tx *gorm.DB, r *storage.AccessRequest) error {
				if r.State != storage.AccessActive || r.Warned || r.ExpiresAt == nil || r.ExpiresAt.After(now.Add(warn)) {
					return nil
				}
				r.Warned = true
				r.UpdatedAt = now
				if err := storage.SaveAccessRequest(tx, r); err != nil {
					return err
				}
				return h.enqueue(tx, h.tell(r, "warn", bot.Reply{Title: fmt.Sprintf("Your access #%d ends soon", r.ID), Severity: bot.SeverityWarning,
					Text:    fmt.Sprintf("%s will be revoked %s.", named(r.Resource, r.Role), stamp(*r.ExpiresAt)),
					Buttons: []bot.Button{h.extendButton(r)}}))
			})
	}
	sweep("expire grant", "state = ? AND expires_at <= ?", []any{storage.AccessActive, now},
		func(tx *gorm.DB, r *storage.AccessRequest) error {
			if r.State != storage.AccessActive || r.ExpiresAt == nil || r.ExpiresAt.After(now) {
				return nil
			}
			r.State, r.Attempts, r.NextAttemptAt = storage.AccessRevoking, 0, &now
			r.ClosedBy, r.CloseReason, r.ExtendFor, r.ExtendUntil = system, "time is up", 0, nil
			return h.save(tx, r, now, systemAudit(now, "access.expire", subject(r), "grant time is up; revoking"), "", bot.Reply{})
		})
	if err := h.digest(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// save writes r, its audit entry, the edited channel message and, when told
// has a title, a message to the requester.
func (h *Handler) save(tx *gorm.DB, r *storage.AccessRequest, now time.Time, audit storage.AuditEntry, what string, told bot.Reply) error {
	r.UpdatedAt = now
	if err := storage.SaveAccessRequest(tx, r); err != nil {
		return err
	}
	if err := storage.WriteAudit(tx, audit); err != nil {
		return err
	}
	approvals, err := storage.AccessApprovals(tx, r.ID, 0)
	if err != nil {
		return err
	}
	ns := []notify.Notification{h.edit(r, approvals)}
	if told.Title != "" {
		ns = append(ns, h.tell(r, what, told))
	}
	return h.enqueue(tx, ns...)
}

// enqueue writes the notifications that have a destination.
func (h *Handler) enqueue(tx *gorm.DB, ns ...notify.Notification) error {
	var out []notify.Notification
	for _, n := range ns {
		if n.Key != "" {
			out = append(out, n)
		}
	}
	return h.out.Enqueue(tx, out...)
}

// process runs the due grant or revoke action of request id if this process
// can lease it. The lease is taken before the action runs, so a crash leaves
// the request in granting/revoking to be retried once the lease runs out;
// the action itself runs outside any transaction.
func (h *Handler) process(ctx context.Context, id int64) error {
	r, err := storage.GetAccessRequest(h.store.DB.WithContext(ctx), id)
	if err != nil {
		return fmt.Errorf("load access request %d: %w", id, err)
	}
	res, known := h.cfg.Resource(r.Resource)
	granting := r.State == storage.AccessGranting || r.State == storage.AccessGrantFailed
	act := res.Revoke
	if granting {
		act = res.Grant
	}
	now := h.clock.Now()
	token := newToken()
	// The claim is a write of scheduled work like the outcome: a leader whose
	// term has ended cannot take an action it would not be allowed to record.
	var ok bool
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		ok, err = storage.ClaimAccessAction(ctx, tx, id, now, now.Add(time.Duration(act.Timeout)+leaseMargin), token)
		return err
	})
	if err != nil || !ok {
		return err
	}
	// Read it again: the claim may have raced with a change.
	if r, err = storage.GetAccessRequest(h.store.DB.WithContext(ctx), id); err != nil {
		return fmt.Errorf("load access request %d: %w", id, err)
	}
	if (r.State == storage.AccessGranting || r.State == storage.AccessGrantFailed) != granting {
		return h.release(ctx, id, token)
	}
	approvals, err := storage.AccessApprovals(h.store.DB.WithContext(ctx), id, 0)
	if err != nil {
		return err
	}
	f := action.Fields{Action: "revoke", RequestID: r.ID, Resource: r.Resource, Role: r.Role, User: r.Requester,
		Email: r.Email, SlackID: r.SlackID, DiscordID: r.DiscordID, Reason: r.Reason,
		Approvers: approverNames(approvals), Attempt: r.Attempts + 1}
	if granting {
		f.Action = "grant"
		f.ExpiresAt = now.Add(r.Duration)
	} else if r.ExpiresAt != nil {
		f.ExpiresAt = *r.ExpiresAt
	}
	var runErr error
	if !known {
		runErr = fmt.Errorf("resource %s is no longer configured; %s it by hand and restore its config entry", r.Resource, f.Action)
	} else {
		runErr = h.runner.Run(ctx, act, f)
	}
	if ctx.Err() != nil {
		// Shutting down: leave the lease to run out so the action is retried.
		return ctx.Err()
	}
	return h.store.Tx(context.WithoutCancel(ctx), func(tx *gorm.DB) error {
		r, err := storage.LockAccessRequest(tx, id)
		if err != nil {
			return err
		}
		if r.ClaimedBy != token {
			h.log.Warn("access action finished after its lease was taken over", "id", id, "action", f.Action)
			return nil
		}
		done := h.clock.Now()
		r.ClaimedBy, r.ClaimedUntil, r.UpdatedAt = "", nil, done
		return h.finish(tx, r, f, runErr, done, approvals)
	})
}

// release gives back a lease without acting.
func (h *Handler) release(ctx context.Context, id int64, token string) error {
	return h.store.DB.WithContext(ctx).Model(&storage.AccessRequest{}).Where("id = ? AND claimed_by = ?", id, token).
		Updates(map[string]any{"claimed_by": "", "claimed_until": nil}).Error
}

// finish records the outcome of an action on r, locked in tx.
func (h *Handler) finish(tx *gorm.DB, r *storage.AccessRequest, f action.Fields, runErr error, now time.Time, approvals []storage.AccessApproval) error {
	var ns []notify.Notification
	var act, detail string
	loud := func(title, text string, sev bot.Severity, buttons ...bot.Button) {
		if r.Channel == "" {
			// No channel: the approvers hear it directly.
			if res, ok := h.cfg.Resource(r.Resource); ok {
				for _, a := range h.approvers(res) {
					ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:alert:%d:%s", r.ID, r.Seq, a), To: notify.Destination{Person: a},
						Reply: bot.Reply{Title: title, Text: text, Severity: sev, Buttons: buttons}})
				}
			}
			return
		}
		ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:alert:%d", r.ID, r.Seq), To: notify.Destination{Channel: r.Channel},
			Reply: bot.Reply{Title: title, Text: text, Severity: sev, InChannel: true,
				Buttons: append(buttons, bot.Button{Label: "Show", Command: fmt.Sprintf("/access show %d", r.ID)})}, Thread: postKey(r.ID)})
	}
	switch {
	case f.Action == "grant" && runErr == nil:
		exp := f.ExpiresAt
		r.State, r.GrantedAt, r.ExpiresAt, r.Attempts, r.NextAttemptAt, r.LastError = storage.AccessActive, &now, &exp, 0, nil, ""
		act, detail = "access.grant", "until="+stamp(exp)
		ns = append(ns, h.tell(r, "granted", grantedReply(r)))
	case f.Action == "grant" && errors.Is(runErr, action.ErrManual):
		r.State, r.NextAttemptAt = storage.AccessAwaitingManual, nil
		act, detail = "access.grant_manual", "waiting for an approver to grant by hand"
		if r.Channel != "" {
			ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:%d:manual:%d", r.ID, r.Seq), To: notify.Destination{Channel: r.Channel},
				Thread: postKey(r.ID), Reply: bot.Reply{Title: fmt.Sprintf("Grant #%d by hand", r.ID), Severity: bot.SeverityWarning,
					Text:    fmt.Sprintf("Give %s %s, then confirm.", mention(r.Requester), grantOf(r.Role, r.Resource)),
					Buttons: []bot.Button{{Label: "Done", Command: fmt.Sprintf("/access done %d", r.ID), Style: bot.ButtonPrimary}}}})
		}
	case f.Action == "grant":
		r.Attempts++
		r.LastError = runErr.Error()
		act, detail = "access.grant_failed", fmt.Sprintf("attempt=%d error=%q", r.Attempts, r.LastError)
		if r.Attempts >= maxGrantAttempts {
			r.State, r.GaveUp, r.Attempts, r.NextAttemptAt = storage.AccessRevoking, true, 0, &now
			r.ClosedBy, r.CloseReason = system, "grant failed"
			loud(fmt.Sprintf("Grant of #%d failed %d times; giving up", r.ID, maxGrantAttempts),
				fmt.Sprintf("%s for %s: %s. Running the revoke action to clean up any partial access.", grantOf(r.Role, r.Resource), mention(r.Requester), r.LastError), bot.SeverityDanger)
			ns = append(ns, h.tell(r, "grant-failed", bot.Reply{Title: fmt.Sprintf("Access #%d could not be granted", r.ID), Severity: bot.SeverityDanger,
				Text: fmt.Sprintf("Granting %s failed; the approvers have been told. Ask again later.", grantOf(r.Role, r.Resource))}))
		} else {
			next := now.Add(backoff(r.Attempts))
			r.State, r.NextAttemptAt = storage.AccessGrantFailed, &next
			loud(fmt.Sprintf("Grant of #%d failed (attempt %d of %d)", r.ID, r.Attempts, maxGrantAttempts),
				fmt.Sprintf("%s for %s: %s. Retrying %s.", grantOf(r.Role, r.Resource), mention(r.Requester), r.LastError, stamp(next)), bot.SeverityDanger)
		}
	case runErr == nil:
		if r.Attempts > 0 {
			loud(fmt.Sprintf("Revoke of #%d succeeded", r.ID), fmt.Sprintf("After %s, %s no longer has %s.", plural(r.Attempts, "failed attempt"), mention(r.Requester), grantOf(r.Role, r.Resource)), bot.SeveritySuccess)
		}
		r.State, r.ClosedAt, r.Attempts, r.NextAttemptAt, r.LastError = finalRevokeState(r), &now, 0, nil, ""
		act, detail = "access.revoke", "reason="+r.CloseReason
		ns = append(ns, h.tell(r, "revoked", revokedReply(r)))
	case errors.Is(runErr, action.ErrManual):
		r.State, r.NextAttemptAt = storage.AccessManualRevoke, nil
		act, detail = "access.revoke_manual", "waiting for an approver to revoke by hand"
		loud(fmt.Sprintf("Revoke #%d by hand now", r.ID),
			fmt.Sprintf("Take %s away from %s, then type /access done %d.", grantOf(r.Role, r.Resource), mention(r.Requester), r.ID), bot.SeverityDanger,
			bot.Button{Label: "Done", Command: fmt.Sprintf("/access done %d", r.ID), Style: bot.ButtonPrimary})
	default:
		r.Attempts++
		r.LastError = runErr.Error()
		next := now.Add(backoff(r.Attempts))
		r.State, r.NextAttemptAt = storage.AccessRevokeFailed, &next
		act, detail = "access.revoke_failed", fmt.Sprintf("attempt=%d error=%q", r.Attempts, r.LastError)
		loud(fmt.Sprintf("REVOKE OF #%d FAILED: access is still in place", r.ID),
			fmt.Sprintf("%s still has %s. Attempt %d failed: %s. Retrying %s, and until it works; fix the cause or revoke by hand.",
				mention(r.Requester), grantOf(r.Role, r.Resource), r.Attempts, r.LastError, stamp(next)), bot.SeverityDanger)
	}
	h.log.Info("access action", "id", r.ID, "action", f.Action, "state", r.State, "err", runErr)
	if err := storage.SaveAccessRequest(tx, r); err != nil {
		return err
	}
	if err := storage.WriteAudit(tx, systemAudit(now, act, subject(r), detail)); err != nil {
		return err
	}
	ns = append(ns, h.edit(r, approvals))
	return h.enqueue(tx, ns...)
}

// extendButton asks for as much time again as was granted, capped at the
// resource's max_duration; the extension needs a new approval.
func (h *Handler) extendButton(r *storage.AccessRequest) bot.Button {
	d := r.Duration
	if res, ok := h.cfg.Resource(r.Resource); ok && time.Duration(res.MaxDuration) > 0 {
		d = min(d, time.Duration(res.MaxDuration))
	}
	if d <= 0 {
		d = time.Hour
	}
	return bot.Button{Label: "Extend " + bot.FormatDuration(d), Style: bot.ButtonPrimary,
		Command: fmt.Sprintf("/access extend %d --for %s", r.ID, bot.FormatDuration(d))}
}

// digest sends each approver, once a day (key access:digest:DATE:person),
// the active grants of the resources they approve, per resource. The key
// makes a second pass, or a second process, the same day send nothing new.
func (h *Handler) digest(ctx context.Context, now time.Time) error {
	active, err := storage.ActiveAccessRequests(ctx, h.store.DB)
	if err != nil || len(active) == 0 {
		return err
	}
	byResource := map[string][]storage.AccessRequest{}
	for _, r := range active {
		byResource[r.Resource] = append(byResource[r.Resource], r)
	}
	texts := map[string]*strings.Builder{}
	var people []string
	for _, res := range h.cfg.Access.Resources {
		grants := byResource[res.Name]
		if len(grants) == 0 {
			continue
		}
		for _, who := range h.approvers(res) {
			b, ok := texts[who]
			if !ok {
				b = &strings.Builder{}
				texts[who] = b
				people = append(people, who)
			}
			fmt.Fprintf(b, "*%s*: %s\n", res.Name, plural(len(grants), "active grant"))
			for _, g := range grants {
				fmt.Fprintf(b, "  #%d @%s (%s) until %s\n", g.ID, g.Requester, g.Role, stamp(*g.ExpiresAt))
			}
		}
	}
	if len(people) == 0 {
		return nil
	}
	date := now.UTC().Format("2006-01-02")
	return h.store.Tx(ctx, func(tx *gorm.DB) error {
		var ns []notify.Notification
		for _, who := range people {
			if _, ok := h.dir.ByName(who); !ok {
				continue
			}
			ns = append(ns, notify.Notification{Key: fmt.Sprintf("access:digest:%s:%s", date, who), To: notify.Destination{Person: who},
				Reply: bot.Reply{Title: "Active access grants, " + date, Text: strings.TrimRight(texts[who].String(), "\n"),
					Footer: "/access revoke N ends one early"}})
		}
		return h.out.Enqueue(tx, ns...)
	})
}
