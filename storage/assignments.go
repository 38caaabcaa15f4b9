package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Conditions a device may come back in.
const (
	ConditionOK      = "ok"
	ConditionDamaged = "damaged"
	ConditionLost    = "lost"
)

// Conditions lists the return conditions in the order help shows them.
func Conditions() []string { return []string{ConditionOK, ConditionDamaged, ConditionLost} }

// DeviceAssignment is one check-out of a device to a person. The one whose
// ReturnedAt is nil names the device's current holder; returned ones are
// its history.
type DeviceAssignment struct {
	ID         int64      `gorm:"primaryKey"`
	Device     string     `gorm:"size:128;not null"`
	Holder     string     `gorm:"size:128;not null"`
	AssignedBy string     `gorm:"size:128;not null"`
	AssignedAt time.Time  `gorm:"not null"`
	ReturnedAt *time.Time `gorm:""`
	ReturnedBy string     `gorm:"size:128"`
	// Condition is how it came back: ok, damaged or lost.
	Condition string `gorm:"column:return_condition;size:16"`
}

// ErrDeviceHeld is returned when a device is assigned while someone holds it.
var ErrDeviceHeld = errors.New("device is held")

// CurrentHolder returns the open assignment of device, or ErrNotFound.
func CurrentHolder(ctx context.Context, db *gorm.DB, device string) (DeviceAssignment, error) {
	var a DeviceAssignment
	err := db.WithContext(ctx).Where("device = ? AND returned_at IS NULL", device).Take(&a).Error
	if err != nil {
		return DeviceAssignment{}, fmt.Errorf("holder of %s: %w", device, notFound(err))
	}
	return a, nil
}

// AssignDevice checks a device out to a.Holder; a device someone already
// holds is ErrDeviceHeld (the unique index decides between two at once).
func AssignDevice(tx *gorm.DB, a *DeviceAssignment) error {
	a.AssignedAt, a.ReturnedAt = a.AssignedAt.UTC(), nil
	var n int64
	if err := tx.Model(&DeviceAssignment{}).Where("device = ? AND returned_at IS NULL", a.Device).Count(&n).Error; err != nil {
		return fmt.Errorf("assign %s: %w", a.Device, err)
	}
	if n > 0 {
		return fmt.Errorf("assign %s: %w", a.Device, ErrDeviceHeld)
	}
	if err := tx.Create(a).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("assign %s: %w", a.Device, ErrDeviceHeld)
		}
		return fmt.Errorf("assign %s: %w", a.Device, err)
	}
	return nil
}

// ReturnDevice closes the open assignment of device and returns it; a
// device nobody holds is ErrNotFound.
func ReturnDevice(tx *gorm.DB, device, by, condition string, at time.Time) (DeviceAssignment, error) {
	var a DeviceAssignment
	if err := tx.Where("device = ? AND returned_at IS NULL", device).Take(&a).Error; err != nil {
		return a, fmt.Errorf("return %s: %w", device, notFound(err))
	}
	at = at.UTC()
	res := tx.Model(&DeviceAssignment{}).Where("id = ? AND returned_at IS NULL", a.ID).
		Updates(map[string]any{"returned_at": at, "returned_by": by, "return_condition": condition})
	if res.Error != nil {
		return a, fmt.Errorf("return %s: %w", device, res.Error)
	}
	if res.RowsAffected == 0 {
		// Someone returned it between the read and the write.
		return a, fmt.Errorf("return %s: %w", device, ErrNotFound)
	}
	a.ReturnedAt, a.ReturnedBy, a.Condition = &at, by, condition
	return a, nil
}

// HeldBy returns the open assignments of holder, by device name.
func HeldBy(ctx context.Context, db *gorm.DB, holder string) ([]DeviceAssignment, error) {
	var out []DeviceAssignment
	err := db.WithContext(ctx).Where("holder = ? AND returned_at IS NULL", holder).Order("device").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("devices held by %s: %w", holder, err)
	}
	return out, nil
}

// AssignmentHistory returns the newest limit assignments of device, newest
// first, the open one (if any) among them.
func AssignmentHistory(ctx context.Context, db *gorm.DB, device string, limit int) ([]DeviceAssignment, error) {
	var out []DeviceAssignment
	err := db.WithContext(ctx).Where("device = ?", device).Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", device, err)
	}
	return out, nil
}
