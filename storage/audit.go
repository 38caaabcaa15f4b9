package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AuditEntry records one state change: who did what to which record, when,
// from which platform. Every area writes one in the same transaction as the
// change itself.
type AuditEntry struct {
	ID        int64     `gorm:"primaryKey"`
	At        time.Time `gorm:"not null;index"`
	Actor     string    `gorm:"size:128;not null;index"`
	Platform  string    `gorm:"size:16;not null"`
	Action    string    `gorm:"size:64;not null;index"`
	Subject   string    `gorm:"size:128;index"`
	Detail    string    `gorm:"type:text"`
	RequestID string    `gorm:"size:32"`
}

// WriteAudit appends an entry; pass the transaction of the change it records.
func WriteAudit(tx *gorm.DB, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	e.At = e.At.UTC()
	if _, err := insertRow(tx, "audit_entries", "at, actor, platform, action, subject, detail, request_id",
		e.At, e.Actor, e.Platform, e.Action, e.Subject, e.Detail, e.RequestID); err != nil {
		return fmt.Errorf("write audit %s %s: %w", e.Action, e.Subject, err)
	}
	return nil
}

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	Subject       string
	SubjectPrefix string
	Actor         string
	ActionPrefix  string
	Limit         int
}

// ListAudit returns matching entries, oldest first.
func ListAudit(ctx context.Context, db *gorm.DB, f AuditFilter) ([]AuditEntry, error) {
	q := db.WithContext(ctx).Model(&AuditEntry{})
	if f.Subject != "" {
		q = q.Where("subject = ?", f.Subject)
	}
	if f.SubjectPrefix != "" {
		q = q.Where("subject LIKE ? ESCAPE '!'", EscapeLike(f.SubjectPrefix)+"%")
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.ActionPrefix != "" {
		q = q.Where("action LIKE ? ESCAPE '!'", EscapeLike(f.ActionPrefix)+"%")
	}
	if f.Limit > 0 {
		// The newest Limit entries, still returned oldest first.
		q = db.WithContext(ctx).Table("(?) AS recent", q.Order("id DESC").Limit(f.Limit)).Order("id ASC")
	} else {
		q = q.Order("id ASC")
	}
	var out []AuditEntry
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
