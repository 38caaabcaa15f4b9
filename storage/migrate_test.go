package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// connect opens the backend's database without migrating it.
func connect(t *testing.T, b storagetest.Backend) *storage.Store {
	t.Helper()
	s, err := storage.Connect(context.Background(), b.Config)
	if err != nil {
		t.Fatalf("connect %s: %v", b.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// freshBackend returns a new, empty database of the same kind as b.
func freshBackend(t *testing.T, b storagetest.Backend) storagetest.Backend {
	t.Helper()
	if b.Name == "sqlite" {
		return storagetest.Backend{Name: b.Name, Config: storagetest.SQLite(t)}
	}
	cfg, _ := storagetest.Postgres(t)
	return storagetest.Backend{Name: b.Name, Config: cfg}
}

func describe(t *testing.T, s *storage.Store) map[string]bool {
	t.Helper()
	d, err := storage.DescribeSchema(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) == 0 {
		t.Fatal("empty schema description")
	}
	return d
}

// fill inserts one row into every table, with a value for every column that
// needs one, so an upgrade has data to carry. It returns the tables filled.
func fill(t *testing.T, s *storage.Store) []string {
	t.Helper()
	ctx := context.Background()
	tables, err := storage.UserTables(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var filled []string
	for _, table := range tables {
		if table == "schema_migrations" {
			continue
		}
		type col struct {
			Name, Type string
			Required   bool
		}
		var cols []col
		if s.Driver() == "sqlite" {
			var rows []struct {
				Name      string
				Type      string
				NotNull   int
				DfltValue *string
				PK        int
			}
			if err := s.DB.Raw(`SELECT name, type, "notnull" AS not_null, dflt_value, pk FROM pragma_table_info(?)`, table).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				autoID := r.PK == 1 && strings.EqualFold(r.Type, "integer")
				if !autoID && (r.NotNull == 1 || r.PK > 0) && r.DfltValue == nil {
					cols = append(cols, col{r.Name, strings.ToLower(r.Type), true})
				}
			}
		} else {
			var rows []struct {
				ColumnName    string
				DataType      string
				IsNullable    string
				ColumnDefault *string
			}
			if err := s.DB.Raw(`SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ?`, table).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.IsNullable == "NO" && r.ColumnDefault == nil {
					cols = append(cols, col{r.ColumnName, r.DataType, true})
				}
			}
		}
		var names, vals []string
		for _, c := range cols {
			names = append(names, `"`+c.Name+`"`)
			switch {
			case strings.Contains(c.Type, "int"):
				vals = append(vals, "7")
			case c.Type == "numeric" || c.Type == "boolean":
				vals = append(vals, "true")
			case strings.Contains(c.Type, "time") || c.Type == "datetime":
				vals = append(vals, "'2026-01-02 03:04:05+00:00'")
			default:
				vals = append(vals, "'filled'")
			}
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(names, ", "), strings.Join(vals, ", "))
		if len(names) == 0 {
			q = "INSERT INTO " + table + " DEFAULT VALUES"
		}
		if err := s.DB.Exec(q).Error; err != nil {
			t.Fatalf("fill %s: %v", table, err)
		}
		filled = append(filled, table)
	}
	return filled
}

func countRows(t *testing.T, s *storage.Store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.DB.Raw("SELECT count(*) FROM " + table).Scan(&n).Error; err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestMigrationsUpgradeFromEveryVersion builds a database at every frozen
// migration, fills it, upgrades it to the newest and compares its schema
// with a database made fresh: an upgrade must end where a new install does,
// and keep the rows it had.
func TestMigrationsUpgradeFromEveryVersion(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fresh := storagetest.Open(t, b)
			want := describe(t, fresh)

			versions, names, err := storage.MigrationVersions(b.Name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range versions {
				t.Run(names[i], func(t *testing.T) {
					s := connect(t, freshBackend(t, b))
					applied, err := storage.MigrateTo(ctx, s, v)
					if err != nil || len(applied) != i+1 || applied[i] != names[i] {
						t.Fatalf("migrate to %s applied %v, err %v", names[i], applied, err)
					}
					filled := fill(t, s)
					before := map[string]int64{}
					for _, table := range filled {
						before[table] = countRows(t, s, table)
					}
					rest, err := s.Migrate(ctx)
					if err != nil || len(rest) != len(versions)-i-1 {
						t.Fatalf("upgrade from %s applied %v, err %v", names[i], rest, err)
					}
					if diff := storage.DiffSchemas(want, describe(t, s)); len(diff) > 0 {
						t.Fatalf("upgraded from %s, the schema differs from a fresh one:\n%s", names[i], strings.Join(diff, "\n"))
					}
					for _, table := range filled {
						if n := countRows(t, s, table); n != before[table] {
							t.Errorf("upgrade from %s left %d rows in %s, want %d", names[i], n, table, before[table])
						}
					}
				})
			}
		})
	}
}

// loadFixture runs a dump of a pre-freeze database into an empty one.
func loadFixture(t *testing.T, s *storage.Store, dir string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", dir, s.Driver()+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Exec(string(body)).Error; err != nil {
		t.Fatalf("load fixture %s: %v", dir, err)
	}
}

// TestAdoptLegacyDatabase: a database made by the code before migrations
// were frozen (legacy 0090) is compared with the baseline, adopted, upgraded
// and then equal to a fresh one, its rows kept.
func TestAdoptLegacyDatabase(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			want := describe(t, storagetest.Open(t, freshBackend(t, b)))

			s := connect(t, b)
			loadFixture(t, s, "legacy0090")
			filled := fill(t, s)
			pending, err := s.Pending(ctx)
			if err != nil || len(pending) == 0 || pending[0] != "0100_baseline" {
				t.Fatalf("pending before adoption %v, err %v", pending, err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("adopt: %v", err)
			}
			if len(applied) == 0 || !strings.HasPrefix(applied[0], "0100_baseline (adopted") {
				t.Fatalf("applied %v, want the baseline adopted first", applied)
			}
			if diff := storage.DiffSchemas(want, describe(t, s)); len(diff) > 0 {
				t.Fatalf("adopted database differs from a fresh one:\n%s", strings.Join(diff, "\n"))
			}
			for _, table := range filled {
				if n := countRows(t, s, table); n != 1 {
					t.Errorf("adoption left %d rows in %s, want 1", n, table)
				}
			}
			again, err := s.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second migrate applied %v, err %v", again, err)
			}
			// The adopted database works: a ticket can be filed.
			err = s.Tx(ctx, func(tx *gorm.DB) error {
				return storage.CreateTicket(tx, &storage.Ticket{Summary: "after adoption", Status: storage.TicketOpen,
					Priority: "normal", Requester: "alice", FiledBy: "alice"})
			})
			if err != nil {
				t.Fatalf("file a ticket after adoption: %v", err)
			}
		})
	}
}

// TestAdoptRefusesDriftedSchema: a database grown by the legacy migrations
// from an older release, whose columns drifted from the baseline (0001_core
// ran on an older outbox struct and was never re-run), is not adopted:
// start-up stops with the differences listed and nothing is written.
func TestAdoptRefusesDriftedSchema(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := connect(t, b)
			loadFixture(t, s, "drifted0090")
			before := describe(t, s)

			_, err := s.Migrate(ctx)
			var mismatch *storage.SchemaMismatchError
			if !errors.As(err, &mismatch) {
				t.Fatalf("migrate a drifted database: err %v, want a schema mismatch", err)
			}
			joined := strings.Join(mismatch.Differences, "\n")
			for _, want := range []string{"missing: column outbox_messages.uncertain", "missing: column outbox_messages.queued_at", "extra:   index idx_outbox_due"} {
				if !strings.Contains(joined, want) {
					t.Errorf("differences lack %q:\n%s", want, joined)
				}
			}
			if !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("error %q does not say nothing changed", err)
			}
			if diff := storage.DiffSchemas(before, describe(t, s)); len(diff) > 0 {
				t.Fatalf("a refused adoption changed the schema:\n%s", strings.Join(diff, "\n"))
			}
			if s.DB.Migrator().HasTable("schema_versions") {
				t.Fatal("a refused adoption left schema_versions behind: its transaction must roll back whole")
			}
			// Opening refuses too, with the same reason.
			if _, err := storage.Open(ctx, b.Config); !errors.As(err, &mismatch) {
				t.Fatalf("open a drifted database: %v", err)
			}
		})
	}
}

// TestMigrateRefuses: an edited migration, a database written by a newer
// opsbot, a legacy database that is not at 0090, and foreign tables.
func TestMigrateRefuses(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cases := []struct {
				name  string
				setup func(s *storage.Store) error
				want  string
			}{
				{"edited migration", func(s *storage.Store) error {
					if _, err := s.Migrate(ctx); err != nil {
						return err
					}
					return s.DB.Exec("UPDATE schema_versions SET checksum = 'c0ffee' WHERE version = 100").Error
				}, "migration 0100_baseline was edited after it was applied"},
				{"newer database", func(s *storage.Store) error {
					if _, err := s.Migrate(ctx); err != nil {
						return err
					}
					return s.DB.Exec("INSERT INTO schema_versions (version, name, checksum, applied_at) VALUES (9999, '9999_future', 'x', CURRENT_TIMESTAMP)").Error
				}, "written by a newer opsbot"},
				{"legacy before 0090", func(s *storage.Store) error {
					loadFixture(t, s, "legacy0090")
					return s.DB.Exec("DELETE FROM schema_migrations WHERE id IN ('0081_discord_interactions', '0090_ticket_sla_partial_indexes')").Error
				}, "lacks legacy migrations 0081_discord_interactions, 0090_ticket_sla_partial_indexes"},
				{"foreign tables", func(s *storage.Store) error {
					return s.DB.Exec("CREATE TABLE payroll (id INTEGER PRIMARY KEY)").Error
				}, "already has tables (payroll) but no opsbot migration record"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					s := connect(t, freshBackend(t, b))
					if err := c.setup(s); err != nil {
						t.Fatal(err)
					}
					before := describe(t, s)
					_, err := s.Migrate(ctx)
					if err == nil || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("migrate: err %v, want %q", err, c.want)
					}
					if diff := storage.DiffSchemas(before, describe(t, s)); len(diff) > 0 {
						t.Fatalf("a refused migration changed the schema:\n%s", strings.Join(diff, "\n"))
					}
				})
			}
		})
	}
}

// TestMigrationFiles: both dialects have the same migrations, named
// NNNN_name.sql, starting at the baseline; a misnamed file is refused.
func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	_, lite, err := storage.MigrationVersions("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	_, pg, err := storage.MigrationVersions("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lite, pg) {
		t.Fatalf("sqlite migrations %v, postgres %v: every migration needs both files", lite, pg)
	}
	for _, c := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"m/0100_baseline.sql": "", "m/101_x.sql": ""}, "name must be NNNN_lower_snake.sql"},
		{map[string]string{"m/0100_baseline.sql": "", "m/0101_a.sql": "", "m/0101_b.sql": ""}, "share version 101"},
		{map[string]string{"m/0101_a.sql": ""}, "must start with the baseline 0100"},
	} {
		fsys := fstest.MapFS{}
		for name, body := range c.files {
			fsys[name] = &fstest.MapFile{Data: []byte(body)}
		}
		if err := storage.ReadMigrations(fsys, "m"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("files %v: err %v, want %q", c.files, err, c.want)
		}
	}
}

// TestModelsMatchSchema: every column a gorm model reads or writes exists in
// the migrated schema, so a struct field added without a migration fails
// here rather than at a user's first write.
func TestModelsMatchSchema(t *testing.T) {
	t.Parallel()
	models := []any{
		&storage.AccessRequest{}, &storage.AccessApproval{}, &storage.AuditEntry{}, &storage.BackupRun{},
		&storage.BackupSchedule{}, &storage.CheckResult{}, &storage.CheckState{}, &storage.Incident{},
		&storage.IncidentEvent{}, &storage.Device{}, &storage.DiscordButton{}, &storage.DiscordInteraction{},
		&storage.TicketMessage{}, &storage.Replica{}, &storage.OutboxMessage{}, &storage.SlackRequest{},
		&storage.Ticket{}, &storage.TicketEvent{}, &storage.OncallOverride{}, &storage.DeviceAssignment{}, &storage.Checklist{}, &storage.ChecklistItem{}, &storage.PersonState{},
		&storage.RunbookRun{}, &storage.PortChange{},
	}
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			d := describe(t, s)
			for _, m := range models {
				sch, err := schema.Parse(m, &sync.Map{}, s.DB.NamingStrategy)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range sch.Fields {
					if f.DBName == "" {
						continue
					}
					prefix := fmt.Sprintf("column %s.%s ", sch.Table, f.DBName)
					if !slices.ContainsFunc(mapKeys(d), func(l string) bool { return strings.HasPrefix(l, prefix) }) {
						t.Errorf("%s.%s (%s) has no column in the migrated schema: add a migration", reflect.TypeOf(m).Elem().Name(), f.Name, prefix)
					}
				}
			}
		})
	}
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
