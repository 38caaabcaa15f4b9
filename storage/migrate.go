package storage

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
)

// The schema is frozen SQL: one baseline per dialect equal to the schema the
// legacy (AutoMigrate) migrations had built by 0090, then numbered files
// applied in order, one transaction each. A file once released never
// changes: its checksum is recorded when it is applied and compared at every
// start, so an edited migration is refused instead of silently meaning
// something else on new databases than on old ones.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one frozen SQL file of one dialect.
type migration struct {
	Version  int
	Name     string // file name without .sql, e.g. 0100_baseline
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// baselineVersion is the migration an existing pre-freeze database adopts.
const baselineVersion = 100

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads the dialect's frozen files in version order.
func loadMigrations(dialect string) ([]migration, error) {
	return readMigrations(migrationFiles, path.Join("migrations", dialect))
}

func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s/%s: name must be NNNN_lower_snake.sql", dir, e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		if len(out) > 0 && out[len(out)-1].Version == v {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[len(out)-1].Name, e.Name(), v)
		}
		out = append(out, migration{Version: v, Name: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	if len(out) == 0 || out[0].Version != baselineVersion {
		return nil, fmt.Errorf("migrations in %s must start with the baseline %04d", dir, baselineVersion)
	}
	return out, nil
}

// legacyMigrations are the IDs the pre-freeze code recorded in
// schema_migrations; a database that has all of them can adopt the baseline.
var legacyMigrations = []string{
	"0001_core", "0002_replicas", "0010_tickets", "0020_access", "0030_devices", "0040_backups",
	"0050_checks", "0060_slack", "0061_slack_replies", "0070_discord", "0080_intake",
	"0081_discord_interactions", "0090_ticket_sla_partial_indexes",
}

// appliedMigration is a row of schema_versions.
type appliedMigration struct {
	Version  int
	Name     string
	Checksum string
}

func (s *Store) createVersionsTable(tx *gorm.DB) error {
	ts := "TIMESTAMP WITH TIME ZONE"
	if s.driver == "sqlite" {
		ts = "DATETIME"
	}
	q := "CREATE TABLE IF NOT EXISTS schema_versions (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at " + ts + " NOT NULL)"
	if err := tx.Exec(q).Error; err != nil {
		return fmt.Errorf("create schema_versions: %w", err)
	}
	return nil
}

func readApplied(tx *gorm.DB) ([]appliedMigration, error) {
	var rows []appliedMigration
	if err := tx.Raw("SELECT version, name, checksum FROM schema_versions ORDER BY version").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read schema_versions: %w", err)
	}
	return rows, nil
}

// verifyApplied refuses a database whose recorded migrations this binary
// does not have, or whose files were edited after they were applied.
func verifyApplied(applied []appliedMigration, files []migration) error {
	byVersion := map[int]migration{}
	for _, f := range files {
		byVersion[f.Version] = f
	}
	for _, a := range applied {
		f, ok := byVersion[a.Version]
		if !ok {
			return fmt.Errorf("database has migration %04d (%s), which this opsbot does not know: it was written by a newer opsbot; run that version or newer", a.Version, a.Name)
		}
		if f.Checksum != a.Checksum {
			return fmt.Errorf("migration %s was edited after it was applied (checksum %s in the database, %s in this binary): released migrations never change; restore the file and add a new migration", f.Name, short(a.Checksum), short(f.Checksum))
		}
	}
	return nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Migrate brings the database to the newest migration and returns what it
// did, one line per migration. Each migration is one transaction; replicas
// starting together on PostgreSQL serialise on an advisory lock taken in
// each, so every migration runs once.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	return s.migrateTo(ctx, -1)
}

// migrateTo applies migrations up to and including version target (all of
// them when target < 0).
func (s *Store) migrateTo(ctx context.Context, target int) ([]string, error) {
	files, err := loadMigrations(s.driver)
	if err != nil {
		return nil, err
	}
	var done []string
	for {
		var step string
		err := s.Tx(ctx, func(tx *gorm.DB) error {
			var err error
			step, err = s.migrateStep(ctx, tx, files, target)
			return err
		})
		if err != nil {
			return done, err
		}
		if step == "" {
			return done, nil
		}
		done = append(done, step)
	}
}

// migrateStep applies or adopts one migration inside tx and says which, or
// returns "" when there is nothing left to do.
func (s *Store) migrateStep(ctx context.Context, tx *gorm.DB, files []migration, target int) (string, error) {
	if s.driver == "postgres" {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':opsbot-migrate'))").Error; err != nil {
			return "", fmt.Errorf("lock schema: %w", err)
		}
	}
	if err := s.createVersionsTable(tx); err != nil {
		return "", err
	}
	applied, err := readApplied(tx)
	if err != nil {
		return "", err
	}
	if err := verifyApplied(applied, files); err != nil {
		return "", err
	}
	if len(applied) == 0 {
		legacy, err := s.legacyState(tx)
		if err != nil {
			return "", err
		}
		if legacy {
			if err := s.adopt(ctx, tx, files[0]); err != nil {
				return "", err
			}
			return files[0].Name + " (adopted: the existing schema matches it)", nil
		}
	}
	for _, f := range files {
		if target >= 0 && f.Version > target {
			return "", nil
		}
		if slices.ContainsFunc(applied, func(a appliedMigration) bool { return a.Version == f.Version }) {
			continue
		}
		if err := tx.Exec(f.SQL).Error; err != nil {
			return "", fmt.Errorf("migration %s: %w", f.Name, err)
		}
		if err := recordMigration(tx, f); err != nil {
			return "", err
		}
		return f.Name, nil
	}
	return "", nil
}

func recordMigration(tx *gorm.DB, f migration) error {
	err := tx.Exec("INSERT INTO schema_versions (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
		f.Version, f.Name, f.Checksum, time.Now().UTC()).Error
	if err != nil {
		return fmt.Errorf("record migration %s: %w", f.Name, err)
	}
	return nil
}

// legacyState reports whether the database was built by the pre-freeze
// migrations (and so must adopt the baseline), and refuses one that has
// tables but is neither empty nor at legacy 0090.
func (s *Store) legacyState(tx *gorm.DB) (bool, error) {
	tables, err := userTables(tx, s.driver)
	if err != nil {
		return false, err
	}
	if len(tables) == 0 {
		return false, nil
	}
	if !slices.Contains(tables, "schema_migrations") {
		return false, fmt.Errorf("the database already has tables (%s) but no opsbot migration record: point database.dsn at an empty database or at opsbot's own", strings.Join(firstN(tables, 5), ", "))
	}
	var ids []string
	if err := tx.Raw("SELECT id FROM schema_migrations").Scan(&ids).Error; err != nil {
		return false, fmt.Errorf("read schema_migrations: %w", err)
	}
	var missing []string
	for _, id := range legacyMigrations {
		if !slices.Contains(ids, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("the database was made by an older opsbot and lacks legacy migrations %s: run `opsbot migrate` of an opsbot from before 2026-12-05 once, then this one", strings.Join(missing, ", "))
	}
	return true, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}

// adopt compares the live schema with the baseline and records the baseline
// as applied when they match.
func (s *Store) adopt(ctx context.Context, tx *gorm.DB, base migration) error {
	live, err := describeSchema(tx, s.driver)
	if err != nil {
		return err
	}
	want, err := s.describeBaseline(ctx, tx, base)
	if err != nil {
		return err
	}
	if diff := diffSchemas(want, live); len(diff) > 0 {
		return &SchemaMismatchError{Migration: base.Name, Differences: diff}
	}
	return recordMigration(tx, base)
}

// SchemaMismatchError stops start-up when an existing database's schema is
// not the one the baseline describes.
type SchemaMismatchError struct {
	Migration   string
	Differences []string
}

func (e *SchemaMismatchError) Error() string {
	return fmt.Sprintf("the database's schema differs from %s, so it cannot be adopted; nothing was changed. Differences (baseline vs database):\n  %s\nFix these by hand (or restore a backup), then start opsbot again",
		e.Migration, strings.Join(e.Differences, "\n  "))
}

// describeBaseline builds the baseline in a scratch place and describes it:
// an in-memory SQLite database, or a PostgreSQL schema created inside a
// savepoint that is rolled back.
func (s *Store) describeBaseline(ctx context.Context, tx *gorm.DB, base migration) (schemaDesc, error) {
	if s.driver == "sqlite" {
		scratch, err := Connect(ctx, sqliteMemory())
		if err != nil {
			return nil, fmt.Errorf("open scratch database: %w", err)
		}
		defer scratch.Close()
		if err := scratch.DB.WithContext(ctx).Exec(base.SQL).Error; err != nil {
			return nil, fmt.Errorf("build baseline in scratch database: %w", err)
		}
		return describeSchema(scratch.DB.WithContext(ctx), "sqlite")
	}
	var path string
	if err := tx.Raw("SELECT current_setting('search_path')").Scan(&path).Error; err != nil {
		return nil, fmt.Errorf("read search_path: %w", err)
	}
	if err := tx.Exec("SAVEPOINT opsbot_baseline").Error; err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	desc, err := func() (schemaDesc, error) {
		if err := tx.Exec("CREATE SCHEMA opsbot_baseline_scratch").Error; err != nil {
			return nil, fmt.Errorf("create scratch schema: %w", err)
		}
		if err := tx.Exec("SET LOCAL search_path TO opsbot_baseline_scratch").Error; err != nil {
			return nil, fmt.Errorf("set scratch search_path: %w", err)
		}
		if err := tx.Exec(base.SQL).Error; err != nil {
			return nil, fmt.Errorf("build baseline in scratch schema: %w", err)
		}
		return describeSchema(tx, "postgres")
	}()
	if rerr := tx.Exec("ROLLBACK TO SAVEPOINT opsbot_baseline").Error; rerr != nil && err == nil {
		err = fmt.Errorf("roll back scratch schema: %w", rerr)
	}
	if serr := tx.Exec("SELECT set_config('search_path', ?, true)", path).Error; serr != nil && err == nil {
		err = fmt.Errorf("restore search_path: %w", serr)
	}
	return desc, err
}

// bookkeeping tables are not part of the schema a migration describes.
var bookkeeping = []string{"schema_versions", "schema_migrations"}

// userTables lists the tables in the current schema, bookkeeping included.
func userTables(tx *gorm.DB, driver string) ([]string, error) {
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	if driver == "sqlite" {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	}
	var names []string
	if err := tx.Raw(q).Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == "schema_versions" }), nil
}

// schemaDesc describes a schema as a set of lines, one per column, index
// and constraint, independent of column order and of how the DDL was
// spelled, so two databases built different ways compare equal when they
// hold the same structure.
type schemaDesc map[string]bool

// describeSchema describes the current schema (bookkeeping tables left out).
func describeSchema(tx *gorm.DB, driver string) (schemaDesc, error) {
	if driver == "sqlite" {
		return describeSQLite(tx)
	}
	return describePostgres(tx)
}

func describeSQLite(tx *gorm.DB) (schemaDesc, error) {
	tables, err := userTables(tx, "sqlite")
	if err != nil {
		return nil, err
	}
	d := schemaDesc{}
	for _, t := range tables {
		if slices.Contains(bookkeeping, t) {
			continue
		}
		var cols []struct {
			Name      string
			Type      string
			NotNull   int
			DfltValue *string
			PK        int
		}
		if err := tx.Raw("SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info(?)", t).Scan(&cols).Error; err != nil {
			return nil, fmt.Errorf("describe table %s: %w", t, err)
		}
		for _, c := range cols {
			line := fmt.Sprintf("column %s.%s %s", t, c.Name, strings.ToLower(c.Type))
			if c.NotNull == 1 {
				line += " not null"
			}
			if c.DfltValue != nil {
				line += " default " + strings.ToLower(*c.DfltValue)
			}
			if c.PK > 0 {
				line += fmt.Sprintf(" primary key %d", c.PK)
			}
			d[line] = true
		}
		var idxs []struct {
			Name    string
			Unique  int
			Origin  string
			Partial int
		}
		if err := tx.Raw("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)", t).Scan(&idxs).Error; err != nil {
			return nil, fmt.Errorf("list indexes of %s: %w", t, err)
		}
		for _, ix := range idxs {
			if ix.Origin == "pk" {
				continue // described by the columns' primary key
			}
			var cols []string
			if err := tx.Raw("SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix.Name).Scan(&cols).Error; err != nil {
				return nil, fmt.Errorf("describe index %s: %w", ix.Name, err)
			}
			name := ix.Name
			if ix.Origin == "u" {
				name = "(unique constraint)"
			}
			line := fmt.Sprintf("index %s on %s (%s)", name, t, strings.Join(cols, ", "))
			if ix.Unique == 1 {
				line = "unique " + line
			}
			if ix.Partial == 1 {
				var sql string
				if err := tx.Raw("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", ix.Name).Scan(&sql).Error; err != nil {
					return nil, fmt.Errorf("read index %s: %w", ix.Name, err)
				}
				line += " where " + partialWhere(sql)
			}
			d[line] = true
		}
	}
	return d, nil
}

var spaces = regexp.MustCompile(`\s+`)

// partialWhere returns an index's WHERE clause, spelled one way.
func partialWhere(sql string) string {
	i := strings.LastIndex(strings.ToUpper(sql), " WHERE ")
	if i < 0 {
		return ""
	}
	w := strings.NewReplacer("`", "", `"`, "").Replace(sql[i+len(" WHERE "):])
	return strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(w, " ")))
}

var schemaQualifier = regexp.MustCompile(`\b[a-zA-Z_][a-zA-Z0-9_]*\.([a-zA-Z_][a-zA-Z0-9_]*_seq)\b`)

func describePostgres(tx *gorm.DB) (schemaDesc, error) {
	d := schemaDesc{}
	var cols []struct {
		TableName     string
		ColumnName    string
		DataType      string
		CharMax       *int
		IsNullable    string
		ColumnDefault *string
	}
	err := tx.Raw(`SELECT table_name, column_name, data_type, character_maximum_length AS char_max, is_nullable, column_default
		FROM information_schema.columns WHERE table_schema = current_schema()`).Scan(&cols).Error
	if err != nil {
		return nil, fmt.Errorf("describe columns: %w", err)
	}
	for _, c := range cols {
		if slices.Contains(bookkeeping, c.TableName) {
			continue
		}
		line := fmt.Sprintf("column %s.%s %s", c.TableName, c.ColumnName, c.DataType)
		if c.CharMax != nil {
			line += fmt.Sprintf("(%d)", *c.CharMax)
		}
		if c.IsNullable == "NO" {
			line += " not null"
		}
		if c.ColumnDefault != nil {
			line += " default " + schemaQualifier.ReplaceAllString(*c.ColumnDefault, "$1")
		}
		d[line] = true
	}
	var idxs []struct {
		Tablename string
		Indexname string
		Indexdef  string
	}
	if err := tx.Raw("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()").Scan(&idxs).Error; err != nil {
		return nil, fmt.Errorf("describe indexes: %w", err)
	}
	for _, ix := range idxs {
		if slices.Contains(bookkeeping, ix.Tablename) {
			continue
		}
		def := ix.Indexdef
		if i := strings.Index(def, " ON "); i >= 0 {
			rest := def[i+len(" ON "):]
			if dot := strings.Index(rest, "."); dot >= 0 && dot < strings.Index(rest+" ", " ") {
				rest = rest[dot+1:]
			}
			def = def[:i] + " ON " + rest
		}
		d["index "+ix.Indexname+": "+def] = true
	}
	var cons []struct {
		Relname string
		Conname string
		Def     string
	}
	err = tx.Raw(`SELECT cl.relname, co.conname, pg_get_constraintdef(co.oid) AS def
		FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
		WHERE co.connamespace = current_schema()::regnamespace`).Scan(&cons).Error
	if err != nil {
		return nil, fmt.Errorf("describe constraints: %w", err)
	}
	for _, c := range cons {
		if slices.Contains(bookkeeping, c.Relname) {
			continue
		}
		d[fmt.Sprintf("constraint %s on %s %s", c.Conname, c.Relname, c.Def)] = true
	}
	var seqs []string
	if err := tx.Raw("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()").Scan(&seqs).Error; err != nil {
		return nil, fmt.Errorf("describe sequences: %w", err)
	}
	for _, s := range seqs {
		if strings.HasPrefix(s, "schema_") {
			continue
		}
		d["sequence "+s] = true
	}
	return d, nil
}

// diffSchemas lists what want has that got lacks ("missing: …") and what got
// has that want lacks ("extra: …"), sorted.
func diffSchemas(want, got schemaDesc) []string {
	var out []string
	for l := range want {
		if !got[l] {
			out = append(out, "missing: "+l)
		}
	}
	for l := range got {
		if !want[l] {
			out = append(out, "extra:   "+l)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a[9:], b[9:]) })
	return out
}

// Pending lists the migrations not applied yet (the baseline of a
// pre-freeze database counts as pending until it is adopted).
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	files, err := loadMigrations(s.driver)
	if err != nil {
		return nil, err
	}
	var applied []appliedMigration
	var has bool
	q := "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_versions'"
	if s.driver == "sqlite" {
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'"
	}
	if err := s.DB.WithContext(ctx).Raw(q).Scan(&has).Error; err != nil {
		return nil, fmt.Errorf("look for schema_versions: %w", err)
	}
	if has {
		if applied, err = readApplied(s.DB.WithContext(ctx)); err != nil {
			return nil, err
		}
	}
	var pending []string
	for _, f := range files {
		if !slices.ContainsFunc(applied, func(a appliedMigration) bool { return a.Version == f.Version }) {
			pending = append(pending, f.Name)
		}
	}
	return pending, nil
}

func sqliteMemory() config.DatabaseConfig {
	return config.DatabaseConfig{Driver: "sqlite", DSN: ":memory:"}
}
