package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Where a device record came from. Config devices are owned by the config
// file: each start rewrites them and chat may not change them.
const (
	DeviceFromConfig = "config"
	DeviceFromChat   = "chat"
	DeviceFromCSV    = "csv"
)

// Device is one inventory entry. It never holds SNMP secrets: a config
// device's SNMP settings stay in the config, and other devices name a
// profile from devices.profiles (empty: the default devices.snmp).
type Device struct {
	ID      int64  `gorm:"primaryKey"`
	Name    string `gorm:"size:128;not null;uniqueIndex"`
	Address string `gorm:"size:255;not null;index"`
	Kind    string `gorm:"size:64"`
	Site    string `gorm:"size:64"`
	Owner   string `gorm:"size:64"`
	// Tags is the tags joined with commas, lower case.
	Tags    string `gorm:"size:1024"`
	Notes   string `gorm:"type:text"`
	Profile string `gorm:"size:64"`
	Source  string `gorm:"size:16;not null"`
	// UpdatedBy names the person (or "config") who last changed it.
	UpdatedBy string `gorm:"size:128"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TagList returns the tags as a slice.
func (d Device) TagList() []string {
	if d.Tags == "" {
		return nil
	}
	return strings.Split(d.Tags, ",")
}

// ErrDeviceExists is returned when a device name is taken.
var ErrDeviceExists = errors.New("device exists")

// ListDevices returns every device, by name.
func ListDevices(ctx context.Context, db *gorm.DB) ([]Device, error) {
	var out []Device
	if err := db.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// DeviceStamp summarises the table so that a cached snapshot can tell
// whether another process changed it: row count, highest id, last update.
// Stamps are comparable with ==.
type DeviceStamp struct {
	Count  int64
	MaxID  int64
	Latest string
}

// GetDeviceStamp reads the table's stamp.
func GetDeviceStamp(ctx context.Context, db *gorm.DB) (DeviceStamp, error) {
	var row struct {
		N  int64
		M  *int64
		At *string
	}
	// The text form of MAX(updated_at) differs between the databases, but
	// it only has to change when the table does.
	err := db.WithContext(ctx).Model(&Device{}).
		Select("COUNT(*) AS n, MAX(id) AS m, CAST(MAX(updated_at) AS TEXT) AS at").Scan(&row).Error
	if err != nil {
		return DeviceStamp{}, fmt.Errorf("read device stamp: %w", err)
	}
	s := DeviceStamp{Count: row.N}
	if row.M != nil {
		s.MaxID = *row.M
	}
	if row.At != nil {
		s.Latest = *row.At
	}
	return s, nil
}

// GetDevice returns the device with the name, or ErrNotFound.
func GetDevice(ctx context.Context, db *gorm.DB, name string) (Device, error) {
	var d Device
	err := db.WithContext(ctx).Where("name = ?", name).Take(&d).Error
	if err != nil {
		return Device{}, fmt.Errorf("get device %s: %w", name, notFound(err))
	}
	return d, nil
}

// CreateDevice inserts a device; a taken name is ErrDeviceExists.
func CreateDevice(tx *gorm.DB, d *Device) error {
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if err := tx.Create(d).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("create device %s: %w", d.Name, ErrDeviceExists)
		}
		return fmt.Errorf("create device %s: %w", d.Name, err)
	}
	return nil
}

// UpdateDevice writes every field of an existing device.
func UpdateDevice(tx *gorm.DB, d *Device) error {
	d.UpdatedAt = d.UpdatedAt.UTC()
	res := tx.Model(&Device{}).Where("id = ?", d.ID).Select("*").Omit("id", "created_at").Updates(d)
	if res.Error != nil {
		return fmt.Errorf("update device %s: %w", d.Name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update device %s: %w", d.Name, ErrNotFound)
	}
	return nil
}

// DeleteDevice removes the device with the name, or returns ErrNotFound.
func DeleteDevice(tx *gorm.DB, name string) error {
	res := tx.Where("name = ?", name).Delete(&Device{})
	if res.Error != nil {
		return fmt.Errorf("delete device %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete device %s: %w", name, ErrNotFound)
	}
	return nil
}

// SyncConfigDevices makes the config devices in the table equal devs: it
// inserts new ones, rewrites changed ones (a chat or CSV device of the same
// name becomes a config device) and deletes config devices no longer listed.
// It reports how many rows it inserted, updated and deleted.
func SyncConfigDevices(tx *gorm.DB, devs []Device, now time.Time) (added, changed, removed int, err error) {
	var existing []Device
	if err := tx.Find(&existing).Error; err != nil {
		return 0, 0, 0, fmt.Errorf("sync config devices: %w", err)
	}
	byName := make(map[string]Device, len(existing))
	for _, d := range existing {
		byName[d.Name] = d
	}
	keep := make(map[string]bool, len(devs))
	for _, d := range devs {
		d.Source, d.UpdatedBy = DeviceFromConfig, DeviceFromConfig
		keep[d.Name] = true
		old, ok := byName[d.Name]
		if !ok {
			d.CreatedAt, d.UpdatedAt = now, now
			if err := CreateDevice(tx, &d); err != nil {
				return 0, 0, 0, err
			}
			added++
			continue
		}
		if sameFacts(old, d) {
			continue
		}
		d.ID, d.CreatedAt, d.UpdatedAt = old.ID, old.CreatedAt, now
		if err := UpdateDevice(tx, &d); err != nil {
			return 0, 0, 0, err
		}
		changed++
	}
	for _, old := range existing {
		if old.Source == DeviceFromConfig && !keep[old.Name] {
			if err := DeleteDevice(tx, old.Name); err != nil {
				return 0, 0, 0, err
			}
			removed++
		}
	}
	return added, changed, removed, nil
}

func sameFacts(a, b Device) bool {
	return a.Address == b.Address && a.Kind == b.Kind && a.Site == b.Site && a.Owner == b.Owner &&
		a.Tags == b.Tags && a.Notes == b.Notes && a.Profile == b.Profile && a.Source == b.Source
}
