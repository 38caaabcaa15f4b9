package storage

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs"
)

var walTestVFS atomic.Int64

// openWALCounted opens a SQLite file as the store does, through a walVFS of
// its own whose counts only this test sees.
func openWALCounted(t *testing.T, path string, params ...string) (*sql.DB, *walCounts) {
	t.Helper()
	n := new(walCounts)
	name := fmt.Sprintf("%s-test-%d", walVFSName, walTestVFS.Add(1))
	vfs.Register(name, walVFS{VFS: vfs.Find(""), n: n})
	t.Cleanup(func() { vfs.Unregister(name) })
	dsn, _ := sqliteDSN(path + "?vfs=" + name + strings.Join(params, ""))
	db, _ := openGatedSQLite(dsn, "")
	t.Cleanup(func() { db.Close() })
	if err := createNotes(db); err != nil {
		t.Fatal(err)
	}
	return db, n
}

// createNotes makes the table the WAL tests write: rows with a blob and an
// indexed tag, so a row changes a table page and an index page.
func createNotes(db *sql.DB) error {
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body BLOB, tag TEXT)",
		"CREATE INDEX IF NOT EXISTS notes_tag ON notes (tag)",
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// insertNotes commits one transaction of n rows of size bytes each.
func insertNotes(db *sql.DB, n, size int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := range n {
		if _, err := tx.Exec("INSERT INTO notes (body, tag) VALUES (randomblob(?), ?)", size, "t"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func countNotes(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
}

// TestWALGathersATransactionIntoOneWrite: a transaction of many pages
// reaches the operating system as one write; a one-page transaction as the
// two SQLite asked for.
func TestWALGathersATransactionIntoOneWrite(t *testing.T) {
	t.Parallel()
	db, n := openWALCounted(t, filepath.Join(t.TempDir(), "gather.db"))

	asked, written := n.asked.Load(), n.written.Load()
	if err := insertNotes(db, 8, 3000); err != nil {
		t.Fatal(err)
	}
	da, dw := n.asked.Load()-asked, n.written.Load()-written
	if da < 16 || dw != 1 {
		t.Fatalf("an 8-row transaction of 3 KB rows: SQLite asked for %d writes, %d reached the file; want at least 16 and 1", da, dw)
	}

	// One small row in a table that already has pages: a one-frame
	// transaction, header and page written as they come.
	mustExec(t, db, "CREATE TABLE tiny (v INTEGER)")
	asked, written = n.asked.Load(), n.written.Load()
	mustExec(t, db, "INSERT INTO tiny VALUES (1)")
	da, dw = n.asked.Load()-asked, n.written.Load()-written
	if da != 2 || dw != 2 {
		t.Fatalf("a one-page transaction: asked %d, written %d; want 2 and 2", da, dw)
	}
}

// TestWALCommitsAreSeenByAnotherPool: after every COMMIT returns, a second
// pool of connections on the same file (another replica) reads the rows,
// for transactions of one page and of many, over several restarts of the WAL.
func TestWALCommitsAreSeenByAnotherPool(t *testing.T) {
	t.Parallel()
	normal := seenByAnotherPool(t)
	// Without powersafe overwrite (psow=0), synchronous=FULL pads every
	// commit to a sector boundary with copies of the commit frame and
	// splits the write that crosses the boundary to sync there: those go
	// out as they come.
	padded := seenByAnotherPool(t, "&psow=0&_pragma=synchronous(FULL)")
	if padded < normal*6/5 {
		t.Errorf("with psow=0 and synchronous=FULL SQLite asked for %d writes, without %d: no padding frames were written", padded, normal)
	}
}

// seenByAnotherPool runs the test on a file opened with params and returns
// how many writes SQLite asked for.
func seenByAnotherPool(t *testing.T, params ...string) int64 {
	path := filepath.Join(t.TempDir(), "seen.db")
	w, n := openWALCounted(t, path, params...)
	r, _ := openWALCounted(t, path, params...)
	mustExec(t, w, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
	mustExec(t, w, "INSERT INTO counter VALUES (1, 0)")
	want := 0
	for i := range 300 {
		// A one-page transaction.
		mustExec(t, w, "UPDATE counter SET n = n + 1 WHERE id = 1")
		var c int
		if err := r.QueryRow("SELECT n FROM counter WHERE id = 1").Scan(&c); err != nil || c != i+1 {
			t.Fatalf("after one-page commit %d the other pool reads %d (%v), want %d", i, c, err, i+1)
		}
		rows := 1 + i%7
		size := 20
		if i%3 == 0 {
			size = 5000 // rows spanning overflow pages
		}
		if err := insertNotes(w, rows, size); err != nil {
			t.Fatal(err)
		}
		want += rows
		if got := countNotes(t, r); got != want {
			t.Fatalf("after commit %d the other pool counts %d rows, want %d", i, got, want)
		}
		if i%50 == 49 {
			// Copy the WAL back so the next commit starts it over at the
			// beginning of the file.
			mustExec(t, w, "PRAGMA wal_checkpoint(TRUNCATE)")
		}
	}
	if len(params) == 0 && n.written.Load() >= n.asked.Load()/2 {
		t.Fatalf("%d writes reached the file of %d asked: nothing was gathered", n.written.Load(), n.asked.Load())
	}
	integrityOK(t, r)
	return n.asked.Load()
}

// TestWALSpilledTransactionRollsBack: a transaction larger than the page
// cache and than what one connection gathers writes frames before its
// commit; rolled back, none of it is seen, and the next commits are whole.
func TestWALSpilledTransactionRollsBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "spill.db")
	w, n := openWALCounted(t, path)
	r, _ := openWALCounted(t, path)
	if err := insertNotes(w, 3, 100); err != nil {
		t.Fatal(err)
	}
	if err := bigTx(t, w).Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := countNotes(t, r); got != 3 {
		t.Fatalf("after the rollback the other pool counts %d rows, want 3", got)
	}
	// The same, committed this time.
	if err := bigTx(t, w).Commit(); err != nil {
		t.Fatal(err)
	}
	if err := insertNotes(w, 2, 10); err != nil {
		t.Fatal(err)
	}
	if l := n.largest.Load(); l < walGatherLimit || l > walBufSize {
		t.Errorf("the largest gathered write was %d bytes; want it between the gather limit %d and the buffer's size %d", l, walGatherLimit, walBufSize)
	}
	if got := countNotes(t, r); got != 605 {
		t.Fatalf("the other pool counts %d rows, want 605", got)
	}
	var tag string
	if err := r.QueryRow("SELECT tag FROM notes WHERE id = 1").Scan(&tag); err != nil || tag != "t0"+strings.Repeat(".", 12) {
		t.Fatalf("row 1's tag %q (%v), want t0 and twelve dots", tag, err)
	}
	integrityOK(t, r)
}

// bigTx begins a transaction of 3 MiB (against a 1 MiB page cache and a
// 128 KiB gather limit) that also changes the first rows again every 50
// inserts, so that pages already spilled to the WAL are written there a
// second time, in place; the caller ends it.
func bigTx(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 600 {
		if _, err := tx.Exec("INSERT INTO notes (body, tag) VALUES (randomblob(5000), ?)", "big"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := tx.Exec("UPDATE notes SET tag = tag || '.' WHERE id <= 3"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tx
}

// TestWALCommitsSurviveSIGKILL: a process commits transactions of one to
// many pages and says so after each COMMIT returns; killed with SIGKILL at
// any point, every transaction it said it committed is in the file.
func TestWALCommitsSurviveSIGKILL(t *testing.T) {
	if path := os.Getenv("OPSBOT_WALKILL_CHILD"); path != "" {
		walKillChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	t.Parallel()
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "killed.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestWALCommitsSurviveSIGKILL$")
		cmd.Env = append(os.Environ(), "OPSBOT_WALKILL_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		said, commits := 0, 0
		stop := 150 + 97*round
		for sc.Scan() {
			line := sc.Text()
			v, ok := strings.CutPrefix(line, "committed ")
			if !ok {
				continue
			}
			said, _ = strconv.Atoi(v)
			if commits++; commits == stop {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		if commits < stop {
			t.Fatalf("round %d: the child stopped after %d commits: %v", round, commits, sc.Err())
		}
		db, _ := openWALCounted(t, path)
		if got := countNotes(t, db); got < said {
			t.Fatalf("round %d: the killed process said %d rows were committed; the file has %d", round, said, got)
		}
		integrityOK(t, db)
	}
}

func walKillChild(path string) {
	dsn, _ := sqliteDSN(path)
	db, _ := openGatedSQLite(dsn, "")
	if err := createNotes(db); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	total := 0
	for i := 0; ; i++ {
		rows, size := 1+i%5, 30
		if i%4 == 0 {
			size = 4500
		}
		if err := insertNotes(db, rows, size); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		total += rows
		fmt.Printf("committed %d\n", total)
	}
}
