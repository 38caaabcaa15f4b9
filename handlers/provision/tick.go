package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/proc"
	"opsbot/storage"
)

// Run does a pass every Interval until ctx ends; only the leader runs it.
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, h.Interval, h.d.Log, "onboarding tick", h.Tick)
}

// Tick runs the access and command steps whose start date has come, one
// at a time. Each step is claimed with a lease in the transaction that
// records it, so a restart half-way neither loses nor repeats a finished
// step: an access request is made, and its item marked done, in one
// transaction; a command whose worker died is run again once its lease
// runs out (account commands must therefore tolerate a second run).
func (h *Handler) Tick(ctx context.Context) error {
	var errs []error
	if err := h.offboardTick(ctx); err != nil {
		errs = append(errs, err)
	}
	due, err := storage.DueItems(ctx, h.d.Store.DB, []string{KindAccess, KindCommand, KindRemove}, h.d.Clock.Now(), 50)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, it := range due {
		if ctx.Err() != nil {
			break
		}
		if err := h.runItem(ctx, it); err != nil {
			errs = append(errs, fmt.Errorf("checklist %d step %s: %w", it.ChecklistID, it.Step, err))
		}
	}
	return errors.Join(errs...)
}

// job is what one due item needs, read from its checklist and template.
type job struct {
	c    storage.Checklist
	it   storage.ChecklistItem
	s    step
	who  bot.Person
	req  *bot.Request
	vals map[string]string
	// argv is a command step's command line.
	argv []string
}

// load finds the item's step in its checklist's template; ok is false
// when the template no longer has it.
func (h *Handler) load(ctx context.Context, tx *gorm.DB, it storage.ChecklistItem) (job, bool, error) {
	c, _, err := storage.GetChecklist(ctx, tx, it.ChecklistID)
	if err != nil {
		return job{}, false, err
	}
	who, ok := h.d.Dir.ByName(c.Person)
	if !ok {
		who = bot.Person{Name: c.Person}
	}
	by, ok := h.d.Dir.ByName(c.RequestedBy)
	if !ok {
		by = bot.Person{Name: c.RequestedBy}
	}
	now := h.d.Clock.Now()
	j := job{c: c, it: it, who: who, vals: values(who, h.d.Config, c.Template, c.StartsOn),
		req: &bot.Request{ID: fmt.Sprintf("checklist-%d", c.ID), Platform: "schedule", Person: by, At: now}}
	if it.Kind == KindRemove {
		argv, cmd, ok := h.removeArgv(c, it.Step)
		if ok {
			j.s.command, j.argv = &cmd, argv
		}
		return j, ok, nil
	}
	tmpl, ok := h.d.Config.Provisioning.Templates[c.Template]
	if !ok {
		return j, false, nil
	}
	for _, s := range steps(tmpl, j.vals, now) {
		if s.item.Step == it.Step {
			j.s = s
			if s.command != nil {
				j.argv = make([]string, len(s.command.Create))
				for i, a := range s.command.Create {
					j.argv[i] = config.Expand(a, j.vals)
				}
			}
			return j, true, nil
		}
	}
	return j, false, nil
}

// runItem claims one due item and does it.
func (h *Handler) runItem(ctx context.Context, it storage.ChecklistItem) error {
	var j job
	var found, claimed bool
	now := h.d.Clock.Now()
	err := h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if j, found, err = h.load(ctx, tx, it); err != nil {
			return err
		}
		lease := now.Add(leaseMargin)
		if found && j.s.command != nil {
			lease = lease.Add(timeout(*j.s.command))
		}
		if claimed, err = storage.ClaimItem(tx, it.ID, now, lease); err != nil || !claimed {
			return err
		}
		j.it.Attempts++
		switch {
		case !found:
			return h.byHand(ctx, tx, j, fmt.Sprintf("template %s no longer has step %s", j.c.Template, it.Step))
		case j.s.access != nil:
			return h.requestAccess(ctx, tx, j)
		}
		return nil
	})
	if err != nil || !claimed || !found || j.s.command == nil {
		return err
	}
	return h.runCommand(ctx, j)
}

func timeout(c config.TemplateCommand) time.Duration {
	if c.Timeout > 0 {
		return time.Duration(c.Timeout)
	}
	return defaultTimeout
}

// requestAccess asks for the step's access through the resource's
// approvals; access that cannot be asked for that way becomes a ticket.
func (h *Handler) requestAccess(ctx context.Context, tx *gorm.DB, j job) error {
	a := j.s.access
	if a.Permanent {
		return h.byHand(ctx, tx, j, "access requests always expire; grant permanent access by hand")
	}
	reason := fmt.Sprintf("onboarding #%d (%s)", j.c.ID, j.c.Template)
	var id int64
	// A savepoint keeps a refused request from spoiling the transaction
	// that files the ticket instead.
	err := tx.Transaction(func(sp *gorm.DB) error {
		var err error
		id, err = h.access.RequestFor(ctx, sp, j.req, j.who, a.Resource, a.Role, time.Duration(a.Duration), reason)
		return err
	})
	var ue *bot.UserError
	if errors.As(err, &ue) {
		return h.byHand(ctx, tx, j, ue.Error())
	}
	if err != nil {
		return err
	}
	return h.finish(ctx, tx, j, storage.ItemDone, fmt.Sprintf("access #%d", id), "")
}

// runCommand runs the step's create command through proc, outside any
// transaction, and records how it ended.
func (h *Handler) runCommand(ctx context.Context, j job) error {
	c, argv := j.s.command, j.argv
	res := proc.Run(ctx, proc.Spec{Argv: argv, Timeout: timeout(*c), KillGrace: killGrace, OutputLimit: 4 << 10})
	if ctx.Err() != nil {
		// Shutting down: the lease runs out and the next leader runs it again.
		return nil
	}
	out := strings.TrimSpace(res.Output)
	return h.d.Store.Tx(ctx, func(tx *gorm.DB) error {
		if err := res.Err(); err != nil {
			detail := err.Error()
			if out != "" {
				detail += ": " + clip(out, 300)
			}
			if j.it.Attempts >= maxAttempts {
				return h.byHand(ctx, tx, j, fmt.Sprintf("%s failed %d times (%s); run %s by hand", c.Name, j.it.Attempts, detail, strings.Join(argv, " ")))
			}
			return h.finish(ctx, tx, j, storage.ItemFailed, "", detail)
		}
		return h.finish(ctx, tx, j, storage.ItemDone, "", clip(out, 300))
	})
}

// byHand files a ticket for a step that cannot run by itself.
func (h *Handler) byHand(ctx context.Context, tx *gorm.DB, j job, why string) error {
	what := "Onboarding"
	if j.c.Kind == storage.ChecklistOffboard {
		what = "Offboarding"
	}
	id, err := h.tickets.FileFor(tx, j.req, clip(fmt.Sprintf("%s #%d of %s: %s — %s", what, j.c.ID, j.c.Person, j.it.Label, why), 200), "", j.who)
	if err != nil {
		return err
	}
	return h.finish(ctx, tx, j, storage.ItemTicket, fmt.Sprintf("ticket #%d", id), why)
}

// finish records an item's outcome with its audit entry, closes the
// checklist when it was the last, and updates the cards.
func (h *Handler) finish(ctx context.Context, tx *gorm.DB, j job, state, ref, detail string) error {
	now := h.d.Clock.Now()
	if err := storage.FinishItem(tx, j.it.ID, state, ref, detail, now); err != nil {
		return err
	}
	if err := storage.WriteAudit(tx, handlers.Audit(j.req, j.c.Kind+".step", fmt.Sprintf("checklist:%d", j.c.ID),
		fmt.Sprintf("step=%s state=%s ref=%s attempt=%d", j.it.Step, state, ref, j.it.Attempts))); err != nil {
		return err
	}
	closed, err := storage.CloseIfFinished(tx, j.c.ID, now)
	if err != nil {
		return err
	}
	if closed {
		if err := storage.WriteAudit(tx, handlers.Audit(j.req, j.c.Kind+".done", fmt.Sprintf("checklist:%d", j.c.ID), "person="+j.c.Person)); err != nil {
			return err
		}
	}
	return h.cards(ctx, tx, j.c.ID, fmt.Sprintf("i%d:%s:%d", j.it.ID, state, j.it.Attempts))
}
