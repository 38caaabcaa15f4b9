package storage

import (
	"database/sql"
	"strconv"
	"strings"

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

// arg appends one placeholder bound to v.
func (q *rawSQL) arg(v any) *rawSQL {
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

// query runs the statement on tx's connection and returns its rows.
func (q *rawSQL) query(tx *gorm.DB) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(tx.Statement.Context, q.b.String(), q.args...)
}
