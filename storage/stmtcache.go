package storage

import (
	"container/list"
	"errors"
	"strings"
)

// SQLite compiles every statement before it runs it, and the driver runs a
// statement with arguments, and every query, only prepared: database/sql
// prepares it, runs it once and closes it. Under load that compiling was a
// tenth of opsbot's CPU, for the same few dozen statement texts over and
// over. Each connection therefore keeps its most recently used statements
// compiled, by their text, and lends one out while it runs; closing it gives
// it back. A text already lent out (a second query open on the same
// connection inside a transaction) is compiled afresh and finalised when it
// is closed, so two uses never share one statement.
//
// A kept statement holds no lock and no open read (the driver resets it when
// its rows are closed or its Exec ends); SQLite recompiles it by itself when
// the schema changes. Statements with no arguments that the driver runs
// directly (the migrations' multi-statement files among them) never come
// here.

// stmtCacheSize is how many statements a connection keeps compiled: more
// than the texts a busy request path uses, few enough that texts used once
// (a multi-row insert of an unusual size) fall out soon.
const stmtCacheSize = 64

// stmtCache is a connection's kept statements, most recently used first.
// database/sql uses a connection from one goroutine at a time, so it needs
// no lock.
type stmtCache struct {
	byText map[string]*list.Element // of *keptStmt
	order  list.List                // front: most recently used
}

// keptStmt is a statement the cache compiled.
type keptStmt struct {
	gatedStmt
	query string
	lent  bool // handed out and not closed yet
	kept  bool // in the cache; once evicted, its Close finalises it
}

// Close gives a kept statement back, or finalises one the cache let go.
func (s *keptStmt) Close() error {
	s.lent = false
	if s.kept {
		return nil
	}
	return s.inner.Close()
}

// take lends out the kept statement for query, if one is idle.
func (c *stmtCache) take(query string) *keptStmt {
	e, ok := c.byText[query]
	if !ok {
		return nil
	}
	s := e.Value.(*keptStmt)
	if s.lent {
		return nil
	}
	s.lent = true
	c.order.MoveToFront(e)
	return s
}

// keep adds a newly compiled statement, lent out, unless its text is
// already kept (then s is finalised when closed); the least recently used
// statement makes room.
func (c *stmtCache) keep(s *keptStmt) error {
	s.lent = true
	if _, ok := c.byText[s.query]; ok {
		return nil
	}
	if c.byText == nil {
		c.byText = make(map[string]*list.Element, stmtCacheSize)
	}
	s.kept = true
	c.byText[s.query] = c.order.PushFront(s)
	if c.order.Len() <= stmtCacheSize {
		return nil
	}
	return c.evict(c.order.Back())
}

func (c *stmtCache) evict(e *list.Element) error {
	s := c.order.Remove(e).(*keptStmt)
	delete(c.byText, s.query)
	s.kept = false
	if s.lent {
		return nil // finalised when its user closes it
	}
	return s.inner.Close()
}

// close finalises every kept statement, before the connection closes
// (SQLite will not close a connection with statements left).
func (c *stmtCache) close() error {
	var errs []error
	for c.order.Len() > 0 {
		errs = append(errs, c.evict(c.order.Front()))
	}
	return errors.Join(errs...)
}

// changesSchema reports whether a statement may change the schema (so every
// connection's kept statements are dropped after it): one of its statements
// begins with CREATE, ALTER or DROP. A semicolon inside a string may make it
// answer yes for nothing, which only costs the connections their kept
// statements.
func changesSchema(query string) bool {
	start := true // at the beginning of a statement
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == ';':
			start = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case strings.HasPrefix(query[i:], "--"):
			if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
				i += j
			} else {
				return false
			}
		case strings.HasPrefix(query[i:], "/*"):
			if j := strings.Index(query[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				return false
			}
		case start:
			for _, kw := range [...]string{"create", "alter", "drop"} {
				if len(query)-i > len(kw) && strings.EqualFold(query[i:i+len(kw)], kw) && !isWordByte(query[i+len(kw)]) {
					return true
				}
			}
			start = false
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
}
