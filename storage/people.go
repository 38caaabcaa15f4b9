package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PersonState is what the database says about a person, overriding the
// config: Inactive people (offboarded) have no roles and are on no rotation.
type PersonState struct {
	Name      string    `gorm:"primaryKey;size:128"`
	Inactive  bool      `gorm:"not null;default:false"`
	ChangedBy string    `gorm:"size:128;not null"`
	ChangedAt time.Time `gorm:"not null"`
}

// SetInactive records whether name is inactive; pass the transaction that
// audits it.
func SetInactive(tx *gorm.DB, name string, inactive bool, by string, at time.Time) error {
	s := PersonState{Name: name, Inactive: inactive, ChangedBy: by, ChangedAt: at.UTC()}
	err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"inactive", "changed_by", "changed_at"})}).Create(&s).Error
	if err != nil {
		return fmt.Errorf("set %s inactive=%v: %w", name, inactive, err)
	}
	return nil
}

// IsInactive reports whether name is marked inactive.
func IsInactive(ctx context.Context, db *gorm.DB, name string) (bool, error) {
	var n int64
	if err := db.WithContext(ctx).Model(&PersonState{}).Where("name = ? AND inactive", name).Count(&n).Error; err != nil {
		return false, fmt.Errorf("is %s inactive: %w", name, err)
	}
	return n > 0, nil
}

// InactivePeople returns the names of everyone marked inactive.
func InactivePeople(ctx context.Context, db *gorm.DB) ([]string, error) {
	var out []string
	if err := db.WithContext(ctx).Model(&PersonState{}).Where("inactive").Order("name").Pluck("name", &out).Error; err != nil {
		return nil, fmt.Errorf("inactive people: %w", err)
	}
	return out, nil
}

// ActiveFunc answers "may this person be on call?" from the stored state,
// for the rotations' hook, which has no context: each answer is one query
// bounded by timeout. A failed query counts the person as active, so a
// database hiccup never empties a rotation.
func ActiveFunc(db *gorm.DB, timeout time.Duration) func(person string) bool {
	return func(person string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		inactive, err := IsInactive(ctx, db, person)
		return err != nil || !inactive
	}
}
