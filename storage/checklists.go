package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Checklist kinds and states.
const (
	ChecklistOnboard  = "onboard"
	ChecklistOffboard = "offboard"
	// ChecklistAwaiting is an offboarding waiting for a second admin.
	ChecklistAwaiting = "awaiting"
	ChecklistOpen     = "open"
	ChecklistDone     = "done"
)

// Item states. A pending item waits for its time (or for the worker); a
// running one is leased by a worker until LeaseUntil; done and ticket are
// finished (ticket: it could not run and a ticket was filed instead);
// failed is retried.
const (
	ItemPending = "pending"
	ItemRunning = "running"
	ItemDone    = "done"
	ItemFailed  = "failed"
	ItemTicket  = "ticket"
)

// ItemFinished reports whether an item in state needs nothing more.
func ItemFinished(state string) bool { return state == ItemDone || state == ItemTicket }

// Checklist is one onboarding (or offboarding) of a person.
type Checklist struct {
	ID          int64     `gorm:"primaryKey"`
	Kind        string    `gorm:"size:16;not null"`
	Person      string    `gorm:"size:128;not null"`
	Template    string    `gorm:"size:64;not null"`
	StartsOn    time.Time `gorm:"not null"`
	RequestedBy string    `gorm:"size:128;not null"`
	State       string    `gorm:"size:16;not null"`
	CreatedAt   time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"not null;autoUpdateTime:false"`
}

// ChecklistItem is one step of a checklist, unique by Step within it.
type ChecklistItem struct {
	ID          int64  `gorm:"primaryKey"`
	ChecklistID int64  `gorm:"not null"`
	Step        string `gorm:"size:128;not null"`
	// Kind is ticket, device, access or command.
	Kind  string `gorm:"size:16;not null"`
	Label string `gorm:"type:text;not null"`
	State string `gorm:"size:16;not null"`
	// Ref names what the step made: "ticket #12", "access #5", a device.
	Ref string `gorm:"type:text"`
	// Detail is the last outcome in words (an error, a command's output).
	Detail     string     `gorm:"type:text"`
	Attempts   int        `gorm:"not null;default:0"`
	LeaseUntil *time.Time `gorm:""`
	UpdatedAt  time.Time  `gorm:"not null;autoUpdateTime:false"`
}

// ErrChecklistOpen is returned when the person already has an open
// checklist of the kind.
var ErrChecklistOpen = errors.New("checklist open")

// OpenChecklist returns the open checklist of kind for person, or ErrNotFound.
func OpenChecklist(tx *gorm.DB, kind, person string) (Checklist, error) {
	var c Checklist
	err := tx.Where("kind = ? AND person = ? AND state = ?", kind, person, ChecklistOpen).Take(&c).Error
	if err != nil {
		return c, fmt.Errorf("open %s checklist of %s: %w", kind, person, notFound(err))
	}
	return c, nil
}

// LastChecklist returns the newest checklist of kind for person, open or
// done, or ErrNotFound.
func LastChecklist(tx *gorm.DB, kind, person string) (Checklist, error) {
	var c Checklist
	err := tx.Where("kind = ? AND person = ?", kind, person).Order("id DESC").Take(&c).Error
	if err != nil {
		return c, fmt.Errorf("last %s checklist of %s: %w", kind, person, notFound(err))
	}
	return c, nil
}

// CreateChecklist stores c with its items; a person with an open
// checklist of the kind is ErrChecklistOpen.
func CreateChecklist(tx *gorm.DB, c *Checklist, items []ChecklistItem) error {
	c.StartsOn, c.CreatedAt, c.UpdatedAt = c.StartsOn.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := tx.Create(c).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("create checklist for %s: %w", c.Person, ErrChecklistOpen)
		}
		return fmt.Errorf("create checklist for %s: %w", c.Person, err)
	}
	return AddChecklistItems(tx, c.ID, items)
}

// AddChecklistItems adds the items whose step the checklist lacks; steps it
// has are left as they are.
func AddChecklistItems(tx *gorm.DB, checklistID int64, items []ChecklistItem) error {
	for i := range items {
		items[i].ChecklistID, items[i].UpdatedAt = checklistID, items[i].UpdatedAt.UTC()
		if items[i].State == "" {
			items[i].State = ItemPending
		}
	}
	if len(items) == 0 {
		return nil
	}
	err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "checklist_id"}, {Name: "step"}}, DoNothing: true}).
		Create(&items).Error
	if err != nil {
		return fmt.Errorf("add items to checklist %d: %w", checklistID, err)
	}
	return nil
}

// GetChecklist returns a checklist and its items in step order, or ErrNotFound.
func GetChecklist(ctx context.Context, db *gorm.DB, id int64) (Checklist, []ChecklistItem, error) {
	var c Checklist
	if err := db.WithContext(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return c, nil, fmt.Errorf("get checklist %d: %w", id, notFound(err))
	}
	var items []ChecklistItem
	if err := db.WithContext(ctx).Where("checklist_id = ?", id).Order("id").Find(&items).Error; err != nil {
		return c, nil, fmt.Errorf("items of checklist %d: %w", id, err)
	}
	return c, items, nil
}

// ClaimItem leases a due item (pending, failed, or running past its lease)
// for a worker until lease; false means another worker has it or it is
// finished.
func ClaimItem(tx *gorm.DB, id int64, now, lease time.Time) (bool, error) {
	now = now.UTC()
	res := tx.Model(&ChecklistItem{}).
		Where("id = ? AND (state IN ? OR (state = ? AND lease_until < ?))", id, []string{ItemPending, ItemFailed}, ItemRunning, now).
		Updates(map[string]any{"state": ItemRunning, "lease_until": lease.UTC(), "attempts": gorm.Expr("attempts + 1"), "updated_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("claim checklist item %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// FinishItem records an item's outcome and clears its lease.
func FinishItem(tx *gorm.DB, id int64, state, ref, detail string, now time.Time) error {
	err := tx.Model(&ChecklistItem{}).Where("id = ?", id).
		Updates(map[string]any{"state": state, "ref": ref, "detail": detail, "lease_until": nil, "updated_at": now.UTC()}).Error
	if err != nil {
		return fmt.Errorf("finish checklist item %d: %w", id, err)
	}
	return nil
}

// DueItems returns the unfinished items of open checklists of kind that
// start at or before now, oldest first: pending or failed ones, and
// running ones whose lease ran out (their worker died).
func DueItems(ctx context.Context, db *gorm.DB, kinds []string, now time.Time, limit int) ([]ChecklistItem, error) {
	now = now.UTC()
	var out []ChecklistItem
	err := db.WithContext(ctx).Model(&ChecklistItem{}).
		Joins("JOIN checklists ON checklists.id = checklist_items.checklist_id").
		Where("checklists.state = ? AND checklists.starts_on <= ? AND checklist_items.kind IN ?", ChecklistOpen, now, kinds).
		Where("checklist_items.state IN ? OR (checklist_items.state = ? AND checklist_items.lease_until < ?)",
			[]string{ItemPending, ItemFailed}, ItemRunning, now).
		Order("checklist_items.id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("due checklist items: %w", err)
	}
	return out, nil
}

// CloseIfFinished marks a checklist done when every item is finished and
// reports whether it did.
func CloseIfFinished(tx *gorm.DB, id int64, now time.Time) (bool, error) {
	var left int64
	if err := tx.Model(&ChecklistItem{}).Where("checklist_id = ? AND state NOT IN ?", id, []string{ItemDone, ItemTicket}).
		Count(&left).Error; err != nil {
		return false, fmt.Errorf("items left on checklist %d: %w", id, err)
	}
	if left > 0 {
		return false, nil
	}
	res := tx.Model(&Checklist{}).Where("id = ? AND state = ?", id, ChecklistOpen).
		Updates(map[string]any{"state": ChecklistDone, "updated_at": now.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("close checklist %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ConfirmChecklist opens an awaiting checklist; false when it is not
// awaiting (confirmed already), or the person has another open one of its
// kind (ErrChecklistOpen).
func ConfirmChecklist(tx *gorm.DB, id int64, now time.Time) (bool, error) {
	res := tx.Model(&Checklist{}).Where("id = ? AND state = ?", id, ChecklistAwaiting).
		Updates(map[string]any{"state": ChecklistOpen, "updated_at": now.UTC()})
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
			return false, fmt.Errorf("confirm checklist %d: %w", id, ErrChecklistOpen)
		}
		return false, fmt.Errorf("confirm checklist %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// DueChecklists returns the open checklists of kind whose date has come.
func DueChecklists(ctx context.Context, db *gorm.DB, kind string, now time.Time) ([]Checklist, error) {
	var out []Checklist
	err := db.WithContext(ctx).Where("kind = ? AND state = ? AND starts_on <= ?", kind, ChecklistOpen, now.UTC()).
		Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("due %s checklists: %w", kind, err)
	}
	return out, nil
}

// CountOpenChecklists counts the open checklists of each kind.
func CountOpenChecklists(ctx context.Context, db *gorm.DB) (map[string]int64, error) {
	var rows []struct {
		Kind string
		N    int64
	}
	err := db.WithContext(ctx).Model(&Checklist{}).Select("kind, COUNT(*) AS n").Where("state = ?", ChecklistOpen).
		Group("kind").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count open checklists: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, nil
}

// FreeDevices returns up to limit devices of kind that nobody holds, by name.
func FreeDevices(tx *gorm.DB, kind string, limit int) ([]Device, error) {
	var out []Device
	err := tx.Where("kind = ? AND NOT EXISTS (SELECT 1 FROM device_assignments a WHERE a.device = devices.name AND a.returned_at IS NULL)", kind).
		Order("name").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("free devices of kind %s: %w", kind, err)
	}
	return out, nil
}
