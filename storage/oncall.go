package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Kinds of on-call override.
const (
	// OverrideSet is /oncall override: in force as soon as it is stored.
	OverrideSet = "override"
	// OverrideSwap is /oncall swap: in force once Person accepts it.
	OverrideSwap = "swap"
)

// OncallOverride puts Person on call for a team's layer from From until
// To, winning over the rotation (the newest of overlapping ones wins) once
// AcceptedAt is set.
type OncallOverride struct {
	ID     int64     `gorm:"primaryKey"`
	Team   string    `gorm:"size:64;not null"`
	Layer  string    `gorm:"size:64;not null"`
	Person string    `gorm:"size:128;not null"`
	From   time.Time `gorm:"column:starts_at;not null"`
	To     time.Time `gorm:"column:ends_at;not null"`
	Kind   string    `gorm:"size:16;not null"`
	// SwapFrom is, for a swap, the person whose shift Person takes over.
	SwapFrom   string     `gorm:"size:128"`
	CreatedBy  string     `gorm:"size:128;not null"`
	CreatedAt  time.Time  `gorm:"not null"`
	AcceptedAt *time.Time `gorm:""`
}

// CreateOverride stores an override; pass the transaction that audits it.
func CreateOverride(tx *gorm.DB, o *OncallOverride) error {
	o.From, o.To, o.CreatedAt = o.From.UTC(), o.To.UTC(), o.CreatedAt.UTC()
	if err := tx.Create(o).Error; err != nil {
		return fmt.Errorf("create on-call override for %s: %w", o.Team, err)
	}
	return nil
}

// GetOverride returns an override by id, or ErrNotFound.
func GetOverride(tx *gorm.DB, id int64) (OncallOverride, error) {
	var o OncallOverride
	err := tx.Where("id = ?", id).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("get on-call override %d: %w", id, err)
	}
	return o, nil
}

// AcceptOverride marks a swap accepted at at.
func AcceptOverride(tx *gorm.DB, id int64, at time.Time) error {
	at = at.UTC()
	if err := tx.Model(&OncallOverride{}).Where("id = ?", id).Update("accepted_at", &at).Error; err != nil {
		return fmt.Errorf("accept on-call override %d: %w", id, err)
	}
	return nil
}

// ListOverrides returns the accepted overrides of team that overlap from
// to to, oldest first (so the last that covers an instant wins).
func ListOverrides(ctx context.Context, db *gorm.DB, team string, from, to time.Time) ([]OncallOverride, error) {
	var out []OncallOverride
	err := db.WithContext(ctx).Where("team = ? AND accepted_at IS NOT NULL AND ends_at > ? AND starts_at < ?", team, from.UTC(), to.UTC()).
		Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list on-call overrides of %s: %w", team, err)
	}
	return out, nil
}
