package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Migration is one step of the schema. IDs sort in the order they apply; a
// migration, once released, never changes: a schema change is a new one.
type Migration struct {
	ID string
	Up func(tx *gorm.DB) error
}

// migrations is the schema, in order. Each area adds its own line.
var migrations = []Migration{
	{ID: "0001_core", Up: func(tx *gorm.DB) error {
		return tx.AutoMigrate(&AuditEntry{}, &OutboxMessage{})
	}},
	{ID: "0002_replicas", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Replica{}) }},
	{ID: "0010_tickets", Up: migrateTickets},
	{ID: "0020_access", Up: func(tx *gorm.DB) error {
		return tx.AutoMigrate(&AccessRequest{}, &AccessApproval{})
	}},
	{ID: "0030_devices", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Device{}) }},
	{ID: "0040_backups", Up: migrateBackups},
	{ID: "0050_checks", Up: migrateChecks},
	{ID: "0060_slack", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&SlackRequest{}) }},
	{ID: "0061_slack_replies", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&SlackRequest{}) }},
	{ID: "0070_discord", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&DiscordButton{}) }},
	{ID: "0080_intake", Up: migrateIntake},
	{ID: "0081_discord_interactions", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&DiscordInteraction{}) }},
	{ID: "0090_ticket_sla_partial_indexes", Up: migrateSLAIndexes},
}

// schemaMigration records an applied migration.
type schemaMigration struct {
	ID        string `gorm:"primaryKey;size:100"`
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// Migrate applies the migrations not yet applied, in one transaction, and
// returns their IDs. Replicas starting together on PostgreSQL serialise on an
// advisory lock, so each migration runs once.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	var applied []string
	err := s.Tx(ctx, func(tx *gorm.DB) error {
		if s.driver == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':opsbot-migrate'))").Error; err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		if err := tx.AutoMigrate(&schemaMigration{}); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var done []string
		if err := tx.Model(&schemaMigration{}).Pluck("id", &done).Error; err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range migrations {
			if slices.Contains(done, m.ID) {
				continue
			}
			if err := m.Up(tx); err != nil {
				return fmt.Errorf("migration %s: %w", m.ID, err)
			}
			if err := tx.Create(&schemaMigration{ID: m.ID, AppliedAt: time.Now().UTC()}).Error; err != nil {
				return fmt.Errorf("record migration %s: %w", m.ID, err)
			}
			applied = append(applied, m.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// Pending lists the migrations not applied yet.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	var done []string
	if s.DB.Migrator().HasTable(&schemaMigration{}) {
		if err := s.DB.WithContext(ctx).Model(&schemaMigration{}).Pluck("id", &done).Error; err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	var pending []string
	for _, m := range migrations {
		if !slices.Contains(done, m.ID) {
			pending = append(pending, m.ID)
		}
	}
	return pending, nil
}
