package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/storage"
)

// TestKilledWhileResultsAreBehind runs serve with 20 checks every second,
// their steady results written behind once a second, makes one check fail
// and kills the process with SIGKILL as soon as that transition is stored.
// After the crash the transition and the state written with it are there,
// and every check's history reaches to within a few seconds of the kill: the
// buffer lost at most its last flush, not the run.
func TestKilledWhileResultsAreBehind(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && strings.HasSuffix(r.URL.Path, "/00") {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	db := filepath.Join(dir, "opsbot.db")
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: %q}\nchecks:\n", db)
	const n = 20
	for i := range n {
		fmt.Fprintf(&b, "  - {name: web-%02d, kind: http, url: %q, every: 1s, timeout: 1s, failures: 2}\n",
			i, fmt.Sprintf("%s/svc/%02d", target.URL, i))
	}
	p := binary.Serve(t, dir, b.String())
	st, err := storage.Connect(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	count := func(q string, args ...any) int64 {
		var v int64
		if err := st.DB.Raw(q, args...).Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Steady state for a while: each check's first run is written at once,
	// the rest behind.
	harness.WaitUntil(t, time.Minute, "five stored results of every check", func() bool {
		return count(`SELECT count(*) FROM (SELECT "check" FROM check_results GROUP BY "check" HAVING count(*) >= 5) AS c`) == n
	})
	failing.Store(true)
	harness.WaitUntil(t, time.Minute, "web-00's failure to be stored", func() bool {
		return count(`SELECT count(*) FROM check_results WHERE "check" = 'web-00' AND NOT ok`) > 0
	})
	killed := time.Now()
	p.Stop() // SIGKILL
	st.Close()

	st, err = storage.Connect(context.Background(), config.DatabaseConfig{Driver: "sqlite", DSN: db})
	if err != nil {
		t.Fatal(err)
	}
	// The transition is there, with the state written in its transaction.
	if count(`SELECT count(*) FROM check_results WHERE "check" = 'web-00' AND NOT ok`) == 0 {
		t.Fatal("the stored failure of web-00 is gone after the crash")
	}
	var s storage.CheckState
	if err := st.DB.Where(`"check" = ?`, "web-00").Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	if s.LastOK || s.Failures < 1 {
		t.Errorf("web-00's state after the crash %+v: the failure's state must be stored with it", s)
	}
	// Every check's steady history reaches close to the kill: the flushes
	// ran all along, one a second.
	var latest []storage.CheckResult
	for i := range n {
		var r storage.CheckResult
		if err := st.DB.Where(`"check" = ?`, fmt.Sprintf("web-%02d", i)).Order("at DESC").Take(&r).Error; err != nil {
			t.Fatalf("web-%02d: %v", i, err)
		}
		latest = append(latest, r)
	}
	for _, l := range latest {
		if lag := killed.Sub(l.At); lag > 3*time.Second {
			t.Errorf("%s: the newest stored result is %s older than the kill; write-behind loses at most its last second", l.Check, lag.Round(time.Millisecond))
		}
	}
}
