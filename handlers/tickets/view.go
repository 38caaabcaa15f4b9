package tickets

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"opsbot/bot"
	"opsbot/storage"
)

// stamp prints a time in the helpdesk's zone.
func (h *Handler) stamp(t time.Time) string {
	return t.In(h.hours.Location()).Format("2006-01-02 15:04 MST")
}

// due prints an SLA target: its time and whether it was met or breached.
func (h *Handler) due(at *time.Time, done *time.Time, breached bool) string {
	if at == nil {
		return "none"
	}
	s := h.stamp(*at)
	switch {
	case done != nil && !done.After(*at):
		s += " (met)"
	case breached || done != nil:
		s += " (breached)"
	}
	return s
}

// fields is the summary card of a ticket.
func (h *Handler) fields(t storage.Ticket) []bot.Field {
	assignee := "nobody yet"
	if t.Assignee != "" {
		assignee = "@" + t.Assignee
	}
	queue := t.Queue
	if queue == "" {
		queue = "none"
	}
	if t.Category != "" {
		queue += " / " + t.Category
	}
	requester := "@" + t.Requester
	if t.FiledBy != t.Requester {
		requester += " (filed by @" + t.FiledBy + ")"
	}
	return []bot.Field{
		{Name: "Status", Value: t.Status, Short: true},
		{Name: "Priority", Value: t.Priority, Short: true},
		{Name: "Requester", Value: requester, Short: true},
		{Name: "Assignee", Value: assignee, Short: true},
		{Name: "Queue/Category", Value: queue, Short: true},
		{Name: "Filed", Value: h.stamp(t.CreatedAt), Short: true},
		{Name: "First response due", Value: h.due(t.FirstResponseDue, t.FirstResponseAt, t.FirstResponseBreached), Short: true},
		{Name: "Resolve due", Value: h.due(t.ResolveDue, t.ResolvedAt, t.ResolveBreached), Short: true},
	}
}

// withCard adds the ticket's fields to a reply.
func (h *Handler) withCard(t storage.Ticket, r bot.Reply) bot.Reply {
	r.Fields = h.fields(t)
	return r
}

// queueCard is the queue channel's post about a ticket, edited as it
// changes so the channel always shows the current state.
func (h *Handler) queueCard(t storage.Ticket) bot.Reply {
	r := bot.Reply{Title: fmt.Sprintf("#%d %s", t.ID, t.Summary), Fields: h.fields(t), InChannel: true,
		Footer: fmt.Sprintf("/ticket show %d for the history", t.ID)}
	switch t.Status {
	case storage.TicketResolved:
		r.Severity = bot.SeveritySuccess
		r.Text = fmt.Sprintf("Resolved. Close it with /ticket close %d.", t.ID)
		r.Buttons = []bot.Button{{Label: "Close", Command: fmt.Sprintf("/ticket close %d", t.ID)},
			{Label: "Reopen", Command: fmt.Sprintf("/ticket reopen %d", t.ID)}}
	case storage.TicketClosed:
		r.Text = "Closed."
	default:
		r.Severity = bot.SeverityInfo
		if t.FirstResponseBreached || t.ResolveBreached {
			r.Severity = bot.SeverityDanger
		}
		resolve := bot.Button{Label: "Resolve", Command: fmt.Sprintf("/ticket resolve %d", t.ID)}
		switch {
		case t.Status == storage.TicketPending:
			r.Text = "Waiting for the requester's answer."
			r.Buttons = []bot.Button{resolve}
		case t.Assignee != "":
			// Taken: the card says who has it and no longer offers Take.
			r.Text = fmt.Sprintf("@%s is on it. Hand it over with /ticket assign %d @PERSON.", t.Assignee, t.ID)
			r.Buttons = []bot.Button{resolve}
		default:
			r.Text = fmt.Sprintf("Assign it with /ticket assign %d @PERSON.", t.ID)
			r.Buttons = []bot.Button{{Label: "Take", Command: fmt.Sprintf("/ticket take %d", t.ID), Style: bot.ButtonPrimary}, resolve}
		}
	}
	return r
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	id := req.Int("n")
	db := h.store.DB.WithContext(ctx)
	t, err := h.load(db, req.Person, id, false)
	if err != nil {
		return bot.Reply{}, err
	}
	events, total, err := storage.TicketEvents(ctx, db, id, historyShown)
	if err != nil {
		return bot.Reply{}, err
	}
	var b strings.Builder
	if t.Description != "" {
		b.WriteString(t.Description + "\n\n")
	}
	if total > int64(len(events)) {
		fmt.Fprintf(&b, "(%d earlier entries not shown)\n", total-int64(len(events)))
	}
	for _, e := range events {
		// Continuation lines of a multi-line comment are indented, so none
		// of them can pass for an entry of its own.
		fmt.Fprintf(&b, "%s  @%s %s\n", h.stamp(e.At), e.Actor, continuation.Replace(describe(e)))
	}
	r := h.withCard(t, bot.Reply{Title: fmt.Sprintf("#%d %s", t.ID, t.Summary), Text: strings.TrimRight(b.String(), "\n")})
	if canChange(req.Person, t) {
		switch t.Status {
		case storage.TicketResolved:
			r.Buttons = []bot.Button{{Label: "Reopen", Command: fmt.Sprintf("/ticket reopen %d", t.ID)}}
		case storage.TicketClosed:
		default:
			r.Buttons = []bot.Button{{Label: "Resolve", Command: fmt.Sprintf("/ticket resolve %d", t.ID)}}
			if isAgent(req.Person) && t.Assignee != req.Person.Name {
				r.Buttons = append([]bot.Button{{Label: "Take", Command: fmt.Sprintf("/ticket take %d", t.ID), Style: bot.ButtonPrimary}}, r.Buttons...)
			}
		}
	}
	return r, nil
}

// continuation indents every line after the first of a history entry.
var continuation = strings.NewReplacer("\r\n", "\n    ", "\n", "\n    ", "\r", "\n    ")

// describe is one history entry in words.
func describe(e storage.TicketEvent) string {
	var s string
	switch e.Kind {
	case "filed":
		s = "filed it"
	case "comment":
		s = "commented: " + e.Text
	case "assigned":
		s = "assigned it to " + e.Text
	case "pending":
		s = "asked the requester: " + e.Text
	case "resolved":
		s = "resolved it"
		if e.Text != "" {
			s += ": " + e.Text
		}
	case "reopened":
		s = "reopened it"
	case "closed":
		s = "closed it"
	case "priority":
		s = "changed the priority: " + e.Text
	case "sla_warning":
		s = "warned: " + e.Text
	case "sla_breach":
		s = "recorded an SLA breach: " + e.Text
	default:
		s = e.Kind + " " + e.Text
	}
	if e.FromStatus != "" && e.ToStatus != "" && e.FromStatus != e.ToStatus {
		s += fmt.Sprintf(" [%s → %s]", e.FromStatus, e.ToStatus)
	}
	return s
}

// limit reads --limit.
func limit(req *bot.Request) (int, error) {
	if !req.Has("limit") {
		return defaultLimit, nil
	}
	n := req.Int("limit")
	if n < 1 || n > maxLimit {
		return 0, bot.Errorf("--limit must be between 1 and %d, not %d", maxLimit, n)
	}
	return int(n), nil
}

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	n, err := limit(req)
	if err != nil {
		return bot.Reply{}, err
	}
	f := storage.TicketFilter{Status: req.String("status"), Before: req.Int("before"), Limit: n + 1}
	var args []string // the flags again, for the next-page hint
	if req.Bool("open") {
		if f.Status != "" {
			return bot.Reply{}, bot.Errorf("give --open or --status, not both; --open means new, open and pending")
		}
		args = append(args, "--open")
	}
	if f.Status != "" {
		args = append(args, "--status "+f.Status)
	}
	if !isAgent(req.Person) {
		f.Viewer = req.Person.Name
	}
	if req.Bool("mine") {
		f.Mine = req.Person.Name
		args = append(args, "--mine")
	}
	if q := req.String("queue"); req.Has("queue") {
		var names []string
		for _, cq := range h.cfg.Queues {
			names = append(names, cq.Name)
		}
		i := slices.IndexFunc(names, func(s string) bool { return strings.EqualFold(s, q) })
		if i < 0 {
			if len(names) == 0 {
				return bot.Reply{}, bot.Errorf("there are no ticket queues; leave out --queue")
			}
			return bot.Reply{}, bot.Errorf("unknown queue %q; use one of %s", q, strings.Join(names, ", "))
		}
		f.Queue = names[i]
		args = append(args, "--queue "+f.Queue)
	}
	if p, ok := req.PersonArg("assigned"); ok {
		f.Assignee = p.Name
		args = append(args, "--assigned "+p.Mention())
	}
	if req.Has("limit") {
		args = append(args, fmt.Sprintf("--limit %d", n))
	}
	ts, err := storage.ListTickets(ctx, h.store.DB, f)
	if err != nil {
		return bot.Reply{}, err
	}
	title := "Open tickets"
	if f.Status != "" {
		title = "Tickets " + f.Status
	}
	if f.Viewer != "" {
		title = "Your " + strings.ToLower(title[:1]) + title[1:]
	}
	return h.table(title, ts, n, "/ticket list "+strings.Join(args, " ")), nil
}

// table lists tickets, one a line, and says when the list was cut.
func (h *Handler) table(title string, ts []storage.Ticket, n int, again string) bot.Reply {
	cut := len(ts) > n
	if cut {
		ts = ts[:n]
	}
	if len(ts) == 0 {
		return bot.Reply{Title: title, Text: "No tickets match. File one with /ticket new \"what is wrong\"; /ticket list --status resolved shows finished ones."}
	}
	var b strings.Builder
	for _, t := range ts {
		who := "unassigned"
		if t.Assignee != "" {
			who = "@" + t.Assignee
		}
		summary := t.Summary
		if utf8.RuneCountInString(summary) > 60 {
			summary = string([]rune(summary)[:59]) + "…"
		}
		fmt.Fprintf(&b, "#%d  %-8s %-6s %s  %s (requester @%s)\n", t.ID, t.Status, t.Priority, who, summary, t.Requester)
	}
	r := bot.Reply{Title: title, Text: strings.TrimRight(b.String(), "\n")}
	if len(ts) > 1 {
		// Open one of them; over a chat's type-ahead, any ticket one may see.
		menu := bot.Menu{Placeholder: "Open a ticket", Command: "/ticket show", Param: "n"}
		for _, t := range ts {
			menu.Options = append(menu.Options, bot.Choice{Label: clip(fmt.Sprintf("#%d %s", t.ID, t.Summary), 75), Value: strconv.FormatInt(t.ID, 10)})
		}
		r.Menus = []bot.Menu{menu}
	}
	if cut {
		r.Footer = fmt.Sprintf("Showing the newest %d; more: %s --before %d", n, strings.TrimSpace(again), ts[len(ts)-1].ID)
	}
	return r
}

func (h *Handler) search(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	n, err := limit(req)
	if err != nil {
		return bot.Reply{}, err
	}
	words := strings.Fields(req.String("words"))
	if len(words) == 0 {
		return bot.Reply{}, bot.Errorf(`say what to look for: /ticket search "vpn drops"`)
	}
	if len(words) > 10 {
		return bot.Reply{}, bot.Errorf("that is %d words; search with at most 10", len(words))
	}
	f := storage.TicketFilter{Words: words, Limit: n + 1}
	if !isAgent(req.Person) {
		f.Viewer = req.Person.Name
	}
	ts, err := storage.ListTickets(ctx, h.store.DB, f)
	if err != nil {
		return bot.Reply{}, err
	}
	r := h.table(fmt.Sprintf("Tickets matching %q", strings.Join(words, " ")), ts, n, "")
	if len(ts) > n {
		r.Footer = fmt.Sprintf("Showing the newest %d; add more words or --limit %d", n, maxLimit)
	}
	return r, nil
}
