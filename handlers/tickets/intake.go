package tickets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/notify"
	"opsbot/storage"
)

var _ bot.Intake = (*Handler)(nil)

// maxChoices is how many type-ahead suggestions a completer returns:
// Discord shows at most 25.
const maxChoices = 25

// FileFromMessage files a ticket from a chat message: its first line is the
// summary, the message and a link back to it the description, its author
// the requester, and by the one who filed it. A message becomes one ticket
// however often it is asked (a retried event, a second reaction): the
// message is claimed in the same transaction that files the ticket. The
// ticket's card goes into the message's thread.
func (h *Handler) FileFromMessage(ctx context.Context, m bot.Message, by bot.Person) (bot.Reply, error) {
	if m.ID == "" || m.Channel == "" {
		return bot.Reply{}, bot.Errorf("that message could not be read; file the ticket with /ticket new \"...\"")
	}
	if m.Bot {
		// A ticket's own card is not a new problem.
		id, err := storage.PostedAboutTicket(ctx, h.store.DB, string(m.Platform), m.Channel, m.ID)
		if err == nil {
			return bot.Reply{}, bot.Errorf("that is opsbot's post about ticket #%d (/ticket show %d); use it on the message where the problem was reported", id, id)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return bot.Reply{}, err
		}
	}
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return bot.Reply{}, bot.Errorf("that message has no text to file; use /ticket new \"what is wrong\" instead")
	}
	summary := firstLine(text)
	desc := clip(text, maxComment)
	if m.Link != "" {
		desc += "\n\nFrom: " + m.Link
	}
	requester := m.Author
	if requester.Name == "" || m.Bot {
		requester = by
	}
	now := h.clock.Now()
	thread := m.Thread
	if thread == "" {
		thread = m.ID
	}
	req := bot.NewRequest("ticket", "new", nil)
	req.Person, req.Platform, req.Channel, req.At = by, m.Platform, m.Channel, now
	req.Line = fmt.Sprintf("(create ticket from message %s/%s)", m.Channel, m.ID)
	q, hasQueue, err := h.queueFor("")
	if err != nil {
		return bot.Reply{}, err
	}
	t := storage.Ticket{Summary: summary, Description: desc, Status: storage.TicketNew, Priority: "normal",
		Requester: requester.Name, FiledBy: by.Name, CreatedAt: now, UpdatedAt: now}
	if hasQueue {
		t.Queue = q.Name
	}
	dup := false
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		src := storage.TicketMessage{Kind: storage.MessageSource, Platform: string(m.Platform), Channel: m.Channel,
			MessageID: m.ID, Thread: thread, Guild: m.Guild, Link: clip(m.Link, 500), CreatedAt: now}
		first, err := storage.ClaimTicketMessage(tx, &src)
		if err != nil {
			return err
		}
		if !first {
			dup = true
			prev, err := storage.TicketMessageByID(ctx, tx, string(m.Platform), m.Channel, m.ID)
			if err != nil {
				return err
			}
			t, err = storage.GetTicket(tx, prev.TicketID, false)
			return err
		}
		if _, err := h.file(tx, req, &t, requester); err != nil {
			return err
		}
		if err := storage.SetTicketMessageTicket(tx, src.ID, t.ID); err != nil {
			return err
		}
		notes, err := h.cardNotes(tx, t, threadKey(t.ID))
		if err != nil {
			return err
		}
		return h.out.Enqueue(tx, notes...)
	})
	if err != nil {
		return bot.Reply{}, fmt.Errorf("file ticket from %s message %s/%s: %w", m.Platform, m.Channel, m.ID, err)
	}
	h.out.Wake()
	if dup {
		if !canSee(by, t) {
			return bot.Reply{Text: "That message already has a ticket; its requester can share the number with you."}, nil
		}
		return bot.Reply{Text: fmt.Sprintf("That message is already ticket #%d (%s); /ticket show %d", t.ID, t.Summary, t.ID)}, nil
	}
	return h.withCard(t, bot.Reply{Title: fmt.Sprintf("Filed ticket #%d: %s", t.ID, t.Summary), Severity: bot.SeveritySuccess,
		Footer: fmt.Sprintf("Follow it with /ticket show %d. %s", t.ID, h.howToComment(m.Platform, t.ID, "the message's thread"))}), nil
}

// howToComment says how to add to a ticket filed from a message on p: by
// replying in where when p hands opsbot those replies (Slack's events,
// Discord's gateway), else by command, since Discord's HTTP interactions
// carry no messages.
func (h *Handler) howToComment(p bot.Platform, id int64, where string) string {
	if p == bot.Slack || p == bot.Discord && h.discordGateway {
		return fmt.Sprintf("Replies in %s become comments.", where)
	}
	return fmt.Sprintf("Comment with /ticket comment %d \"TEXT\".", id)
}

// ThreadReply records a reply in the thread of a ticket's source message as
// a comment when the requester or the helpdesk wrote it. Bot messages
// (opsbot's own posts included), replies in other threads and replies by
// anyone else are ignored; a reply delivered twice is recorded once.
func (h *Handler) ThreadReply(ctx context.Context, m bot.Message) error {
	text := strings.TrimSpace(m.Text)
	if m.Bot || m.Thread == "" || m.Thread == m.ID || text == "" {
		return nil
	}
	db := h.store.DB.WithContext(ctx)
	src, err := storage.TicketThread(ctx, db, string(m.Platform), m.Channel, m.Thread)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := storage.GetTicket(db, src.TicketID, false)
	if err != nil {
		return err
	}
	if !isAgent(m.Author) && m.Author.Name != t.Requester {
		h.log.Debug("thread reply not from the requester or helpdesk; not a comment", "ticket", t.ID, "person", m.Author.Name)
		return nil
	}
	req := bot.NewRequest("ticket", "comment", map[string]any{"n": t.ID, "text": clip(text, maxComment)})
	req.Person, req.Platform, req.Channel, req.At = m.Author, m.Platform, m.Channel, h.clock.Now()
	req.Line = fmt.Sprintf("(thread reply %s/%s)", m.Channel, m.ID)
	claim := &storage.TicketMessage{Kind: storage.MessageComment, Platform: string(m.Platform), Channel: m.Channel,
		MessageID: m.ID, Thread: m.Thread, Guild: m.Guild, Link: clip(m.Link, 500), CreatedAt: req.At}
	_, err = h.commentFrom(ctx, req, claim)
	if errors.Is(err, errDuplicate) {
		return nil
	}
	if ue, ok := bot.AsUserError(err); ok {
		// A closed ticket takes no comments; the thread is not the place to
		// argue about it.
		h.log.Info("thread reply not recorded", "ticket", t.ID, "reason", ue.Msg)
		return nil
	}
	if err == nil {
		h.out.Wake()
	}
	return err
}

// threadNote is a post in the thread of the ticket's source message, none
// for tickets filed with /ticket new.
func threadNote(tx *gorm.DB, id int64, key string, r bot.Reply) ([]notify.Notification, error) {
	src, err := storage.TicketSource(tx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.InChannel = true
	return []notify.Notification{{Key: key, Reply: r, To: notify.Destination{Target: &bot.Target{
		Platform: bot.Platform(src.Platform), Channel: src.Channel, Thread: src.Thread, Name: "thread of ticket #" + strconv.FormatInt(id, 10)}}}}, nil
}

// threadCard is the card under a ticket's source message, edited as the
// ticket changes so it always shows the current state. cardNotes adds how
// to comment, which depends on the source's platform.
func (h *Handler) threadCard(t storage.Ticket) bot.Reply {
	return h.withCard(t, bot.Reply{Title: fmt.Sprintf("Ticket #%d: %s", t.ID, t.Summary), InChannel: true,
		Text:   fmt.Sprintf("Filed by @%s for @%s.", t.FiledBy, t.Requester),
		Footer: fmt.Sprintf("/ticket show %d", t.ID)})
}

// cardNotes is the thread card of t as a notification under its source
// message (none when t has no source), saying how to comment there.
func (h *Handler) cardNotes(tx *gorm.DB, t storage.Ticket, key string) ([]notify.Notification, error) {
	notes, err := threadNote(tx, t.ID, key, h.threadCard(t))
	for i := range notes {
		notes[i].Reply.Text += " " + h.howToComment(notes[i].To.Target.Platform, t.ID, "this thread")
	}
	return notes, err
}

func threadKey(id int64) string { return fmt.Sprintf("ticket:%d:thread", id) }

// firstLine is a message's first non-empty line, cleaned up, as a summary.
func firstLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if l = oneLine(l); l != "" {
			return clip(l, maxSummary)
		}
	}
	return ""
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// CompleteTicket suggests the tickets the person may see whose number or
// summary matches what was typed, newest first.
func (h *Handler) CompleteTicket(ctx context.Context, p bot.Person, prefix string) []bot.Choice {
	prefix = strings.TrimPrefix(strings.TrimSpace(prefix), "#")
	f := storage.TicketFilter{Limit: maxChoices}
	if !isAgent(p) {
		f.Viewer = p.Name
	}
	var ts []storage.Ticket
	var err error
	if n, perr := strconv.ParseInt(prefix, 10, 64); perr == nil && n > 0 {
		var t storage.Ticket
		t, err = storage.GetTicket(h.store.DB.WithContext(ctx), n, false)
		if err == nil && canSee(p, t) {
			ts = append(ts, t)
		}
		err = nil
	}
	if len(ts) == 0 {
		if prefix != "" {
			f.Words = []string{clip(prefix, 100)}
			f.Status = ""
		}
		ts, err = storage.ListTickets(ctx, h.store.DB, f)
	}
	if err != nil {
		h.log.Warn("complete tickets", "err", err)
		return nil
	}
	out := make([]bot.Choice, 0, len(ts))
	for _, t := range ts {
		out = append(out, bot.Choice{Label: clip(fmt.Sprintf("#%d %s", t.ID, t.Summary), 100), Value: strconv.FormatInt(t.ID, 10)})
	}
	return out
}
