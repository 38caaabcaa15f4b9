// Package tickets is the helpdesk: employees file tickets in chat, the
// helpdesk takes, answers and resolves them, and SLA targets per priority
// are watched by a background worker.
//
// States: new (filed) → open (assigned) → pending (the helpdesk asked the
// requester something with /ticket pending; the requester's next comment
// moves it back to open) → resolved → closed. A resolved ticket may be
// reopened within tickets.reopen_window; closed is final.
//
// Who may do what, as in most helpdesks: anyone may file (for themselves or,
// with --for, for someone else); the requester, whoever filed it, the
// assignee and the helpdesk see a ticket; the requester, the assignee and the
// helpdesk may comment, resolve and reopen; assign, take, priority, pending
// and close need the helpdesk role.
package tickets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/storage"
)

// Role is the role that works tickets.
const Role = "helpdesk"

const (
	maxSummary   = 200
	maxComment   = 4000
	defaultLimit = 20
	maxLimit     = 100
	historyShown = 50
	slaBatch     = 500
	// TickEvery is how often Run checks the SLAs.
	TickEvery = 30 * time.Second
)

// Handler serves /ticket and watches ticket SLAs.
type Handler struct {
	cfg config.TicketsConfig
	// discordGateway: Discord hands opsbot thread replies (gateway mode);
	// over HTTP interactions it cannot.
	discordGateway bool
	store          *storage.Store
	out            *notify.Outbox
	dir            *bot.Directory
	clock          clock.Clock
	log            *slog.Logger
	hours          *Hours
	breaches       *prometheus.CounterVec
}

// New builds the ticket handler and registers its metrics.
func New(d handlers.Deps) (*Handler, error) {
	hours, err := NewHours(d.Config.Tickets.BusinessHours)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	h := &Handler{cfg: d.Config.Tickets, store: d.Store, out: d.Outbox, dir: d.Dir, clock: d.Clock, log: d.Log, hours: hours,
		discordGateway: d.Config.Discord.Mode == "gateway"}
	// A queue of a team posts into the team's channel unless it names its own.
	h.cfg.Queues = slices.Clone(h.cfg.Queues)
	for i, q := range h.cfg.Queues {
		h.cfg.Queues[i].Channel = d.Config.RouteChannel(q.Channel, q.Team)
	}
	h.breaches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_ticket_sla_breaches_total",
		Help: "Ticket SLA targets breached, by priority and target (first_response, resolve).",
	}, []string{"priority", "target"})
	if d.Reg != nil {
		if err := d.Reg.Register(h.breaches); err != nil {
			return nil, fmt.Errorf("register ticket metrics: %w", err)
		}
	}
	return h, nil
}

// Command is /ticket and its subcommands.
func (h *Handler) Command() bot.Command {
	n := bot.Param{Name: "n", Kind: bot.KindID, Required: true, Complete: h.CompleteTicket}
	prio := bot.Param{Name: "priority", Kind: bot.KindChoice, Choices: config.Priorities}
	limit := bot.Param{Name: "limit", Kind: bot.KindInt, Help: fmt.Sprintf("how many to show (default %d, at most %d)", defaultLimit, maxLimit)}
	helpdesk := []string{Role}
	return bot.Command{Name: "ticket", Summary: "File and follow helpdesk tickets", Subs: []bot.Sub{
		{Name: "new", Summary: "File a ticket", Run: h.newTicket,
			Args: []bot.Param{{Name: "summary", Kind: bot.KindText, Required: true}},
			Flags: []bot.Param{prio, {Name: "category", Kind: bot.KindString, Placeholder: "NAME"},
				{Name: "for", Kind: bot.KindPerson, Help: "file on behalf of someone"}}},
		{Name: "list", Summary: "List tickets (open ones unless --status says otherwise)", Run: h.list,
			Flags: []bot.Param{{Name: "mine", Kind: bot.KindBool}, {Name: "open", Kind: bot.KindBool},
				{Name: "queue", Kind: bot.KindString, Placeholder: "NAME"}, {Name: "assigned", Kind: bot.KindPerson},
				{Name: "status", Kind: bot.KindChoice, Choices: storage.TicketStatuses()}, limit,
				{Name: "before", Kind: bot.KindID, Help: "show tickets older than this one (the next page)"}}},
		{Name: "show", Summary: "Show a ticket and its history", Args: []bot.Param{n}, Run: h.show},
		{Name: "comment", Summary: "Comment on a ticket", Run: h.comment,
			Args: []bot.Param{n, {Name: "text", Kind: bot.KindText, Required: true}}},
		{Name: "assign", Summary: "Assign a ticket to someone on the helpdesk", Roles: helpdesk, Run: h.assign,
			Args: []bot.Param{n, {Name: "person", Kind: bot.KindPerson, Required: true}}},
		{Name: "take", Summary: "Assign a ticket to yourself", Roles: helpdesk, Args: []bot.Param{n}, Run: h.take},
		{Name: "priority", Summary: "Change a ticket's priority", Roles: helpdesk, Run: h.priority,
			Args: []bot.Param{n, {Name: "priority", Kind: bot.KindChoice, Choices: config.Priorities, Required: true, Placeholder: "PRIORITY",
				Help: strings.Join(config.Priorities, ", ")}}},
		{Name: "pending", Summary: "Ask the requester something; the ticket waits for their comment", Roles: helpdesk, Run: h.pending,
			Args: []bot.Param{n, {Name: "question", Kind: bot.KindText, Required: true}}},
		{Name: "resolve", Summary: "Resolve a ticket", Run: h.resolve,
			Args: []bot.Param{n, {Name: "note", Kind: bot.KindText}}},
		{Name: "reopen", Summary: "Reopen a resolved ticket", Args: []bot.Param{n}, Run: h.reopen},
		{Name: "close", Summary: "Close a resolved ticket for good", Roles: helpdesk, Args: []bot.Param{n}, Run: h.closeTicket},
		{Name: "search", Summary: "Find tickets whose summary or comments contain every word", Run: h.search,
			Args: []bot.Param{{Name: "words", Kind: bot.KindText, Required: true}}, Flags: []bot.Param{limit}},
	}}
}

// isAgent reports whether p works the helpdesk.
func isAgent(p bot.Person) bool { return p.HasRole(Role) }

func canSee(p bot.Person, t storage.Ticket) bool {
	return isAgent(p) || p.Name == t.Requester || p.Name == t.FiledBy || p.Name == t.Assignee
}

func canChange(p bot.Person, t storage.Ticket) bool {
	return isAgent(p) || p.Name == t.Requester || p.Name == t.Assignee
}

func subject(id int64) string { return fmt.Sprintf("ticket:%d", id) }

func queueKey(id int64) string { return fmt.Sprintf("ticket:%d:queue", id) }

// oneLine collapses runs of white space, newlines included, to one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// queueFor picks the queue of a category: the queue listing it, else the
// default queue, else the first one. ok is false when no queue is configured.
func (h *Handler) queueFor(category string) (config.Queue, bool, error) {
	if category != "" {
		var known []string
		for _, q := range h.cfg.Queues {
			for _, c := range q.Categories {
				if strings.EqualFold(c, category) {
					return q, true, nil
				}
				known = append(known, c)
			}
		}
		if len(known) == 0 {
			return config.Queue{}, false, bot.Errorf("there are no ticket categories; leave out --category")
		}
		slices.Sort(known)
		return config.Queue{}, false, bot.Errorf("unknown category %q; use one of %s, or leave out --category", category, strings.Join(known, ", "))
	}
	for _, q := range h.cfg.Queues {
		if q.Name == h.cfg.DefaultQueue {
			return q, true, nil
		}
	}
	if len(h.cfg.Queues) > 0 {
		return h.cfg.Queues[0], true, nil
	}
	return config.Queue{}, false, nil
}

// channel is the channel of a queue, "" when it has none.
func (h *Handler) channel(queue string) string {
	for _, q := range h.cfg.Queues {
		if q.Name == queue && queue != "" {
			return q.Channel
		}
	}
	return ""
}

// schedule sets a ticket's SLA due times and the times the worker still has
// to warn or record a breach at, from its priority and state.
func (h *Handler) schedule(t *storage.Ticket) {
	sla := h.cfg.SLA[t.Priority]
	warn := time.Duration(h.cfg.WarnBefore)
	active := storage.TicketActive(t.Status)
	t.FirstResponseDue, t.FirstResponseWarnAt, t.FirstResponseBreachAt = h.target(t.CreatedAt,
		time.Duration(sla.FirstResponse), warn, active && t.FirstResponseAt == nil, t.FirstResponseWarned, t.FirstResponseBreached)
	t.ResolveDue, t.ResolveWarnAt, t.ResolveBreachAt = h.target(t.CreatedAt,
		time.Duration(sla.Resolve), warn, active, t.ResolveWarned, t.ResolveBreached)
}

func (h *Handler) target(start time.Time, d, warn time.Duration, live, warned, breached bool) (due, warnAt, breachAt *time.Time) {
	if d <= 0 {
		return nil, nil, nil
	}
	at := h.hours.Add(start, d)
	due = &at
	if !live || breached {
		return due, nil, nil
	}
	breachAt = due
	if !warned && warn > 0 {
		w := h.hours.Add(start, d-warn)
		warnAt = &w
	}
	return due, warnAt, breachAt
}

func (h *Handler) newTicket(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	summary := oneLine(req.String("summary"))
	if summary == "" {
		return bot.Reply{}, bot.Errorf(`the summary is empty; say what is wrong: /ticket new "VPN drops every hour"`)
	}
	if n := utf8.RuneCountInString(summary); n > maxSummary {
		return bot.Reply{}, bot.Errorf("the summary is %d characters; keep it under %d and add details with /ticket comment N \"...\" once it is filed", n, maxSummary)
	}
	priority := req.String("priority")
	if priority == "" {
		priority = "normal"
	}
	category := strings.ToLower(req.String("category"))
	q, hasQueue, err := h.queueFor(category)
	if err != nil {
		return bot.Reply{}, err
	}
	requester := req.Person
	if p, ok := req.PersonArg("for"); ok {
		requester = p
	}
	now := h.clock.Now()
	t := storage.Ticket{Summary: summary, Status: storage.TicketNew, Priority: priority, Category: category,
		Requester: requester.Name, FiledBy: req.Person.Name, CreatedAt: now, UpdatedAt: now}
	if hasQueue {
		t.Queue = q.Name
	}
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		_, err := h.file(tx, req, &t, requester)
		return err
	})
	if err != nil {
		return bot.Reply{}, fmt.Errorf("file ticket: %w", err)
	}
	r := h.withCard(t, bot.Reply{Title: fmt.Sprintf("Filed ticket #%d: %s", t.ID, t.Summary), Severity: bot.SeveritySuccess,
		Footer: fmt.Sprintf("Follow it with /ticket show %d", t.ID)})
	if t.Queue != "" {
		r.Text = fmt.Sprintf("The %s queue has it.", t.Queue)
	}
	return r, nil
}

// file writes a new ticket with its history entry, audit entry, queue post
// and, when someone filed it for another, a message to the requester.
func (h *Handler) file(tx *gorm.DB, req *bot.Request, t *storage.Ticket, requester bot.Person) (storage.TicketEvent, error) {
	h.schedule(t)
	if err := storage.CreateTicket(tx, t); err != nil {
		return storage.TicketEvent{}, err
	}
	now := t.CreatedAt
	ev := storage.TicketEvent{TicketID: t.ID, At: now, Actor: req.Person.Name, Kind: "filed", ToStatus: t.Status, Text: t.Summary}
	if err := storage.AddTicketEvent(tx, &ev); err != nil {
		return ev, err
	}
	detail := fmt.Sprintf("priority=%s queue=%s category=%s requester=%s summary=%q", t.Priority, t.Queue, t.Category, t.Requester, t.Summary)
	if err := storage.WriteAudit(tx, handlers.Audit(req, "ticket.new", subject(t.ID), detail)); err != nil {
		return ev, err
	}
	var notes []notify.Notification
	if ch := h.channel(t.Queue); ch != "" {
		notes = append(notes, notify.Notification{Key: queueKey(t.ID), To: notify.Destination{Channel: ch}, Reply: h.queueCard(*t)})
	}
	if requester.Name != req.Person.Name && h.reachable(requester.Name) {
		notes = append(notes, notify.Notification{Key: fmt.Sprintf("ticket:%d:e%d:requester", t.ID, ev.ID),
			To: notify.Destination{Person: requester.Name}, Reply: h.withCard(*t, bot.Reply{
				Title: fmt.Sprintf("%s filed ticket #%d for you: %s", req.Person.Mention(), t.ID, t.Summary)})})
	}
	return ev, h.out.Enqueue(tx, notes...)
}

// reachable reports whether a direct message to name can be addressed; a
// person removed from the config must not make every change fail.
func (h *Handler) reachable(name string) bool {
	_, ok := h.dir.ByName(name)
	return ok
}

// load reads a ticket the person may see.
func (h *Handler) load(tx *gorm.DB, p bot.Person, id int64, lock bool) (storage.Ticket, error) {
	t, err := storage.GetTicket(tx, id, lock)
	if errors.Is(err, storage.ErrNotFound) {
		return t, bot.Errorf("ticket #%d does not exist; /ticket list shows yours", id)
	}
	if err != nil {
		return t, err
	}
	if !canSee(p, t) {
		return t, bot.Errorf("ticket #%d not found or not yours; /ticket list shows yours", id)
	}
	return t, nil
}

// update is what one change did, for the history, the audit log and the
// people to tell.
type update struct {
	kind   string
	text   string
	detail string
	// toRequester and toAssignee are direct messages; nobody is told about
	// their own change.
	toRequester string
	toAssignee  string
	buttons     []bot.Button
	reply       string
	// thread is posted in the thread of the message the ticket was filed
	// from, if it was; empty for changes that started in that thread.
	thread string
	// claim, when set, is the thread reply this change records: the change
	// is dropped (errDuplicate) when the reply was recorded before.
	claim *storage.TicketMessage
}

// errDuplicate rolls back a change whose source message was handled before.
var errDuplicate = errors.New("message already recorded")

// change runs fn on ticket id in one transaction with its history entry,
// audit entry, queue post edit and direct messages; fn's error leaves
// everything as it was.
func (h *Handler) change(ctx context.Context, req *bot.Request, fn func(t *storage.Ticket, now time.Time) (update, error)) (bot.Reply, error) {
	id := req.Int("n")
	var t storage.Ticket
	var u update
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if t, err = h.load(tx, req.Person, id, true); err != nil {
			return err
		}
		if !canChange(req.Person, t) {
			return bot.Forbiddenf("only the requester @%s, the assignee or the helpdesk may change ticket #%d; ask @%s to do it", t.Requester, id, t.Requester)
		}
		before := t.Status
		shown := h.threadCard(t)
		now := h.clock.Now()
		if u, err = fn(&t, now); err != nil {
			return err
		}
		if u.claim != nil {
			u.claim.TicketID = t.ID
			first, err := storage.ClaimTicketMessage(tx, u.claim)
			if err != nil {
				return err
			}
			if !first {
				return errDuplicate
			}
		}
		t.UpdatedAt = now
		h.schedule(&t)
		if err := storage.SaveTicket(tx, &t); err != nil {
			return err
		}
		ev := storage.TicketEvent{TicketID: t.ID, At: now, Actor: req.Person.Name, Kind: u.kind, Text: u.text}
		if before != t.Status {
			ev.FromStatus, ev.ToStatus = before, t.Status
		}
		if err := storage.AddTicketEvent(tx, &ev); err != nil {
			return err
		}
		detail := u.detail
		if before != t.Status {
			detail = strings.TrimSpace(fmt.Sprintf("status=%s->%s %s", before, t.Status, detail))
		}
		if err := storage.WriteAudit(tx, handlers.Audit(req, "ticket."+u.kind, subject(t.ID), detail)); err != nil {
			return err
		}
		notes := h.queueEdit(t, ev.ID)
		if card := h.threadCard(t); !reflect.DeepEqual(card, shown) {
			// The card under the source message shows what changed too.
			edit, err := h.cardNotes(tx, t, fmt.Sprintf("%s:e%d", threadKey(t.ID), ev.ID))
			if err != nil {
				return err
			}
			for i := range edit {
				edit[i].Updates = threadKey(t.ID)
			}
			notes = append(notes, edit...)
		}
		if u.thread != "" {
			n, err := threadNote(tx, t.ID, fmt.Sprintf("ticket:%d:e%d:thread", t.ID, ev.ID), bot.Reply{Text: u.thread})
			if err != nil {
				return err
			}
			notes = append(notes, n...)
		}
		if u.toRequester != "" && t.Requester != req.Person.Name && h.reachable(t.Requester) {
			notes = append(notes, notify.Notification{Key: fmt.Sprintf("ticket:%d:e%d:requester", t.ID, ev.ID),
				To: notify.Destination{Person: t.Requester}, Reply: bot.Reply{Title: u.toRequester, Buttons: u.buttons,
					Footer: fmt.Sprintf("/ticket show %d for the whole history", t.ID)}})
		}
		if u.toAssignee != "" && t.Assignee != "" && t.Assignee != req.Person.Name && h.reachable(t.Assignee) {
			notes = append(notes, notify.Notification{Key: fmt.Sprintf("ticket:%d:e%d:assignee", t.ID, ev.ID),
				To: notify.Destination{Person: t.Assignee}, Reply: bot.Reply{Title: u.toAssignee,
					Footer: fmt.Sprintf("/ticket show %d for the whole history", t.ID)}})
		}
		return h.out.Enqueue(tx, notes...)
	})
	if err != nil {
		if _, ok := bot.AsUserError(err); ok || errors.Is(err, errDuplicate) {
			return bot.Reply{}, err
		}
		return bot.Reply{}, fmt.Errorf("ticket #%d %s: %w", id, req.Sub, err)
	}
	return h.withCard(t, bot.Reply{Title: u.reply, Severity: bot.SeveritySuccess}), nil
}

// queueEdit is the edit of the ticket's queue post showing its new state.
func (h *Handler) queueEdit(t storage.Ticket, eventID int64) []notify.Notification {
	ch := h.channel(t.Queue)
	if ch == "" {
		return nil
	}
	return []notify.Notification{{Key: fmt.Sprintf("%s:e%d", queueKey(t.ID), eventID), To: notify.Destination{Channel: ch},
		Reply: h.queueCard(t), Updates: queueKey(t.ID)}}
}

// markResponse records the helpdesk's first response.
func markResponse(t *storage.Ticket, p bot.Person, now time.Time) {
	if t.FirstResponseAt == nil && isAgent(p) && p.Name != t.Requester {
		t.FirstResponseAt = &now
	}
}

// notFinished refuses changes to resolved and closed tickets.
func notFinished(t *storage.Ticket, what string) error {
	switch t.Status {
	case storage.TicketClosed:
		return bot.Errorf("ticket #%d is closed, which is final; file a new one with /ticket new \"...\"", t.ID)
	case storage.TicketResolved:
		return bot.Errorf("ticket #%d is resolved; to %s it, reopen it first with /ticket reopen %d", t.ID, what, t.ID)
	}
	return nil
}

func (h *Handler) comment(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.commentFrom(ctx, req, nil)
}

// commentFrom adds a comment; claim is the thread reply it came from, nil
// for /ticket comment, whose text is then posted into the ticket's thread.
func (h *Handler) commentFrom(ctx context.Context, req *bot.Request, claim *storage.TicketMessage) (bot.Reply, error) {
	text := strings.TrimSpace(req.String("text"))
	if text == "" {
		return bot.Reply{}, bot.Errorf(`the comment is empty; type /ticket comment %d "your text"`, req.Int("n"))
	}
	if n := utf8.RuneCountInString(text); n > maxComment {
		return bot.Reply{}, bot.Errorf("the comment is %d characters; the limit is %d, split it into several comments", n, maxComment)
	}
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		if t.Status == storage.TicketClosed {
			return update{}, notFinished(t, "")
		}
		u := update{kind: "comment", text: text, detail: fmt.Sprintf("%q", text), reply: fmt.Sprintf("Commented on #%d", t.ID), claim: claim}
		who := req.Person
		if claim == nil {
			u.thread = fmt.Sprintf("%s commented on #%d: %s", who.Mention(), t.ID, text)
		}
		if isAgent(who) && who.Name != t.Requester {
			markResponse(t, who, now)
			u.toRequester = fmt.Sprintf("%s commented on your ticket #%d (%s): %s", who.Mention(), t.ID, t.Summary, text)
		}
		if who.Name == t.Requester {
			if t.Status == storage.TicketPending {
				t.Status = storage.TicketOpen
			}
			u.toAssignee = fmt.Sprintf("%s commented on #%d (%s): %s", who.Mention(), t.ID, t.Summary, text)
		}
		return u, nil
	})
}

func (h *Handler) assign(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	p, _ := req.PersonArg("person")
	return h.assignTo(ctx, req, p)
}

func (h *Handler) take(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.assignTo(ctx, req, req.Person)
}

func (h *Handler) assignTo(ctx context.Context, req *bot.Request, p bot.Person) (bot.Reply, error) {
	if !isAgent(p) {
		agents := h.dir.WithRole(Role)
		eg := ""
		if len(agents) > 0 {
			eg = fmt.Sprintf(", e.g. /ticket assign %d %s", req.Int("n"), agents[0].Mention())
		}
		return bot.Reply{}, bot.Errorf("%s is not on the helpdesk; assign the ticket to someone with the %s role%s", p.Mention(), Role, eg)
	}
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		if err := notFinished(t, "assign"); err != nil {
			return update{}, err
		}
		if t.Assignee == p.Name {
			return update{}, bot.Errorf("ticket #%d is already assigned to %s", t.ID, p.Mention())
		}
		t.Assignee = p.Name
		if t.Status == storage.TicketNew {
			t.Status = storage.TicketOpen
		}
		markResponse(t, req.Person, now)
		u := update{kind: "assigned", text: p.Mention(), detail: "assignee=" + p.Name,
			thread:      fmt.Sprintf("Ticket #%d is assigned to %s (by %s).", t.ID, p.Mention(), req.Person.Mention()),
			reply:       fmt.Sprintf("Ticket #%d is assigned to %s", t.ID, p.Mention()),
			toRequester: fmt.Sprintf("Your ticket #%d (%s) is assigned to %s.", t.ID, t.Summary, p.Mention()),
			toAssignee:  fmt.Sprintf("%s assigned ticket #%d to you: %s", req.Person.Mention(), t.ID, t.Summary)}
		return u, nil
	})
}

func (h *Handler) priority(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	prio := req.String("priority")
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		if err := notFinished(t, "change the priority of"); err != nil {
			return update{}, err
		}
		if t.Priority == prio {
			return update{}, bot.Errorf("ticket #%d already has priority %s", t.ID, prio)
		}
		from := t.Priority
		t.Priority = prio
		return update{kind: "priority", text: from + " → " + prio, detail: fmt.Sprintf("priority=%s->%s", from, prio),
			reply: fmt.Sprintf("Ticket #%d now has priority %s", t.ID, prio)}, nil
	})
}

func (h *Handler) pending(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	q := strings.TrimSpace(req.String("question"))
	if n := utf8.RuneCountInString(q); n > maxComment {
		return bot.Reply{}, bot.Errorf("the question is %d characters; the limit is %d", n, maxComment)
	}
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		switch t.Status {
		case storage.TicketNew:
			return update{}, bot.Errorf("ticket #%d is not assigned yet; take it first with /ticket take %d", t.ID, t.ID)
		case storage.TicketPending:
			return update{}, bot.Errorf("ticket #%d is already waiting on @%s; add to it with /ticket comment %d \"...\"", t.ID, t.Requester, t.ID)
		}
		if err := notFinished(t, "ask about"); err != nil {
			return update{}, err
		}
		t.Status = storage.TicketPending
		markResponse(t, req.Person, now)
		return update{kind: "pending", text: q, detail: fmt.Sprintf("%q", q),
			reply:       fmt.Sprintf("Ticket #%d is waiting on @%s", t.ID, t.Requester),
			toRequester: fmt.Sprintf("%s needs an answer on your ticket #%d (%s): %s — reply with /ticket comment %d \"...\"", req.Person.Mention(), t.ID, t.Summary, q, t.ID)}, nil
	})
}

func (h *Handler) resolve(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	note := strings.TrimSpace(req.String("note"))
	if n := utf8.RuneCountInString(note); n > maxComment {
		return bot.Reply{}, bot.Errorf("the note is %d characters; the limit is %d", n, maxComment)
	}
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		switch t.Status {
		case storage.TicketResolved:
			return update{}, bot.Errorf("ticket #%d is already resolved", t.ID)
		case storage.TicketClosed:
			return update{}, notFinished(t, "")
		}
		t.Status = storage.TicketResolved
		t.ResolvedAt = &now
		markResponse(t, req.Person, now)
		msg := fmt.Sprintf("Your ticket #%d (%s) was resolved by %s", t.ID, t.Summary, req.Person.Mention())
		if note != "" {
			msg += ": " + note
		}
		msg += fmt.Sprintf(". Not fixed? Reopen it within %s.", bot.FormatDuration(time.Duration(h.cfg.ReopenWindow)))
		thread := fmt.Sprintf("Ticket #%d was resolved by %s.", t.ID, req.Person.Mention())
		if note != "" {
			thread = fmt.Sprintf("Ticket #%d was resolved by %s: %s", t.ID, req.Person.Mention(), note)
		}
		return update{kind: "resolved", text: note, detail: fmt.Sprintf("%q", note), thread: thread,
			reply:       fmt.Sprintf("Resolved ticket #%d", t.ID),
			toRequester: msg, buttons: []bot.Button{{Label: "Reopen", Command: fmt.Sprintf("/ticket reopen %d", t.ID)}},
			toAssignee: fmt.Sprintf("%s resolved ticket #%d (%s)", req.Person.Mention(), t.ID, t.Summary)}, nil
	})
}

func (h *Handler) reopen(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		switch t.Status {
		case storage.TicketClosed:
			return update{}, notFinished(t, "")
		case storage.TicketResolved:
		default:
			return update{}, bot.Errorf("ticket #%d is %s, not resolved; only resolved tickets can be reopened", t.ID, t.Status)
		}
		window := time.Duration(h.cfg.ReopenWindow)
		if t.ResolvedAt != nil && now.Sub(*t.ResolvedAt) > window {
			return update{}, bot.Errorf("ticket #%d was resolved more than %s ago and can no longer be reopened; file a new one with /ticket new \"...\" and mention #%d",
				t.ID, bot.FormatDuration(window), t.ID)
		}
		t.Status = storage.TicketNew
		if t.Assignee != "" {
			t.Status = storage.TicketOpen
		}
		t.ResolvedAt = nil
		return update{kind: "reopened", reply: fmt.Sprintf("Reopened ticket #%d", t.ID),
			thread:      fmt.Sprintf("Ticket #%d was reopened by %s.", t.ID, req.Person.Mention()),
			toRequester: fmt.Sprintf("%s reopened your ticket #%d (%s)", req.Person.Mention(), t.ID, t.Summary),
			toAssignee:  fmt.Sprintf("%s reopened ticket #%d (%s)", req.Person.Mention(), t.ID, t.Summary)}, nil
	})
}

func (h *Handler) closeTicket(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	return h.change(ctx, req, func(t *storage.Ticket, now time.Time) (update, error) {
		switch t.Status {
		case storage.TicketClosed:
			return update{}, bot.Errorf("ticket #%d is already closed", t.ID)
		case storage.TicketResolved:
		default:
			return update{}, bot.Errorf("ticket #%d is %s; resolve it first with /ticket resolve %d \"note\", then close it", t.ID, t.Status, t.ID)
		}
		t.Status = storage.TicketClosed
		t.ClosedAt = &now
		return update{kind: "closed", reply: fmt.Sprintf("Closed ticket #%d", t.ID),
			thread: fmt.Sprintf("Ticket #%d is closed.", t.ID)}, nil
	})
}

// FileFor files a ticket for requester inside tx, as /ticket new --for
// does: its history, audit entry and queue post go in the same
// transaction. req names who files it; queue "" is the default queue.
// Onboarding files its tickets through it.
func (h *Handler) FileFor(tx *gorm.DB, req *bot.Request, summary, queue string, requester bot.Person) (int64, error) {
	summary = oneLine(summary)
	if n := utf8.RuneCountInString(summary); summary == "" || n > maxSummary {
		return 0, fmt.Errorf("file ticket: summary of %d characters (1 to %d)", n, maxSummary)
	}
	if queue == "" {
		if q, ok, _ := h.queueFor(""); ok {
			queue = q.Name
		}
	}
	now := h.clock.Now()
	t := storage.Ticket{Summary: summary, Status: storage.TicketNew, Priority: "normal", Queue: queue,
		Requester: requester.Name, FiledBy: req.Person.Name, CreatedAt: now, UpdatedAt: now}
	if _, err := h.file(tx, req, &t, requester); err != nil {
		return 0, fmt.Errorf("file ticket: %w", err)
	}
	return t.ID, nil
}
