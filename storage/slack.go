package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SlackRequest remembers a Slack request already handled, so a retry that
// reaches any replica is acknowledged without running its command again.
type SlackRequest struct {
	// Key is the request's trigger_id, or a hash of its timestamp and
	// signature when it has none.
	Key    string    `gorm:"primaryKey;size:128"`
	SeenAt time.Time `gorm:"not null;index"`
	// Reply is the answer the first attempt gave (JSON), once it gave one:
	// a retry that a load balancer sends to another replica after the
	// first one's connection broke gets the same answer.
	Reply string `gorm:"type:text"`
}

// ClaimSlackRequest records key as handled and reports whether this call was
// the first to do so; a false answer means another attempt already ran it.
// Claims made at the same moment are written together.
func (s *Store) ClaimSlackRequest(ctx context.Context, key string, at time.Time) (bool, error) {
	first, err := s.slackClaims.do(ctx, requestClaim{key: key, at: at})
	if err != nil {
		return false, fmt.Errorf("record slack request: %w", err)
	}
	return first, nil
}

// PruneSlackRequests forgets requests seen before the cutoff and returns how
// many it removed; Slack stops retrying long before.
func PruneSlackRequests(ctx context.Context, db *gorm.DB, before time.Time) (int64, error) {
	res := db.WithContext(ctx).Where("seen_at < ?", before.UTC()).Delete(&SlackRequest{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune slack requests: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SaveSlackReply records the answer given to the request with key. Answers
// saved at the same moment are written in one statement.
func (s *Store) SaveSlackReply(ctx context.Context, key, answer string) error {
	if _, err := s.slackReplies.do(ctx, reply{key: key, text: answer}); err != nil {
		return fmt.Errorf("record slack reply: %w", err)
	}
	return nil
}

// SlackReply returns the answer recorded for the request with key: empty
// when the first attempt has not answered (it is still running, or its
// replica stopped first).
func SlackReply(ctx context.Context, db *gorm.DB, key string) (string, error) {
	// A request claimed but not yet answered has no reply (NULL).
	var replies []sql.NullString
	err := db.WithContext(ctx).Model(&SlackRequest{}).Where("key = ?", key).Pluck("reply", &replies).Error
	if err != nil {
		return "", fmt.Errorf("read slack reply: %w", err)
	}
	if len(replies) == 0 {
		return "", nil
	}
	return replies[0].String, nil
}
