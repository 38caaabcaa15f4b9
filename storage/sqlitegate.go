package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
)

// SQLite lets one connection write at a time. When several of a process's
// connections want to write at once, the losers wait in SQLite's busy
// handler, which sleeps 1, 2, 5, 10… ms between tries: under load the file
// sits idle while writers sleep, and latency climbs in steps. The write gate
// makes this process's writers queue in Go instead, each starting the moment
// the one before it finishes. Reads (SELECT) never wait for it: WAL lets them
// run beside a writer. Other processes on the same file still meet the busy
// timeout, as before.

// writeGate is a one-slot semaphore whose waiters queue in arrival order.
type writeGate struct {
	slot chan struct{}
	wait time.Duration // the longest a writer waits, like busy_timeout
}

func newWriteGate(wait time.Duration) *writeGate {
	return &writeGate{slot: make(chan struct{}, 1), wait: wait}
}

// errGateTimeout says a writer gave up waiting for the others; the message
// matches what SQLite says when its own busy timeout runs out.
var errGateTimeout = errors.New("database is locked (SQLITE_BUSY): another write in this process held the database")

func (g *writeGate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slot <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slot <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, fmt.Errorf("after %s: %w", g.wait, errGateTimeout)
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-g.slot }) }, nil
}

// readOnly reports whether a statement only reads, so it may run without the
// gate. Anything else (INSERT, UPDATE, DELETE, PRAGMA, a WITH that may end
// in a write) takes it.
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "select") || len(q) >= 7 && strings.EqualFold(q[:7], "explain")
}

// gatedConnector opens connections of the wrapped driver that take the gate
// around writes and write transactions.
type gatedConnector struct {
	dsn  string
	drv  driver.Driver
	gate *writeGate
	// schema counts the statements that changed the schema, through any of
	// the connections: a connection that sees it move drops the statements
	// it kept compiled (stmtcache.go).
	schema atomic.Uint64
	// ckpt, for a database file, runs the checkpoints off the writer's
	// path (checkpoint.go); each connection's commits report to it.
	ckpt *checkpointer
}

func (c *gatedConnector) Connect(context.Context) (driver.Conn, error) {
	inner, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	conn, ok := inner.(gateableConn)
	if !ok || !hasPrepareContext(inner) {
		inner.Close()
		return nil, errors.New("sqlite driver lacks the context interfaces the write gate needs")
	}
	gc := &gatedConn{inner: conn, gate: c.gate, skipArgs: true, schema: &c.schema, schemaSeen: c.schema.Load()}
	if c.ckpt != nil {
		raw, ok := inner.(interface{ Raw() *sqlite3.Conn })
		if !ok {
			inner.Close()
			return nil, errors.New("sqlite driver does not expose its connection for the WAL hook")
		}
		gc.raw = raw.Raw()
		gc.raw.WALHook(c.ckpt.hook)
	}
	return gc, nil
}

func (c *gatedConnector) Driver() driver.Driver { return c.drv }

// gateableConn is what the gate needs of the driver's connections.
type gateableConn interface {
	driver.Conn
	driver.ConnBeginTx
}

func hasPrepareContext(c driver.Conn) bool {
	_, ok := c.(driver.ConnPrepareContext)
	return ok
}

// gatedConn is used by one goroutine at a time (database/sql's promise), so
// its tx field needs no lock.
type gatedConn struct {
	inner gateableConn
	gate  *writeGate
	// skipArgs: the driver runs a statement with arguments only prepared
	// (it answers ErrSkip).
	skipArgs bool
	tx       *gatedTx // the open transaction, which holds the gate
	// unsure is set when a COMMIT or ROLLBACK failed: SQLite may still be
	// inside that transaction, so database/sql must close the connection
	// (which ends it) rather than pool it.
	unsure bool
	stmts  stmtCache // compiled statements kept for reuse (stmtcache.go)
	// raw is the driver's SQLite connection, for the checkpointer (set
	// when the connector has one).
	raw *sqlite3.Conn
	// schema is the connector's count of schema changes; schemaSeen, its
	// value when stmts was last known to match the schema.
	schema     *atomic.Uint64
	schemaSeen uint64
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if now := c.schema.Load(); now != c.schemaSeen {
		c.schemaSeen = now
		if err := c.newSchema(ctx); err != nil {
			return nil, err
		}
	}
	if s := c.stmts.take(query); s != nil {
		return s, nil
	}
	st, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &keptStmt{gatedStmt: gatedStmt{inner: st, conn: c, write: !readOnly(query), ddl: changesSchema(query)}, query: query}
	if err := c.stmts.keep(s); err != nil {
		// Finalising the statement it evicted failed: the connection is in
		// a state nobody expects, so it is not pooled again.
		c.unsure = true
	}
	return s, nil
}

// newSchema catches the connection up with a schema another connection of
// the process changed. It finalises the statements it kept, and has SQLite
// read the schema again: SQLite compiles a statement against the schema the
// connection last read, and learns that it changed only when the statement
// first steps, too late for the column names database/sql has asked for by
// then (a `SELECT *` would answer with the old columns and then fail).
func (c *gatedConn) newSchema(ctx context.Context) error {
	if err := c.stmts.close(); err != nil {
		c.unsure = true
		return err
	}
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil
	}
	_, err := e.ExecContext(ctx, "SELECT 1 FROM sqlite_schema LIMIT 1", nil)
	return err
}

func (c *gatedConn) Close() error {
	return errors.Join(c.stmts.close(), c.inner.Close())
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	release, err := c.gate.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.inner.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	c.tx = &gatedTx{inner: tx, conn: c, release: release}
	return c.tx, nil
}

// gated takes the gate for a statement that writes outside a
// transaction and returns its release; inside one, the transaction already
// holds the gate.
func (c *gatedConn) gated(ctx context.Context, write bool) (release func(), err error) {
	if !write || c.tx != nil {
		return func() {}, nil
	}
	return c.gate.acquire(ctx)
}

// ExecContext and QueryContext pass a statement straight to the driver
// where it runs it so; otherwise (the ncruces driver, for a statement with
// arguments or any query) database/sql prepares it, and the gatedStmt takes
// the gate. ErrSkip comes before the gate, so a writer does not wait for it
// twice.

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok || len(args) != 0 && c.skipArgs {
		return nil, driver.ErrSkip
	}
	release, err := c.gated(ctx, !readOnly(query))
	if err != nil {
		return nil, err
	}
	defer release()
	if changesSchema(query) {
		defer c.schema.Add(1)
	}
	return e.ExecContext(ctx, query, args)
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	release, err := c.gated(ctx, !readOnly(query))
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		release()
		return nil, err
	}
	// An INSERT … RETURNING holds SQLite's write lock until its rows are
	// closed, so the gate is held as long.
	return &gatedRows{Rows: rows, release: release}, nil
}

func (c *gatedConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *gatedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *gatedConn) IsValid() bool {
	if c.unsure {
		return false
	}
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type gatedTx struct {
	inner   driver.Tx
	conn    *gatedConn
	release func()
}

// A failed COMMIT may leave SQLite inside the transaction (a deferred
// foreign key still violated, SQLITE_BUSY, a full disk), and a failed
// ROLLBACK may too, yet database/sql takes the transaction as finished and
// would pool the connection. Writes on it would then join a transaction
// nobody commits, and writers on other connections would wait on its lock
// with the gate released. Such a connection is reported invalid instead,
// and database/sql closes it, which ends the transaction.

func (t *gatedTx) Commit() error {
	defer t.done()
	err := t.inner.Commit()
	t.conn.unsure = err != nil
	return err
}

func (t *gatedTx) Rollback() error {
	defer t.done()
	err := t.inner.Rollback()
	t.conn.unsure = err != nil
	return err
}

func (t *gatedTx) done() {
	if t.conn.tx == t {
		t.conn.tx = nil
	}
	t.release()
}

type gatedRows struct {
	driver.Rows
	release func()
}

func (r *gatedRows) Close() error {
	defer r.release()
	return r.Rows.Close()
}

type gatedStmt struct {
	inner driver.Stmt
	conn  *gatedConn
	write bool
	ddl   bool // it may change the schema
}

func (s *gatedStmt) Close() error  { return s.inner.Close() }
func (s *gatedStmt) NumInput() int { return s.inner.NumInput() }

func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	release, err := s.conn.gated(ctx, s.write)
	if err != nil {
		return nil, err
	}
	defer release()
	if s.ddl {
		defer s.conn.schema.Add(1)
	}
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return s.inner.Exec(values(args)) //nolint:staticcheck // the driver has no context variant
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	release, err := s.conn.gated(ctx, s.write)
	if err != nil {
		return nil, err
	}
	var rows driver.Rows
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		rows, err = s.inner.Query(values(args)) //nolint:staticcheck // the driver has no context variant
	}
	if err != nil {
		release()
		return nil, err
	}
	return &gatedRows{Rows: rows, release: release}, nil
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// The column-type interfaces pass through, so database/sql reports the same
// column types with the gate as without it.

func (r *gatedRows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *gatedRows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *gatedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *gatedRows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *gatedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// openGatedSQLite opens the SQLite driver (ncruces/go-sqlite3: SQLite
// compiled to Go, no cgo) with this process's writers queued at one write
// gate and, when path is a database file, with a checkpointer for it
// (checkpoint.go), which the caller closes before the pool.
func openGatedSQLite(dsn, path string) (*sql.DB, *checkpointer) {
	c := &gatedConnector{dsn: dsn, drv: &sqlitedriver.SQLite{}, gate: newWriteGate(busyTimeout)}
	if path != "" && path != ":memory:" {
		c.ckpt = newCheckpointer(c.gate)
	}
	db := sql.OpenDB(c)
	if c.ckpt != nil {
		c.ckpt.db = db
	}
	return db, c.ckpt
}
