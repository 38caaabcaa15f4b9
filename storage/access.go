package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Access request states. A request moves pending → granting → active →
// revoking → revoked; failures of the grant or revoke action park it in
// grant_failed or revoke_failed, where it is retried until it succeeds.
const (
	AccessPending        = "pending"         // waiting for approvals
	AccessGranting       = "granting"        // approved; grant action due or running
	AccessGrantFailed    = "grant_failed"    // grant action failed; retried with backoff
	AccessAwaitingManual = "awaiting_manual" // manual grant: an approver confirms with /access done
	AccessActive         = "active"          // granted until ExpiresAt
	AccessRevoking       = "revoking"        // revoke action due or running
	AccessRevokeFailed   = "revoke_failed"   // revoke action failed; retried until it succeeds
	AccessManualRevoke   = "awaiting_manual_revoke"
	AccessRevoked        = "revoked"
	AccessDenied         = "denied"
	AccessExpired        = "expired"   // nobody decided within pending_ttl
	AccessCancelled      = "cancelled" // withdrawn by the requester before a decision
	AccessFailed         = "failed"    // the grant never succeeded; cleaned up by a revoke
)

// AccessRequest is one person's request for a role on a resource, from
// asking to revocation.
type AccessRequest struct {
	ID        int64  `gorm:"primaryKey"`
	Resource  string `gorm:"size:128;not null;index"`
	Role      string `gorm:"size:64;not null"`
	Requester string `gorm:"size:128;not null;index"`
	Email     string `gorm:"size:255"`
	SlackID   string `gorm:"size:64"`
	DiscordID string `gorm:"size:64"`
	Reason    string `gorm:"type:text"`
	// Channel is the resource's channel when the request was made.
	Channel  string        `gorm:"size:128"`
	Duration time.Duration `gorm:"not null"`
	State    string        `gorm:"size:32;not null;index"`
	// Seq counts changes; it makes notification keys unique and its
	// increment locks the row for the rest of a transaction.
	Seq int `gorm:"not null;default:0"`
	// Round is the approval round: 0 for the request, 1.. for extensions.
	Round           int       `gorm:"not null;default:0"`
	ApprovalsNeeded int       `gorm:"not null"`
	PendingUntil    time.Time `gorm:"not null"`
	// ExtendFor, when set, is an extension waiting for approval until
	// ExtendUntil.
	ExtendFor   time.Duration
	ExtendUntil *time.Time
	GrantedAt   *time.Time
	ExpiresAt   *time.Time `gorm:"index"`
	Warned      bool
	ClosedAt    *time.Time
	ClosedBy    string `gorm:"size:128"`
	CloseReason string `gorm:"type:text"`
	// GaveUp is set when the grant failed for good and the revoke that
	// follows is only cleaning up.
	GaveUp bool
	// Attempts, NextAttemptAt and LastError drive retries of the grant or
	// revoke action; ClaimedBy and ClaimedUntil are the lease of the
	// process running it.
	Attempts      int        `gorm:"not null;default:0"`
	NextAttemptAt *time.Time `gorm:"index"`
	LastError     string     `gorm:"type:text"`
	ClaimedBy     string     `gorm:"size:64"`
	ClaimedUntil  *time.Time
	CreatedAt     time.Time `gorm:"not null"`
	UpdatedAt     time.Time `gorm:"not null"`
}

// AccessApproval is one person's approval of one round of a request.
type AccessApproval struct {
	ID        int64     `gorm:"primaryKey"`
	RequestID int64     `gorm:"not null;uniqueIndex:idx_access_approval,priority:1"`
	Round     int       `gorm:"not null;uniqueIndex:idx_access_approval,priority:2"`
	Approver  string    `gorm:"size:128;not null;uniqueIndex:idx_access_approval,priority:3"`
	Note      string    `gorm:"type:text"`
	At        time.Time `gorm:"not null"`
}

// ErrDuplicate is returned when a unique record already exists.
var ErrDuplicate = errors.New("already exists")

// CreateAccessRequest inserts a request and fills in its ID.
func CreateAccessRequest(tx *gorm.DB, r *AccessRequest) error {
	if err := tx.Create(r).Error; err != nil {
		return fmt.Errorf("create access request: %w", err)
	}
	return nil
}

// LockAccessRequest bumps the request's Seq, which holds its row lock until
// the transaction ends, and returns it as it is now.
func LockAccessRequest(tx *gorm.DB, id int64) (*AccessRequest, error) {
	res := tx.Model(&AccessRequest{}).Where("id = ?", id).UpdateColumn("seq", gorm.Expr("seq + 1"))
	if res.Error != nil {
		return nil, fmt.Errorf("lock access request %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return GetAccessRequest(tx, id)
}

// GetAccessRequest loads one request.
func GetAccessRequest(db *gorm.DB, id int64) (*AccessRequest, error) {
	var r AccessRequest
	if err := db.First(&r, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &r, nil
}

// SaveAccessRequest writes every field of a request loaded in the same
// transaction.
func SaveAccessRequest(tx *gorm.DB, r *AccessRequest) error {
	if err := tx.Save(r).Error; err != nil {
		return fmt.Errorf("save access request %d: %w", r.ID, err)
	}
	return nil
}

// AddAccessApproval records an approval; ErrDuplicate when the person has
// already approved this round.
func AddAccessApproval(tx *gorm.DB, a *AccessApproval) error {
	var n int64
	if err := tx.Model(&AccessApproval{}).Where("request_id = ? AND round = ? AND approver = ?",
		a.RequestID, a.Round, a.Approver).Count(&n).Error; err != nil {
		return fmt.Errorf("check approval: %w", err)
	}
	if n > 0 {
		return ErrDuplicate
	}
	a.At = a.At.UTC()
	if err := tx.Create(a).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrDuplicate
		}
		return fmt.Errorf("add approval: %w", err)
	}
	return nil
}

// AccessApprovals lists the approvals of one round, oldest first.
func AccessApprovals(db *gorm.DB, requestID int64, round int) ([]AccessApproval, error) {
	var out []AccessApproval
	if err := db.Where("request_id = ? AND round = ?", requestID, round).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list approvals of %d: %w", requestID, err)
	}
	return out, nil
}

// AccessFilter selects requests; empty fields match everything.
type AccessFilter struct {
	Requester string
	Resources []string
	States    []string
	// ExtensionPending also matches requests with an extension waiting.
	ExtensionPending bool
	// Failing matches requests whose grant or revoke action is failing:
	// in grant_failed or revoke_failed, or with failed attempts and an
	// error recorded.
	Failing bool
	Limit   int
}

// ListAccessRequests returns matching requests, newest first.
func ListAccessRequests(ctx context.Context, db *gorm.DB, f AccessFilter) ([]AccessRequest, error) {
	q := db.WithContext(ctx).Model(&AccessRequest{})
	if f.Requester != "" {
		q = q.Where("requester = ?", f.Requester)
	}
	if f.Resources != nil {
		q = q.Where("resource IN ?", append([]string{""}, f.Resources...))
	}
	switch {
	case len(f.States) > 0 && f.ExtensionPending:
		q = q.Where("(state IN ? OR extend_until IS NOT NULL)", f.States)
	case len(f.States) > 0:
		q = q.Where("state IN ?", f.States)
	case f.ExtensionPending:
		q = q.Where("extend_until IS NOT NULL")
	}
	if f.Failing {
		q = q.Where("(state IN ? OR (attempts > 0 AND last_error <> ''))", []string{AccessGrantFailed, AccessRevokeFailed})
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var out []AccessRequest
	if err := q.Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list access requests: %w", err)
	}
	return out, nil
}

// AccessActionStates are the states in which a grant or revoke action is due.
var AccessActionStates = []string{AccessGranting, AccessGrantFailed, AccessRevoking, AccessRevokeFailed}

// DueAccessActions lists the requests whose grant or revoke action is due at
// now and not leased by a running process.
func DueAccessActions(ctx context.Context, db *gorm.DB, now time.Time) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&AccessRequest{}).
		Where("state IN ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)",
			AccessActionStates, now.UTC(), now.UTC()).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list due access actions: %w", err)
	}
	return ids, nil
}

// ClaimAccessAction leases the request's due action to token until until.
// It reports false when another process has it, or it is no longer due.
func ClaimAccessAction(ctx context.Context, db *gorm.DB, id int64, now, until time.Time, token string) (bool, error) {
	res := db.WithContext(ctx).Model(&AccessRequest{}).
		Where("id = ? AND state IN ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)",
			id, AccessActionStates, now.UTC(), now.UTC()).
		Updates(map[string]any{"claimed_by": token, "claimed_until": until.UTC(), "seq": gorm.Expr("seq + 1")})
	if res.Error != nil {
		return false, fmt.Errorf("claim access request %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// AccessIDsWhere lists the ids of requests matching a condition, for the
// expiry sweeps.
func AccessIDsWhere(ctx context.Context, db *gorm.DB, query string, args ...any) ([]int64, error) {
	var ids []int64
	if err := db.WithContext(ctx).Model(&AccessRequest{}).Where(query, args...).Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("list access requests: %w", err)
	}
	return ids, nil
}

// ActiveAccessRequests returns the active grants, oldest first, with their
// expiry set.
func ActiveAccessRequests(ctx context.Context, db *gorm.DB) ([]AccessRequest, error) {
	var out []AccessRequest
	if err := db.WithContext(ctx).Where("state = ? AND expires_at IS NOT NULL", AccessActive).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list active access grants: %w", err)
	}
	return out, nil
}
