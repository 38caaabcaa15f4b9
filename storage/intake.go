package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Kinds of TicketMessage.
const (
	// MessageSource is the message a ticket was filed from.
	MessageSource = "source"
	// MessageComment is a thread reply recorded as a comment.
	MessageComment = "comment"
)

// TicketMessage ties a chat message to a ticket: the message the ticket was
// filed from, or a reply in its thread that became a comment. The unique
// index on (platform, channel, message_id) is what makes a reaction
// delivered twice, or made by two people, file one ticket, and a reply
// delivered twice one comment.
type TicketMessage struct {
	ID        int64  `gorm:"primaryKey"`
	TicketID  int64  `gorm:"not null;index"`
	Kind      string `gorm:"size:16;not null"`
	Platform  string `gorm:"size:16;not null;uniqueIndex:idx_ticket_messages_message,priority:1;index:idx_ticket_messages_thread,priority:1"`
	Channel   string `gorm:"size:64;not null;uniqueIndex:idx_ticket_messages_message,priority:2;index:idx_ticket_messages_thread,priority:2"`
	MessageID string `gorm:"size:64;not null;uniqueIndex:idx_ticket_messages_message,priority:3"`
	// Thread is the message the ticket's thread hangs under (the source
	// message itself, or the root of the thread it was posted in).
	Thread    string    `gorm:"size:64;not null;index:idx_ticket_messages_thread,priority:3"`
	Guild     string    `gorm:"size:64"`
	Link      string    `gorm:"size:512"`
	CreatedAt time.Time `gorm:"not null;autoCreateTime:false"`
}

// ClaimTicketMessage records m and reports whether this call was the first
// for its platform, channel and message; on false nothing was written.
func ClaimTicketMessage(tx *gorm.DB, m *TicketMessage) (bool, error) {
	m.CreatedAt = m.CreatedAt.UTC()
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(m)
	if res.Error != nil {
		return false, fmt.Errorf("record %s message %s/%s: %w", m.Platform, m.Channel, m.MessageID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// SetTicketMessageTicket points a claimed message at its ticket, once the
// ticket exists.
func SetTicketMessageTicket(tx *gorm.DB, id, ticketID int64) error {
	if err := tx.Model(&TicketMessage{}).Where("id = ?", id).Update("ticket_id", ticketID).Error; err != nil {
		return fmt.Errorf("link message to ticket #%d: %w", ticketID, err)
	}
	return nil
}

// TicketMessageByID returns the record of one chat message.
func TicketMessageByID(ctx context.Context, db *gorm.DB, platform, channel, messageID string) (TicketMessage, error) {
	var m TicketMessage
	err := db.WithContext(ctx).Where("platform = ? AND channel = ? AND message_id = ?", platform, channel, messageID).Take(&m).Error
	if err != nil {
		return m, fmt.Errorf("load %s message %s/%s: %w", platform, channel, messageID, notFound(err))
	}
	return m, nil
}

// TicketThread returns the source message of the ticket whose thread hangs
// under the message thread, the oldest if several do.
func TicketThread(ctx context.Context, db *gorm.DB, platform, channel, thread string) (TicketMessage, error) {
	var m TicketMessage
	err := db.WithContext(ctx).Where("platform = ? AND channel = ? AND thread = ? AND kind = ?", platform, channel, thread, MessageSource).
		Order("id").Take(&m).Error
	if err != nil {
		return m, fmt.Errorf("find ticket of %s thread %s/%s: %w", platform, channel, thread, notFound(err))
	}
	return m, nil
}

// TicketSource returns the message a ticket was filed from, ErrNotFound
// for tickets filed with /ticket new.
func TicketSource(tx *gorm.DB, ticketID int64) (TicketMessage, error) {
	var m TicketMessage
	err := tx.Where("ticket_id = ? AND kind = ?", ticketID, MessageSource).Order("id").Take(&m).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return m, fmt.Errorf("load source message of ticket #%d: %w", ticketID, err)
	}
	return m, notFound(err)
}

// PostedAboutTicket returns the ticket that a message opsbot posted (through
// the outbox, key ticket:N:...) is about; ErrNotFound when the message is
// not one of those. It reads the outbox without an index on the message
// reference, so callers ask only about bots' messages.
func PostedAboutTicket(ctx context.Context, db *gorm.DB, platform, channel, messageID string) (int64, error) {
	var keys []string
	err := db.WithContext(ctx).Model(&OutboxMessage{}).
		Where("platform = ? AND message_channel = ? AND message_id = ?", platform, channel, messageID).
		Limit(10).Pluck("key", &keys).Error
	if err != nil {
		return 0, fmt.Errorf("look up %s message %s/%s in the outbox: %w", platform, channel, messageID, err)
	}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "ticket:")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ":")
		if id, err := strconv.ParseInt(num, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, ErrNotFound
}
