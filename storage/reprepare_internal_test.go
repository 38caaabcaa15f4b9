package storage

import (
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// reprepares runs query three times on a connection of its own to the
// migrated file at path, each time as database/sql through the driver
// does: bind, step to the end, reset, clear the bindings. It returns how
// many times SQLite compiled the statement again (STMTSTATUS_REPREPARE).
func reprepares(t *testing.T, path, query string, args []any) int {
	t.Helper()
	c, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, _, err := c.Prepare(query)
	if err != nil {
		t.Fatalf("prepare %q: %v", query, err)
	}
	defer st.Close()
	if st.BindCount() != len(args) {
		t.Fatalf("%q has %d parameters, given %d", query, st.BindCount(), len(args))
	}
	for run := range 3 {
		for i, a := range args {
			var err error
			switch v := a.(type) {
			case time.Time:
				// Each run at a later time, as the notifier claims.
				err = st.BindText(i+1, v.Add(time.Duration(run)*time.Second).Format(sqliteTime))
			case string:
				err = st.BindText(i+1, v)
			case int:
				err = st.BindInt(i+1, v)
			default:
				t.Fatalf("no binding for %T", a)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for st.Step() {
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if err := st.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := st.ClearBindings(); err != nil {
			t.Fatal(err)
		}
	}
	return st.Status(sqlite3.STMTSTATUS_REPREPARE, false)
}

// TestNotifierClaimCompilesOnce: the query that finds due lane heads, run
// by the notifier several times a second under load, stays compiled from
// one run to the next; with its LIMIT bound it was compiled anew at every
// run, in the group commit's single writer.
func TestNotifierClaimCompilesOnce(t *testing.T) {
	t.Parallel()
	s, path := openFile(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, scope := range []OutboxScope{
		{LanePrefix: "slack:"},
		{Platforms: []string{"slack", "discord"}},
		{Platforms: []string{"discord"}, LanePrefix: "discord:"},
	} {
		q, args := dueQuery("sqlite", scope, now, 32)
		// The text as gorm sends it: a list argument becomes one
		// placeholder per element.
		var flat []any
		for _, a := range args {
			if l, ok := a.([]string); ok {
				q = strings.Replace(q, "IN ?", "IN (?"+strings.Repeat(", ?", len(l)-1)+")", 1)
				for _, e := range l {
					flat = append(flat, e)
				}
				continue
			}
			flat = append(flat, a)
		}
		if n := reprepares(t, path, q, flat); n != 0 {
			t.Errorf("scope %+v: the due query was compiled again %d times in 3 runs", scope, n)
		}
	}

	// The probe sees a recompilation where there is one: the same query
	// with its LIMIT bound.
	q, args := dueQuery("sqlite", OutboxScope{LanePrefix: "slack:"}, now, 32)
	q = strings.Replace(q, "LIMIT 32", "LIMIT ?", 1)
	if n := reprepares(t, path, q, append(args, 32)); n == 0 {
		t.Error("the probe saw no recompilation of the query with a bound LIMIT; it cannot tell the fix from the fault")
	}
}
