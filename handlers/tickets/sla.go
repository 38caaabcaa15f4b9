package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/storage"
)

// worker is the actor the SLA worker writes into the history and audit log.
const worker = "opsbot"

// Run checks the SLAs every TickEvery until ctx ends.
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, TickEvery, h.log, "ticket SLA pass", h.Tick)
}

// Tick is one SLA pass at the clock's now: it warns about tickets within
// tickets.warn_before of a target (in the queue channel and to the
// assignee) and records breaches, each once per ticket and target even when
// two processes run it at the same time. Breaches go first, so a ticket
// that is already late is not also warned about.
func (h *Handler) Tick(ctx context.Context) error {
	now := h.clock.Now()
	var errs []error
	for _, action := range []string{storage.SLABreach, storage.SLAWarn} {
		for _, target := range []string{storage.TargetFirstResponse, storage.TargetResolve} {
			ids, err := storage.DueSLA(ctx, h.store.DB, target, action, now, slaBatch)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, id := range ids {
				if err := h.slaEvent(ctx, id, target, action, now); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func targetName(target string) string {
	if target == storage.TargetFirstResponse {
		return "first response"
	}
	return "resolution"
}

func (h *Handler) slaEvent(ctx context.Context, id int64, target, action string, now time.Time) error {
	var t storage.Ticket
	claimed := false
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.ClaimSLA(tx, id, target, action, now)
		if err != nil || !ok {
			return err
		}
		if t, err = storage.GetTicket(tx, id, false); err != nil {
			return err
		}
		due := t.ResolveDue
		if target == storage.TargetFirstResponse {
			due = t.FirstResponseDue
		}
		dueText := "unknown"
		if due != nil {
			dueText = h.stamp(*due)
		}
		kind, text, sev := "sla_warning", fmt.Sprintf("%s due at %s", targetName(target), dueText), bot.SeverityWarning
		if action == storage.SLABreach {
			kind, text, sev = "sla_breach", fmt.Sprintf("%s was due at %s", targetName(target), dueText), bot.SeverityDanger
		}
		ev := storage.TicketEvent{TicketID: id, At: now, Actor: worker, Kind: kind, Text: text}
		if err := storage.AddTicketEvent(tx, &ev); err != nil {
			return err
		}
		audit := storage.AuditEntry{At: now, Actor: worker, Platform: worker, Action: "ticket." + kind, Subject: subject(id),
			Detail: fmt.Sprintf("target=%s priority=%s due=%s", target, t.Priority, dueText)}
		if err := storage.WriteAudit(tx, audit); err != nil {
			return err
		}
		title := fmt.Sprintf("#%d (%s) %s: %s", id, t.Priority, t.Summary, text)
		if action == storage.SLABreach {
			title = fmt.Sprintf("#%d (%s) %s breached its %s SLA: %s", id, t.Priority, t.Summary, targetName(target), text)
		}
		msg := bot.Reply{Title: title, Severity: sev, Buttons: []bot.Button{{Label: "Take", Command: fmt.Sprintf("/ticket take %d", id)}}}
		key := fmt.Sprintf("ticket:%d:sla:%s:%s", id, target, action)
		notes := h.queueEdit(t, ev.ID)
		if ch := h.channel(t.Queue); ch != "" {
			notes = append(notes, notify.Notification{Key: key, To: notify.Destination{Channel: ch}, Reply: msg, Thread: queueKey(id)})
		}
		if t.Assignee != "" && h.reachable(t.Assignee) {
			dm := msg
			dm.Buttons = nil
			notes = append(notes, notify.Notification{Key: key + ":assignee", To: notify.Destination{Person: t.Assignee}, Reply: dm})
		}
		if err := h.out.Enqueue(tx, notes...); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("ticket #%d SLA %s %s: %w", id, target, action, err)
	}
	if claimed && action == storage.SLABreach {
		h.breaches.WithLabelValues(t.Priority, target).Inc()
	}
	return nil
}
