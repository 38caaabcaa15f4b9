package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// rawSQL builds one statement for the hot paths that write or read many
// rows at once (the write-behind's flush), where building it through gorm
// (a clause and a reflected value per variable) cost more than the
// database's own work. Arguments are bound as database/sql binds them, in
// the dialect's placeholders.
type rawSQL struct {
	b    strings.Builder
	args []any
	pg   bool
}

func newRawSQL(tx *gorm.DB, capArgs int) *rawSQL {
	return &rawSQL{args: make([]any, 0, capArgs), pg: tx.Dialector.Name() == "postgres"}
}

// sql appends text to the statement.
func (q *rawSQL) sql(s string) *rawSQL {
	q.b.WriteString(s)
	return q
}

// row appends a parenthesised list of placeholders, one per value, with a
// comma before it unless it is the first.
func (q *rawSQL) row(first bool, vals ...any) *rawSQL {
	if !first {
		q.b.WriteString(", ")
	}
	q.b.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.arg(v)
	}
	q.b.WriteByte(')')
	return q
}

// arg appends one placeholder bound to v. Text that is not UTF-8 has its
// bad bytes replaced: PostgreSQL refuses such text and a JSON batch cannot
// carry it, and one bad message must not fail a whole batch.
func (q *rawSQL) arg(v any) *rawSQL {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			v = strings.ToValidUTF8(x, "\uFFFD")
		}
	case *string:
		if x != nil && !utf8.ValidString(*x) {
			v = strings.ToValidUTF8(*x, "\uFFFD")
		}
	}
	q.args = append(q.args, v)
	if q.pg {
		q.b.WriteByte('$')
		q.b.WriteString(strconv.Itoa(len(q.args)))
	} else {
		q.b.WriteByte('?')
	}
	return q
}

// exec runs the statement on tx's connection (its transaction, when it is
// one).
func (q *rawSQL) exec(tx *gorm.DB) error {
	_, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q.b.String(), q.args...)
	return err
}

// affected runs the statement as exec does and returns how many rows it
// changed.
func (q *rawSQL) affected(tx *gorm.DB) (int64, error) {
	res, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q.b.String(), q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// query runs the statement on tx's connection and returns its rows.
func (q *rawSQL) query(tx *gorm.DB) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(tx.Statement.Context, q.b.String(), q.args...)
}

// queryRow runs the statement on tx's connection for its one row.
func (q *rawSQL) queryRow(tx *gorm.DB) *sql.Row {
	return tx.Statement.ConnPool.QueryRowContext(tx.Statement.Context, q.b.String(), q.args...)
}

// sqliteTime is how the SQLite driver writes a time.Time (its default
// format), so a time written through a JSON batch reads, sorts and compares
// as one bound by the driver does.
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

// values appends rows, each of ncols values, as the row source of an
// INSERT. On PostgreSQL that is a VALUES list. On SQLite it is one JSON
// array bound as one argument and read back with json_each, so a batch of
// any size is the same short statement text: the connection keeps it
// compiled (stmtcache.go), where a VALUES list would be a new text of up to
// a thousand placeholders, compiled anew, for every batch size. (It was
// chosen under the earlier driver, which re-parsed every statement and
// matched each argument to its placeholder by a scan of all of them.)
func (q *rawSQL) values(ncols int, rows [][]any) *rawSQL {
	if q.pg {
		q.sql("VALUES ")
		for i, r := range rows {
			q.row(i == 0, r...)
		}
		return q
	}
	q.sql("SELECT ")
	for c := range ncols {
		if c > 0 {
			q.sql(", ")
		}
		q.sql("value ->> " + strconv.Itoa(c))
	}
	q.sql(" FROM json_each(")
	b := make([]byte, 0, 64*len(rows)*ncols/4+2)
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range r {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	// WHERE true: SQLite reads an ON CONFLICT after INSERT … SELECT as
	// part of the SELECT's join unless the SELECT has a WHERE.
	return q.arg(string(b)).sql(") WHERE true")
}

// in appends a parenthesised list of the strings for IN: placeholders on
// PostgreSQL, a JSON array read with json_each on SQLite (see values).
func (q *rawSQL) in(ss []string) *rawSQL {
	if q.pg {
		q.sql("(")
		for i, s := range ss {
			if i > 0 {
				q.sql(", ")
			}
			q.arg(s)
		}
		return q.sql(")")
	}
	b := make([]byte, 0, 16*len(ss)+2)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	b = append(b, ']')
	return q.sql("(SELECT value FROM json_each(").arg(string(b)).sql("))")
}

// appendJSON appends v, one of the types the batches bind, as JSON.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case *string:
		if x == nil {
			return append(b, "null"...)
		}
		return appendJSONString(b, *x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		// ->> reads JSON true and false as 1 and 0, what the driver binds.
		return strconv.AppendBool(b, x)
	case time.Time:
		b = append(b, '"')
		b = x.AppendFormat(b, sqliteTime)
		return append(b, '"')
	default:
		panic(fmt.Sprintf("storage: no JSON form for %T in a batch", v))
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// insertRow inserts one row, the values in the order of cols, and returns
// its id: for the inserts every filed ticket makes (the ticket, its first
// event, its audit entry), where gorm's Create (the model reflected, a
// clause per value, the RETURNING scanned through reflection) cost as much
// as SQLite's own work, and ran while the group commit held the write lock.
func insertRow(tx *gorm.DB, table, cols string, vals ...any) (int64, error) {
	q := newRawSQL(tx, len(vals))
	q.sql("INSERT INTO ").sql(table).sql(" (").sql(cols).sql(") VALUES ").row(true, vals...).sql(" RETURNING id")
	var id int64
	err := q.queryRow(tx).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("insert into %s returned no id", table)
	}
	return id, err
}
