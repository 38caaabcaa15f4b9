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
