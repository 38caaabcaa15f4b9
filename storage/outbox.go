package storage

import (
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Outbox message states.
const (
	OutboxPending = "pending"
	OutboxSending = "sending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
	OutboxDropped = "dropped"
)

// OutboxMessage is one notification to one platform destination, written in
// the same transaction as the state change that caused it and delivered by
// the notifier.
type OutboxMessage struct {
	ID int64 `gorm:"primaryKey"`
	// Key is unique: the logical message's idempotency key and the platform.
	// Writing the same key twice keeps the first.
	Key string `gorm:"size:255;not null;uniqueIndex"`
	// Lane orders delivery: messages in one lane (platform and channel or
	// person) go out one at a time, in ID order.
	Lane     string `gorm:"size:255;not null;index:idx_outbox_lane_state,priority:1"`
	Platform string `gorm:"size:16;not null"`
	// Target is the JSON of a bot.Target; Body the JSON of a bot.Reply.
	Target string `gorm:"type:text;not null"`
	Body   string `gorm:"type:text;not null"`
	// UpdatesKey names the message this one edits; ThreadKey the message
	// whose thread it replies in.
	UpdatesKey    string    `gorm:"size:255"`
	ThreadKey     string    `gorm:"size:255"`
	State         string    `gorm:"size:16;not null;index:idx_outbox_lane_state,priority:2;index:idx_outbox_due,priority:1"`
	Attempts      int       `gorm:"not null;default:0"`
	NextAttemptAt time.Time `gorm:"not null;index:idx_outbox_due,priority:2"`
	LastError     string    `gorm:"type:text"`
	// MessageChannel and MessageID are the platform's reference once sent.
	MessageChannel string `gorm:"size:64"`
	MessageID      string `gorm:"size:64"`
	ClaimedBy      string `gorm:"size:64"`
	ClaimedUntil   *time.Time
	CreatedAt      time.Time `gorm:"not null;index"`
	SentAt         *time.Time
}

// EnqueueOutbox inserts messages in the caller's transaction; a message whose
// key is already there is skipped, so writing a notification twice sends it
// once.
func EnqueueOutbox(tx *gorm.DB, msgs ...OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	for i := range msgs {
		if msgs[i].State == "" {
			msgs[i].State = OutboxPending
		}
		msgs[i].CreatedAt = msgs[i].CreatedAt.UTC()
		msgs[i].NextAttemptAt = msgs[i].NextAttemptAt.UTC()
	}
	err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).Create(&msgs).Error
	if err != nil {
		return fmt.Errorf("enqueue notification %s: %w", msgs[0].Key, err)
	}
	return nil
}
