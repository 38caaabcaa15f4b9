package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// openOneConn opens a SQLite file through the write gate with one pooled
// connection, so every statement meets the same statement cache.
func openOneConn(t *testing.T) *sql.DB {
	t.Helper()
	dsn, _ := sqliteDSN(filepath.Join(t.TempDir(), "stmts.db"))
	db, _ := openGatedSQLite(dsn, "")
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// kept returns the connection's kept statement for query (nil if none) and
// how many statements it keeps.
func kept(t *testing.T, db *sql.DB, query string) (*keptStmt, int) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var s *keptStmt
	var n int
	err = conn.Raw(func(dc any) error {
		c := dc.(*gatedConn)
		if e, ok := c.stmts.byText[query]; ok {
			s = e.Value.(*keptStmt)
			if s.lent {
				t.Errorf("%q is still lent out after its use ended", query)
			}
		}
		n = c.stmts.order.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, n
}

func mustExec(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestStmtCacheReusesAndStaysCorrect: a statement text run again on a
// connection runs its kept compiled statement, and reuse changes no
// answer: after a failed run, after the schema changed, with the same text
// open twice at once in a transaction.
func TestStmtCacheReusesAndStaysCorrect(t *testing.T) {
	t.Parallel()
	db := openOneConn(t)
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)`)

	const insert = `INSERT INTO t (v) VALUES (?)`
	mustExec(t, db, insert, "a")
	first, _ := kept(t, db, insert)
	if first == nil {
		t.Fatal("an INSERT with arguments was not kept compiled")
	}
	mustExec(t, db, insert, "b")
	// A failed run (the UNIQUE constraint) leaves the statement usable.
	if _, err := db.Exec(insert, "a"); err == nil {
		t.Fatal("a duplicate insert succeeded")
	}
	mustExec(t, db, insert, "c")
	if again, _ := kept(t, db, insert); again != first {
		t.Fatal("the same text was compiled again instead of reused")
	}

	// The same query open twice at once in one transaction: the second is
	// compiled apart, and each reads every row from its own cursor.
	const list = `SELECT v FROM t WHERE id > ? ORDER BY id`
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.Query(list, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v string
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.Query(list, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d", v, n))
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a:3 b:3 c:3]" {
		t.Fatalf("nested reads of one text = %v, want [a:3 b:3 c:3]", got)
	}
	if s, _ := kept(t, db, list); s == nil {
		t.Fatal("the query was not kept")
	}

	// After the schema changes, the kept statement answers for the new one.
	const one = `SELECT * FROM t WHERE id = ?`
	rows, err := db.Query(one, 1)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	mustExec(t, db, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'`)
	var id int
	var v, w string
	if err := db.QueryRow(one, 1).Scan(&id, &v, &w); err != nil {
		t.Fatalf("the kept query after ALTER TABLE (it had %d columns): %v", len(cols), err)
	}
	if v != "a" || w != "x" {
		t.Fatalf("after ALTER TABLE got v=%q w=%q", v, w)
	}
}

// TestStmtCacheEvictsAndClosesCleanly: a connection keeps at most
// stmtCacheSize statements; one evicted while its rows are still being read
// finishes them and is finalised when they close; and the connection then
// closes without a statement left behind (SQLite refuses to close one that
// has).
func TestStmtCacheEvictsAndClosesCleanly(t *testing.T) {
	t.Parallel()
	db := openOneConn(t)
	mustExec(t, db, `CREATE TABLE n (i INTEGER)`)
	for i := range 5 {
		mustExec(t, db, `INSERT INTO n (i) VALUES (?)`, i)
	}

	const held = `SELECT i FROM n WHERE i >= ? ORDER BY i`
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(context.Background(), held, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no first row")
	}
	// Push the held statement out of the cache with other texts while its
	// rows are open.
	for k := range stmtCacheSize + 10 {
		var got int
		if err := conn.QueryRowContext(context.Background(), fmt.Sprintf("SELECT ? + %d", k), 1).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != k+1 {
			t.Fatalf("SELECT 1 + %d = %d", k, got)
		}
	}
	n := 1
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("the evicted statement's rows gave %d rows, want 5", n)
	}
	conn.Close()
	s, size := kept(t, db, held)
	if s != nil {
		t.Fatal("the held statement is still kept after more than stmtCacheSize other texts")
	}
	if size != stmtCacheSize {
		t.Fatalf("the connection keeps %d statements, want %d", size, stmtCacheSize)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("closing the connection with kept statements: %v", err)
	}
}

func TestChangesSchema(t *testing.T) {
	t.Parallel()
	for query, want := range map[string]bool{
		`CREATE TABLE t (id INTEGER)`:                              true,
		"  alter table t add column x text":                        true,
		"-- 0042: drop the old index\nDROP INDEX i":                true,
		"/* a note */ create index i on t (x)":                     true,
		"INSERT INTO t (v) VALUES (1);\n\tCREATE TABLE u (id INT)": true,
		`INSERT INTO tickets (created_at, dropped) VALUES (?, ?)`:  false,
		`SELECT * FROM alerts WHERE created_at > ?`:                false,
		`UPDATE t SET altered = 1`:                                 false,
		`SAVEPOINT sp1`:                                            false,
		"-- only a comment":                                        false,
		`createx`:                                                  false,
		``:                                                         false,
	} {
		if got := changesSchema(query); got != want {
			t.Errorf("changesSchema(%q) = %v, want %v", query, got, want)
		}
	}
}

// TestStmtCacheFollowsSchemaChangedElsewhere: a connection that kept
// `SELECT *` compiled answers with the new columns after another connection
// of the process altered the table (SQLite would step the old statement
// with its old column count and fail).
func TestStmtCacheFollowsSchemaChangedElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openOneConn(t)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
	mustExec(t, db, `INSERT INTO t (v) VALUES (?)`, "a")
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const one = `SELECT * FROM t WHERE id = ?`
	var id int
	var v string
	if err := a.QueryRowContext(ctx, one, 1).Scan(&id, &v); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	var w string
	if err := a.QueryRowContext(ctx, one, 1).Scan(&id, &v, &w); err != nil {
		t.Fatalf("the kept query after another connection's ALTER TABLE: %v", err)
	}
	if v != "a" || w != "x" {
		t.Fatalf("after ALTER TABLE got v=%q w=%q", v, w)
	}
}
