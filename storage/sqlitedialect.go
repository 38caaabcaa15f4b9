package storage

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"
)

// sqliteDialector is gorm's SQLite dialect over the ncruces driver, opsbot's
// own: the schema comes from frozen SQL files, so gorm needs only to build
// queries (RETURNING, ON CONFLICT, LIMIT), quote names, translate
// constraint errors, and answer which tables exist. A dialect from another
// SQLite driver's module would link that driver's engine too (and its pages
// would be resident: about 3 MB).
type sqliteDialector struct {
	conn *sql.DB
}

func (d sqliteDialector) Name() string { return "sqlite" }

func (d sqliteDialector) Initialize(db *gorm.DB) error {
	db.ConnPool = d.conn
	// SQLite has had RETURNING since 3.35; the engine linked is 3.54.
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	db.ClauseBuilders["FOR"] = func(c clause.Clause, b clause.Builder) {
		// SQLite has no row locks: a write transaction holds the file.
		if _, ok := c.Expression.(clause.Locking); ok {
			return
		}
		c.Build(b)
	}
	db.ClauseBuilders["LIMIT"] = func(c clause.Clause, b clause.Builder) {
		l, ok := c.Expression.(clause.Limit)
		if !ok {
			c.Build(b)
			return
		}
		// SQLite wants a LIMIT before an OFFSET; -1 is none.
		n := -1
		if l.Limit != nil && *l.Limit >= 0 {
			n = *l.Limit
		}
		if n >= 0 || l.Offset > 0 {
			b.WriteString("LIMIT " + strconv.Itoa(n))
		}
		if l.Offset > 0 {
			b.WriteString(" OFFSET " + strconv.Itoa(l.Offset))
		}
	}
	return nil
}

func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return sqliteMigrator{migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d}}}
}

func (d sqliteDialector) DataTypeOf(f *schema.Field) string {
	switch f.DataType {
	case schema.Bool:
		return "numeric"
	case schema.Int, schema.Uint:
		if f.AutoIncrement {
			return "integer PRIMARY KEY AUTOINCREMENT"
		}
		return "integer"
	case schema.Float:
		return "real"
	case schema.String:
		return "text"
	case schema.Time:
		return "datetime"
	case schema.Bytes:
		return "blob"
	}
	return string(f.DataType)
}

func (d sqliteDialector) DefaultValueOf(f *schema.Field) clause.Expression {
	if f.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

func (d sqliteDialector) BindVarTo(w clause.Writer, _ *gorm.Statement, _ any) { w.WriteByte('?') }

// QuoteTo quotes each dot-separated part of a name in double quotes,
// doubling any inside.
func (d sqliteDialector) QuoteTo(w clause.Writer, name string) {
	for i, part := range strings.Split(name, ".") {
		if i > 0 {
			w.WriteByte('.')
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(part, `"`, `""`))
		w.WriteByte('"')
	}
}

func (d sqliteDialector) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `'`, vars...)
}

func (d sqliteDialector) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

func (d sqliteDialector) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}

// Translate turns the driver's constraint errors into gorm's, for
// TranslateError.
func (d sqliteDialector) Translate(err error) error {
	var e *sqlite3.Error
	if errors.As(err, &e) {
		switch e.ExtendedCode() {
		case sqlite3.CONSTRAINT_UNIQUE, sqlite3.CONSTRAINT_PRIMARYKEY:
			return gorm.ErrDuplicatedKey
		case sqlite3.CONSTRAINT_FOREIGNKEY:
			return gorm.ErrForeignKeyViolated
		}
	}
	return err
}

// sqliteMigrator answers which tables exist from sqlite_master; gorm's
// generic migrator would ask information_schema, which SQLite lacks.
type sqliteMigrator struct{ migrator.Migrator }

func (m sqliteMigrator) HasTable(value any) bool {
	name := m.tableName(value)
	var n int
	m.DB.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Row().Scan(&n)
	return n > 0
}

func (m sqliteMigrator) GetTables() ([]string, error) {
	var names []string
	err := m.DB.Raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").
		Scan(&names).Error
	return names, err
}

func (m sqliteMigrator) tableName(value any) string {
	if s, ok := value.(string); ok {
		return s
	}
	stmt := &gorm.Statement{DB: m.DB}
	if err := stmt.Parse(value); err != nil {
		return ""
	}
	return stmt.Table
}
