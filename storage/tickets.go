package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Ticket states, in lifecycle order: new → open (assigned) → pending
// (waiting on the requester) → resolved → closed.
const (
	TicketNew      = "new"
	TicketOpen     = "open"
	TicketPending  = "pending"
	TicketResolved = "resolved"
	TicketClosed   = "closed"
)

// TicketStatuses lists the ticket states in lifecycle order.
func TicketStatuses() []string {
	return []string{TicketNew, TicketOpen, TicketPending, TicketResolved, TicketClosed}
}

// TicketActive reports whether a ticket in status still needs work (new,
// open or pending): the set /ticket list shows by default and SLAs run on.
func TicketActive(status string) bool {
	return status == TicketNew || status == TicketOpen || status == TicketPending
}

// Ticket is one helpdesk ticket. The *At columns of the SLA are the times
// the SLA worker still has to act at; they are cleared once it has, or when
// the target no longer applies, so the worker's queries only see live work.
type Ticket struct {
	ID      int64  `gorm:"primaryKey"`
	Summary string `gorm:"type:text;not null"`
	// Description is the longer text of a ticket filed from a chat
	// message: the message and a link back to it.
	Description string `gorm:"type:text"`
	Status      string `gorm:"size:16;not null"`
	// Active mirrors TicketActive(Status) so the default list is one index
	// range scan.
	Active    bool   `gorm:"not null"`
	Priority  string `gorm:"size:16;not null"`
	Category  string `gorm:"size:64"`
	Queue     string `gorm:"size:64"`
	Requester string `gorm:"size:128;not null"`
	FiledBy   string `gorm:"size:128;not null"`
	Assignee  string `gorm:"size:128"`
	// CreatedAt and UpdatedAt come from the injected clock, not gorm's.
	CreatedAt time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"not null;autoUpdateTime:false"`

	FirstResponseAt *time.Time
	ResolvedAt      *time.Time
	ClosedAt        *time.Time

	FirstResponseDue      *time.Time
	ResolveDue            *time.Time
	FirstResponseWarnAt   *time.Time `gorm:"index:,where:first_response_warn_at IS NOT NULL"`
	FirstResponseBreachAt *time.Time `gorm:"index:,where:first_response_breach_at IS NOT NULL"`
	ResolveWarnAt         *time.Time `gorm:"index:,where:resolve_warn_at IS NOT NULL"`
	ResolveBreachAt       *time.Time `gorm:"index:,where:resolve_breach_at IS NOT NULL"`
	FirstResponseWarned   bool       `gorm:"not null;default:false"`
	FirstResponseBreached bool       `gorm:"not null;default:false"`
	ResolveWarned         bool       `gorm:"not null;default:false"`
	ResolveBreached       bool       `gorm:"not null;default:false"`
}

// TicketEvent is one entry of a ticket's history: filed, commented,
// assigned, a state or priority change, an SLA warning or breach.
type TicketEvent struct {
	ID       int64     `gorm:"primaryKey"`
	TicketID int64     `gorm:"not null;index:idx_ticket_events_ticket,priority:1"`
	At       time.Time `gorm:"not null"`
	Actor    string    `gorm:"size:128;not null"`
	// Kind is filed, comment, assigned, pending, resolved, reopened, closed,
	// priority, sla_warning or sla_breach.
	Kind       string `gorm:"size:32;not null"`
	FromStatus string `gorm:"size:16"`
	ToStatus   string `gorm:"size:16"`
	Text       string `gorm:"type:text"`
}

// The tickets table's indexes are in the frozen migrations
// (migrations/*/0100_baseline.sql): /ticket list filters are an equality
// prefix followed by the id, so "newest N" is an index range scan on both
// backends; the four SLA due columns, NULL on most tickets, have partial
// indexes (WHERE … IS NOT NULL), so filing or closing a ticket without SLA
// targets writes none of them.

// CreateTicket inserts a ticket and sets its ID.
func CreateTicket(tx *gorm.DB, t *Ticket) error {
	t.Active = TicketActive(t.Status)
	if t.ID != 0 {
		// An id given by the caller (an import) goes through gorm, which
		// writes it as given.
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("create ticket: %w", err)
		}
		return nil
	}
	id, err := insertRow(tx, "tickets", ticketColumns,
		t.Summary, t.Description, t.Status, t.Active, t.Priority, t.Category, t.Queue, t.Requester, t.FiledBy, t.Assignee,
		t.CreatedAt, t.UpdatedAt, t.FirstResponseAt, t.ResolvedAt, t.ClosedAt, t.FirstResponseDue, t.ResolveDue,
		t.FirstResponseWarnAt, t.FirstResponseBreachAt, t.ResolveWarnAt, t.ResolveBreachAt,
		t.FirstResponseWarned, t.FirstResponseBreached, t.ResolveWarned, t.ResolveBreached)
	if err != nil {
		return fmt.Errorf("create ticket: %w", err)
	}
	t.ID = id
	return nil
}

// ticketColumns are Ticket's columns but the id, in its fields' order.
const ticketColumns = "summary, description, status, active, priority, category, queue, requester, filed_by, assignee, " +
	"created_at, updated_at, first_response_at, resolved_at, closed_at, first_response_due, resolve_due, " +
	"first_response_warn_at, first_response_breach_at, resolve_warn_at, resolve_breach_at, " +
	"first_response_warned, first_response_breached, resolve_warned, resolve_breached"

// GetTicket loads a ticket; lock takes a row lock on PostgreSQL (SQLite's
// write transactions already hold the database lock).
func GetTicket(tx *gorm.DB, id int64, lock bool) (Ticket, error) {
	var t Ticket
	q := tx
	if lock && tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", id).Take(&t).Error; err != nil {
		return t, fmt.Errorf("load ticket #%d: %w", id, notFound(err))
	}
	return t, nil
}

// SaveTicket writes every column of a loaded ticket back.
func SaveTicket(tx *gorm.DB, t *Ticket) error {
	t.Active = TicketActive(t.Status)
	if err := tx.Select("*").Omit("created_at").Updates(t).Error; err != nil {
		return fmt.Errorf("save ticket #%d: %w", t.ID, err)
	}
	return nil
}

// AddTicketEvent appends an entry to a ticket's history and sets its ID.
func AddTicketEvent(tx *gorm.DB, e *TicketEvent) error {
	e.At = e.At.UTC()
	id, err := insertRow(tx, "ticket_events", "ticket_id, at, actor, kind, from_status, to_status, text",
		e.TicketID, e.At, e.Actor, e.Kind, e.FromStatus, e.ToStatus, e.Text)
	if err != nil {
		return fmt.Errorf("add ticket #%d %s event: %w", e.TicketID, e.Kind, err)
	}
	e.ID = id
	return nil
}

// TicketEvents returns the newest limit events of a ticket, oldest first,
// and how many there are in all.
func TicketEvents(ctx context.Context, db *gorm.DB, ticketID int64, limit int) ([]TicketEvent, int64, error) {
	var total int64
	if err := db.WithContext(ctx).Model(&TicketEvent{}).Where("ticket_id = ?", ticketID).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count ticket #%d events: %w", ticketID, err)
	}
	var out []TicketEvent
	if err := db.WithContext(ctx).Where("ticket_id = ?", ticketID).Order("id DESC").Limit(limit).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list ticket #%d events: %w", ticketID, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, total, nil
}

// TicketFilter selects tickets for a list; empty fields match everything.
type TicketFilter struct {
	// Viewer, when set, limits the list to tickets the person requested or
	// filed (what someone without the helpdesk role may see).
	Viewer string
	// Mine limits the list to tickets requested by or assigned to Mine.
	Mine     string
	Queue    string
	Assignee string
	// Status selects one state; empty means the active ones.
	Status string
	// Before returns only tickets with a smaller ID (the next page).
	Before int64
	// Words must each appear in the summary or a comment, ignoring case.
	Words []string
	Limit int
}

// ListTickets returns matching tickets, newest first, at most f.Limit.
func ListTickets(ctx context.Context, db *gorm.DB, f TicketFilter) ([]Ticket, error) {
	q := db.WithContext(ctx).Model(&Ticket{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	} else if len(f.Words) == 0 {
		q = q.Where("active = ?", true)
	}
	if f.Viewer != "" {
		q = q.Where(db.Where("requester = ?", f.Viewer).Or("filed_by = ?", f.Viewer))
	}
	if f.Mine != "" {
		q = q.Where(db.Where("requester = ?", f.Mine).Or("assignee = ?", f.Mine))
	}
	if f.Queue != "" {
		q = q.Where("queue = ?", f.Queue)
	}
	if f.Assignee != "" {
		q = q.Where("assignee = ?", f.Assignee)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	for _, w := range f.Words {
		pat := "%" + EscapeLike(strings.ToLower(w)) + "%"
		q = q.Where(db.Where("LOWER(summary) LIKE ? ESCAPE '!'", pat).
			Or("id IN (?)", db.Model(&TicketEvent{}).Select("ticket_id").
				Where("kind = ? AND LOWER(text) LIKE ? ESCAPE '!'", "comment", pat)))
	}
	if f.Limit <= 0 {
		f.Limit = 20
	}
	var out []Ticket
	if err := q.Order("id DESC").Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// EscapeLike escapes LIKE's wildcards in s with "!", for patterns used with
// ESCAPE '!' (the same on SQLite and PostgreSQL, unlike the backslash).
func EscapeLike(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(s)
}

// SLA targets, as stored in events and metrics.
const (
	TargetFirstResponse = "first_response"
	TargetResolve       = "resolve"
)

// SLA actions the worker takes.
const (
	SLAWarn   = "warn"
	SLABreach = "breach"
)

// slaColumn is the pending-time column of a target and action.
func slaColumn(target, action string) (string, string, error) {
	switch target + "/" + action {
	case TargetFirstResponse + "/" + SLAWarn:
		return "first_response_warn_at", "first_response_warned", nil
	case TargetFirstResponse + "/" + SLABreach:
		return "first_response_breach_at", "first_response_breached", nil
	case TargetResolve + "/" + SLAWarn:
		return "resolve_warn_at", "resolve_warned", nil
	case TargetResolve + "/" + SLABreach:
		return "resolve_breach_at", "resolve_breached", nil
	}
	return "", "", fmt.Errorf("unknown SLA %s %s", target, action)
}

// DueSLA returns the IDs of active tickets whose target's action is due at
// now, oldest first, at most limit.
func DueSLA(ctx context.Context, db *gorm.DB, target, action string, now time.Time, limit int) ([]int64, error) {
	col, _, err := slaColumn(target, action)
	if err != nil {
		return nil, err
	}
	var ids []int64
	// No "active" condition: schedule clears these columns when a ticket
	// stops being active, and this way the query is a range scan of the
	// column's own index. ClaimSLA checks active again.
	err = db.WithContext(ctx).Model(&Ticket{}).Where(col+" <= ?", now.UTC()).
		Order(col+", id").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find tickets due for SLA %s %s: %w", target, action, err)
	}
	return ids, nil
}

// ClaimSLA marks the target's action on a ticket as done, if it still is
// due at now; it reports false when another pass (or process) got there
// first or the ticket changed, so each warning and breach happens once.
func ClaimSLA(tx *gorm.DB, id int64, target, action string, now time.Time) (bool, error) {
	col, flag, err := slaColumn(target, action)
	if err != nil {
		return false, err
	}
	updates := map[string]any{col: nil, flag: true}
	if action == SLABreach {
		// A breach makes a still-pending warning pointless.
		warn, _, _ := slaColumn(target, SLAWarn)
		updates[warn] = nil
	}
	res := tx.Model(&Ticket{}).Where("id = ? AND active = ? AND "+col+" <= ?", id, true, now.UTC()).
		UpdateColumns(updates)
	if res.Error != nil {
		return false, fmt.Errorf("claim SLA %s %s of ticket #%d: %w", target, action, id, res.Error)
	}
	return res.RowsAffected == 1, nil
}
