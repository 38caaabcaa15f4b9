package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SlackRequest remembers a Slack request already handled, so a retry that
// reaches any replica is acknowledged without running its command again.
type SlackRequest struct {
	// Key is the request's trigger_id, or a hash of its timestamp and
	// signature when it has none.
	Key    string    `gorm:"primaryKey;size:128"`
	SeenAt time.Time `gorm:"not null;index"`
}

// ClaimSlackRequest records key as handled and reports whether this call was
// the first to do so; a false answer means another attempt already ran it.
func ClaimSlackRequest(ctx context.Context, db *gorm.DB, key string, at time.Time) (bool, error) {
	res := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).
		Create(&SlackRequest{Key: key, SeenAt: at.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("record slack request: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
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
