package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DiscordButton keeps the text command of a Discord button whose command is
// longer than the 100 characters a custom_id may hold; the button carries
// "cmd:<hash>" and a click looks the command up here.
type DiscordButton struct {
	// Hash is derived from the command, so saving the same command twice is
	// harmless.
	Hash      string    `gorm:"primaryKey;size:64"`
	Command   string    `gorm:"type:text;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// TableName is discord_buttons.
func (DiscordButton) TableName() string { return "discord_buttons" }

// SaveDiscordButton stores a button's command under its hash; an existing
// hash is kept.
func SaveDiscordButton(ctx context.Context, db *gorm.DB, hash, command string, at time.Time) error {
	row := DiscordButton{Hash: hash, Command: command, CreatedAt: at.UTC()}
	err := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "hash"}}, DoNothing: true}).
		Create(&row).Error
	if err != nil {
		return fmt.Errorf("save discord button %s: %w", hash, err)
	}
	return nil
}

// DiscordButtonCommand returns the command stored under hash, or ErrNotFound.
func DiscordButtonCommand(ctx context.Context, db *gorm.DB, hash string) (string, error) {
	var row DiscordButton
	err := db.WithContext(ctx).Where("hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("look up discord button %s: %w", hash, err)
	}
	return row.Command, nil
}

// DiscordInteraction remembers a Discord interaction already handled, so a
// captured signed request replayed within the timestamp window runs once,
// whichever replica it reaches.
type DiscordInteraction struct {
	// ID is the interaction's snowflake, which Discord signs with the body.
	ID     string    `gorm:"primaryKey;size:64"`
	SeenAt time.Time `gorm:"not null;index"`
}

// TableName is discord_interactions.
func (DiscordInteraction) TableName() string { return "discord_interactions" }

// ClaimDiscordInteraction records id as handled and reports whether this
// call was the first to do so; a false answer means it ran already. Claims
// made at the same moment are written together.
func (s *Store) ClaimDiscordInteraction(ctx context.Context, id string, at time.Time) (bool, error) {
	first, err := s.discordClaims.do(ctx, requestClaim{key: id, at: at})
	if err != nil {
		return false, fmt.Errorf("record discord interaction %s: %w", id, err)
	}
	return first, nil
}

// PruneDiscordInteractions forgets interactions seen before the cutoff and
// returns how many it removed; their signed timestamps are refused by then.
func PruneDiscordInteractions(ctx context.Context, db *gorm.DB, before time.Time) (int64, error) {
	res := db.WithContext(ctx).Where("seen_at < ?", before.UTC()).Delete(&DiscordInteraction{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune discord interactions: %w", res.Error)
	}
	return res.RowsAffected, nil
}
