package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Port change states: pending waits for approvals; active has been set and
// reverts at ExpiresAt (revert_failed is retried); the rest are final.
const (
	PortPending      = "pending"
	PortActive       = "active"
	PortRevertFailed = "revert_failed"
	PortReverted     = "reverted"
	PortFailed       = "failed"
	PortDenied       = "denied"
	PortCancelled    = "cancelled"
)

// PortChange is one /device port request: a port's ifAdminStatus set to
// Action for Duration, then set back to Previous.
type PortChange struct {
	ID     int64  `gorm:"primaryKey"`
	Device string `gorm:"size:128;not null"`
	// IfIndex and Port (its ifName, or ifDescr) name the interface.
	IfIndex int    `gorm:"not null"`
	Port    string `gorm:"size:255;not null"`
	// Action and Previous are "up" or "down".
	Action      string `gorm:"size:8;not null"`
	Previous    string `gorm:"size:8;not null"`
	State       string `gorm:"size:16;not null"`
	RequestedBy string `gorm:"size:128;not null"`
	Reason      string `gorm:"type:text;not null"`
	DurationS   int64  `gorm:"column:duration_s;not null"`
	// ApprovedBy is the comma-separated names of those who approved.
	ApprovedBy    string    `gorm:"type:text;not null"`
	CreatedAt     time.Time `gorm:"not null"`
	AppliedAt     *time.Time
	ExpiresAt     *time.Time
	RevertedAt    *time.Time
	Error         string `gorm:"type:text;not null"`
	Attempts      int    `gorm:"not null"`
	NextAttemptAt *time.Time
}

// Approvers returns the names in ApprovedBy.
func (c PortChange) Approvers() []string {
	if c.ApprovedBy == "" {
		return nil
	}
	return strings.Split(c.ApprovedBy, ",")
}

// Duration is how long the change lasts.
func (c PortChange) Duration() time.Duration { return time.Duration(c.DurationS) * time.Second }

// CreatePortChange inserts c; pass the transaction that audits it.
func CreatePortChange(tx *gorm.DB, c *PortChange) error {
	c.CreatedAt = c.CreatedAt.UTC()
	if err := tx.Create(c).Error; err != nil {
		return fmt.Errorf("create port change: %w", err)
	}
	return nil
}

// GetPortChange reads one change; ErrNotFound when there is none.
func GetPortChange(ctx context.Context, db *gorm.DB, id int64) (PortChange, error) {
	var c PortChange
	err := db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("get port change %d: %w", id, err)
	}
	return c, nil
}

// UpdatePortChange writes cols of change id if it is still in state from
// (and, when approvedBy is not nil, still has those approvals); it reports
// whether it was.
func UpdatePortChange(tx *gorm.DB, id int64, from string, approvedBy *string, cols map[string]any) (bool, error) {
	q := tx.Model(&PortChange{}).Where("id = ? AND state = ?", id, from)
	if approvedBy != nil {
		q = q.Where("approved_by = ?", *approvedBy)
	}
	res := q.Updates(cols)
	if res.Error != nil {
		return false, fmt.Errorf("update port change %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// DuePortReverts returns the active changes whose time is up and the failed
// reverts due for another try, oldest first.
func DuePortReverts(ctx context.Context, db *gorm.DB, now time.Time) ([]PortChange, error) {
	var out []PortChange
	now = now.UTC()
	err := db.WithContext(ctx).Where("(state = ? AND expires_at <= ?) OR (state = ? AND next_attempt_at <= ?)",
		PortActive, now, PortRevertFailed, now).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("due port reverts: %w", err)
	}
	return out, nil
}

// ActivePortChanges returns the changes in force (active or failing to
// revert), soonest expiry first, for /device port list and the status page.
func ActivePortChanges(ctx context.Context, db *gorm.DB) ([]PortChange, error) {
	var out []PortChange
	err := db.WithContext(ctx).Where("state IN ?", []string{PortActive, PortRevertFailed}).Order("expires_at, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("active port changes: %w", err)
	}
	return out, nil
}
