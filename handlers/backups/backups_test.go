package backups

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const (
	password = "hunter2-correct-horse"
	token    = "xoxb-config-secret-token"
)

func abs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig has one job per test script; pidfile is where hang.sh and
// stubborn.sh write their pids.
func testConfig(t *testing.T, pidfile string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}},
		{Name: "bob", Roles: []string{"oncall"}},
		{Name: "carol", Roles: []string{"helpdesk"}},
	}
	cfg.Channels = map[string]config.Channel{"ops": {Slack: "C0OPS"}}
	cfg.Slack.BotToken = token
	cfg.Backups.KillGrace = config.Duration(200 * time.Millisecond)
	cfg.Backups.OutputLimit = 4096
	job := func(name string, argv ...string) config.BackupJob {
		return config.BackupJob{Name: name, Command: argv, Channel: "ops", Roles: []string{"oncall"},
			Timeout: config.Duration(time.Hour), FreshWithin: config.Duration(26 * time.Hour)}
	}
	secret := job("secret", abs(t, "secret.sh"))
	secret.Env = map[string]string{"BACKUP_PASSWORD": password, "API_TOKEN": "s3c", "BACKUP_USER": "bk"}
	slow := job("slow", abs(t, "hang.sh"), pidfile)
	slow.Timeout = config.Duration(300 * time.Millisecond)
	nightly := job("nightly", abs(t, "ok.sh"))
	nightly.Schedule = "0 2 * * *"
	nightly.Timezone = "UTC"
	cfg.Backups.Jobs = []config.BackupJob{
		job("ok", abs(t, "ok.sh")),
		job("fail", abs(t, "fail.sh")),
		job("big", abs(t, "big.sh")),
		job("hang", abs(t, "hang.sh"), pidfile),
		job("stubborn", abs(t, "stubborn.sh"), pidfile),
		slow,
		secret,
		job("leak", "/bin/echo", "the bot token is "+token),
		job("missing", "/nonexistent/backup-tool"),
		nightly,
	}
	return cfg
}

type fixture struct {
	*handlertest.Env
	h       *Handler
	pidfile string
}

// backends names the backends to run on; each subtest gets a fresh
// database from fresh.
func backends(t *testing.T) []string {
	var out []string
	for _, b := range storagetest.Backends(t) {
		out = append(out, b.Name)
	}
	return out
}

// fresh returns a new, empty database on the named backend.
func fresh(t *testing.T, name string) storagetest.Backend {
	t.Helper()
	for _, b := range storagetest.Backends(t) {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no backend %s", name)
	return storagetest.Backend{}
}

func newFixture(t *testing.T, b storagetest.Backend) *fixture {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "pids")
	env := handlertest.New(t, b, testConfig(t, pidfile))
	return attach(t, env, pidfile)
}

// attach builds a handler on env (a second one on the same env is a second
// replica or a restart).
func attach(t *testing.T, env *handlertest.Env, pidfile string) *fixture {
	t.Helper()
	d := env.Deps
	d.Reg = prometheus.NewRegistry()
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	h.heartbeatEvery = time.Hour // tests move the fake clock; heartbeats must not
	env.Use(h.Command())
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		h.Drain(ctx)
	})
	return &fixture{Env: env, h: h, pidfile: pidfile}
}

// runID starts a run as person and returns its number.
func (f *fixture) start(person, jobName string) int64 {
	f.T.Helper()
	out := f.Text(person, "/backup run "+jobName)
	_, rest, ok := strings.Cut(out, " as #")
	if !ok {
		f.T.Fatalf("/backup run %s: %s", jobName, out)
	}
	id, err := strconv.ParseInt(strings.TrimRight(strings.Fields(rest)[0], "."), 10, 64)
	if err != nil {
		f.T.Fatalf("/backup run %s: %s", jobName, out)
	}
	return id
}

// wait waits for a local run to end and returns its record.
func (f *fixture) wait(id int64) storage.BackupRun {
	f.T.Helper()
	if a := f.h.localRun(id); a != nil {
		select {
		case <-a.done:
		case <-time.After(60 * time.Second):
			f.T.Fatalf("run #%d did not end", id)
		}
	}
	r, err := storage.GetBackupRun(context.Background(), f.Deps.Store.DB, id)
	if err != nil {
		f.T.Fatal(err)
	}
	return r
}

// pids waits for the pid file of hang.sh or stubborn.sh.
func (f *fixture) pids() (parent, child int) {
	f.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(f.pidfile); err == nil {
			if p := strings.Fields(string(b)); len(p) == 2 {
				parent, _ = strconv.Atoi(p[0])
				child, _ = strconv.Atoi(p[1])
				return parent, child
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.T.Fatal("script did not write its pids")
	return 0, 0
}

// gone waits until pid has exited (a zombie counts as exited).
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil ||
			strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d still runs", pid)
}

func TestRunEnds(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		for _, tc := range []struct {
			job, state string
			exit       int
			tail, why  string
			status     string
		}{
			{"ok", storage.BackupSucceeded, 0, "wrote 42 files", "", "succeeded"},
			{"fail", storage.BackupFailed, 3, "error: disk full", "exit code 3", "failed (exit 3)"},
			{"missing", storage.BackupFailed, -1, "", "start /nonexistent/backup-tool", "failed"},
		} {
			t.Run(name+"/"+tc.job, func(t *testing.T) {
				t.Parallel()
				b := fresh(t, name)
				f := newFixture(t, b)
				id := f.start("bob", tc.job)
				r := f.wait(id)
				if r.State != tc.state || !strings.Contains(r.Output, tc.tail) || !strings.Contains(r.Error, tc.why) {
					t.Fatalf("run = %+v", r)
				}
				if tc.exit >= 0 && (r.ExitCode == nil || *r.ExitCode != tc.exit) {
					t.Errorf("exit code = %v, want %d", r.ExitCode, tc.exit)
				}
				if log := f.Text("bob", "/backup log "+strconv.FormatInt(id, 10)); strings.Contains(log, "\n\n```") || strings.Contains(log, "bytes)") {
					t.Errorf("log ends with a blank line:\n%s", log)
				}
				st := f.Text("bob", "/backup status #"+strconv.FormatInt(id, 10))
				if !strings.Contains(st, "#"+strconv.FormatInt(id, 10)+" "+tc.status) || !strings.Contains(st, tc.tail) {
					t.Errorf("status:\n%s", st)
				}
				msgs := f.Outbox()
				if len(msgs) != 2 {
					t.Fatalf("outbox has %d messages, want start and finish", len(msgs))
				}
				start, fin := msgs[0], msgs[1]
				if start.Key != "backup:1:start@log" || !strings.Contains(start.Body, "started") ||
					fin.UpdatesKey != start.Key || !strings.Contains(fin.Body, tc.tail) ||
					!strings.Contains(fin.Body, "Duration") {
					t.Errorf("outbox:\n%+v\n%+v", start, fin)
				}
				if tc.exit >= 0 && !strings.Contains(fin.Body, `"Exit code","value":"`+strconv.Itoa(tc.exit)) {
					t.Errorf("finish message lacks the exit code: %s", fin.Body)
				}
				if a := f.Audit(); len(a) != 1 || a[0].Action != "backup.run" || a[0].Actor != "bob" {
					t.Errorf("audit = %+v", a)
				}
				if n := testutil.ToFloat64(f.h.runs.WithLabelValues(tc.job, tc.state)); n != 1 {
					t.Errorf("runs metric = %v", n)
				}
			})
		}
	}
}

func TestBigOutputKeepsTail(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			r := f.wait(f.start("bob", "big"))
			if r.State != storage.BackupSucceeded || len(r.Output) > 4096 || r.OutputBytes < 50<<20 ||
				!strings.HasSuffix(r.Output, "END OF OUTPUT\n") {
				t.Fatalf("state %s, kept %d of %d bytes, ends %q", r.State, len(r.Output), r.OutputBytes, r.Output[max(0, len(r.Output)-20):])
			}
			log := f.Text("bob", "/backup log 1")
			if !strings.Contains(log, "of 52428815 bytes") || len(log) > logBytes+200 {
				t.Errorf("log is %d bytes: %.200s", len(log), log)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		for _, tc := range []struct {
			name, job, cancelBy string
			state, why          string
		}{
			{"timeout", "slow", "", storage.BackupTimedOut, "timed out after"},
			{"cancel", "hang", "bob", storage.BackupCancelled, "cancelled by bob"},
			{"cancel ignoring SIGTERM", "stubborn", "alice", storage.BackupCancelled, "cancelled by alice"},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				b := fresh(t, name)
				f := newFixture(t, b)
				id := f.start("bob", tc.job)
				parent, child := f.pids()
				if tc.cancelBy != "" {
					if out := f.Text("carol", "/backup cancel 1"); !strings.Contains(out, "You may not cancel backup "+tc.job) {
						t.Errorf("carol cancel: %s", out)
					}
					if out := f.Text(tc.cancelBy, "/backup cancel #1"); !strings.Contains(out, "Cancelling backup "+tc.job+" #1") {
						t.Errorf("cancel: %s", out)
					}
				}
				r := f.wait(id)
				if r.State != tc.state || !strings.Contains(r.Error, tc.why) {
					t.Errorf("run = %+v", r)
				}
				gone(t, child)
				gone(t, parent)
				if out := f.Text("bob", "/backup cancel 1"); !strings.Contains(out, "is not running") {
					t.Errorf("second cancel: %s", out)
				}
				// Killed by a signal, the run has no exit code to show.
				if st := f.Text("bob", "/backup status 1"); strings.Contains(st, "-1") || !strings.Contains(st, tc.why) {
					t.Errorf("status of a stopped run:\n%s", st)
				}
				if tc.cancelBy != "" && f.Outbox()[1].Body == "" {
					t.Error("no finish message")
				}
			})
		}
	}
}

// TestOneRunPerJob starts a job twice on one handler and on a second
// handler (another replica) sharing the database.
func TestOneRunPerJob(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			other := attach(t, handlertest.New(t, b, f.Deps.Config), f.pidfile)
			id := f.start("bob", "hang")
			f.pids()
			for _, g := range []*fixture{f, other} {
				out := g.Text("alice", "/backup run hang")
				if !strings.Contains(out, "already running as #1") {
					t.Errorf("second run: %s", out)
				}
			}
			// The other replica cancels through the database; the owner
			// picks it up on its next heartbeat.
			if out := other.Text("bob", "/backup cancel 1"); !strings.Contains(out, "Asked the opsbot process") {
				t.Errorf("remote cancel: %s", out)
			}
			a := f.h.localRun(id)
			out, total := a.proc.Output()
			by, err := storage.BackupHeartbeat(context.Background(), f.Deps.Store.DB, id, f.h.owner, f.Clock.Now(), out, total)
			if err != nil || by != "bob" {
				t.Fatalf("heartbeat sees cancel by %q, %v", by, err)
			}
			f.h.cancel(a, by)
			if r := f.wait(id); r.State != storage.BackupCancelled || r.Error != "cancelled by bob" {
				t.Errorf("run = %+v", r)
			}
			id2 := other.start("bob", "hang")
			if id2 == id {
				t.Errorf("run after the end got #%d again", id2)
			}
			other.pids()
			other.h.cancel(other.h.localRun(id2), "test")
			other.wait(id2)
		})
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			ctx := context.Background()
			runs := func() []storage.BackupRun {
				rs, err := storage.ListBackupRuns(ctx, f.Deps.Store.DB, "nightly", 0)
				if err != nil {
					t.Fatal(err)
				}
				return rs
			}
			tick := func(h *Handler) {
				if err := h.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Monday 09:00: the schedule starts counting; 02:00 is tomorrow.
			tick(f.h)
			if !strings.Contains(f.Text("bob", "/backup list"), "next scheduled run: 2026-03-03 02:00 UTC (in 17h)") {
				t.Errorf("list:\n%s", f.Text("bob", "/backup list"))
			}
			f.Clock.Set(time.Date(2026, 3, 3, 1, 59, 59, 0, time.UTC))
			tick(f.h)
			if n := len(runs()); n != 0 {
				t.Fatalf("%d runs before 02:00", n)
			}
			f.Clock.Set(time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC))
			tick(f.h)
			tick(f.h)
			rs := runs()
			if len(rs) != 1 || rs[0].Trigger != "schedule" || rs[0].Missed != 0 {
				t.Fatalf("runs at 02:00 = %+v", rs)
			}
			if r := f.wait(rs[0].ID); r.State != storage.BackupSucceeded {
				t.Fatalf("scheduled run = %+v", r)
			}
			// A restart at the same time does not fire again.
			restarted := attach(t, handlertest.New(t, b, f.Deps.Config), f.pidfile)
			restarted.Clock.Set(f.Clock.Now())
			tick(restarted.h)
			if n := len(runs()); n != 1 {
				t.Fatalf("restart fired again: %d runs", n)
			}
			// Down for three days: one run stands in for the missed ones.
			restarted.Clock.Set(time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC))
			tick(restarted.h)
			tick(restarted.h)
			rs = runs()
			if len(rs) != 2 || rs[0].Missed != 2 {
				t.Fatalf("runs after downtime = %+v", rs)
			}
			restarted.wait(rs[0].ID)
			sc, err := storage.GetBackupSchedule(ctx, f.Deps.Store.DB, "nightly")
			if err != nil || !sc.LastAt.Equal(time.Date(2026, 3, 6, 2, 0, 0, 0, time.UTC)) {
				t.Errorf("schedule = %+v, %v", sc, err)
			}
			msgs := restarted.Outbox()
			if !strings.Contains(msgs[len(msgs)-2].Body, "2 earlier scheduled run(s) were missed") {
				t.Errorf("start message: %s", msgs[len(msgs)-2].Body)
			}
		})
	}
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLostAfterRestart: a run whose process died is marked lost by the next
// start (SQLite, same host, dead pid) or once its heartbeat is stale (any
// backend), but a live replica's run is left alone.
func TestLostAfterRestart(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			ctx := context.Background()
			// A run owned by a live replica elsewhere, heartbeat fresh.
			live := storage.BackupRun{Job: "ok", Trigger: "manual", RequestedBy: "bob", Owner: "elsewhere:1:live",
				StartedAt: f.Clock.Now(), HeartbeatAt: f.Clock.Now()}
			// A run owned by a process on this host that has died.
			dead := storage.BackupRun{Job: "fail", Trigger: "manual", RequestedBy: "bob",
				Owner: f.h.hostname + ":" + strconv.Itoa(deadPid(t)) + ":gone", StartedAt: f.Clock.Now(), HeartbeatAt: f.Clock.Now()}
			for _, r := range []*storage.BackupRun{&live, &dead} {
				if ok, _, err := storage.StartBackupRun(f.Deps.Store.DB, r); err != nil || !ok {
					t.Fatal(ok, err)
				}
			}
			state := func(id int64) string {
				r, err := storage.GetBackupRun(ctx, f.Deps.Store.DB, id)
				if err != nil {
					t.Fatal(err)
				}
				return r.State
			}
			restarted := attach(t, handlertest.New(t, b, f.Deps.Config), f.pidfile) // New calls Recover
			wantDead := storage.BackupRunning
			if name == "sqlite" {
				wantDead = storage.BackupLost
			}
			if state(live.ID) != storage.BackupRunning || state(dead.ID) != wantDead {
				t.Fatalf("after restart: live %s, dead %s", state(live.ID), state(dead.ID))
			}
			restarted.Clock.Advance(LostAfter - time.Second)
			if err := restarted.h.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if state(live.ID) != storage.BackupRunning {
				t.Fatal("a run with a fresh heartbeat was marked lost")
			}
			restarted.Clock.Advance(2 * time.Second)
			if err := restarted.h.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if state(live.ID) != storage.BackupLost || state(dead.ID) != storage.BackupLost {
				t.Fatalf("after the heartbeat went stale: live %s, dead %s", state(live.ID), state(dead.ID))
			}
			st := restarted.Text("bob", "/backup status ok")
			if !strings.Contains(st, "#1 lost") || !strings.Contains(st, "elsewhere:1:live") {
				t.Errorf("status:\n%s", st)
			}
			var lostNotes int
			for _, m := range restarted.Outbox() {
				if strings.HasSuffix(m.Key, ":finish@log") && strings.Contains(m.Body, "lost") {
					lostNotes++
				}
			}
			if lostNotes != 2 {
				t.Errorf("%d lost notifications, want 2", lostNotes)
			}
			// The job runs again.
			restarted.wait(restarted.start("bob", "ok"))
		})
	}
}

func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			for _, job := range []string{"secret", "leak"} {
				id := f.start("bob", job)
				r := f.wait(id)
				sid := strconv.FormatInt(id, 10)
				texts := []string{r.Output, f.Text("bob", "/backup log "+sid), f.Text("bob", "/backup status "+sid)}
				for _, m := range f.Outbox() {
					texts = append(texts, m.Body)
				}
				for _, s := range texts {
					for _, secret := range []string{password, token, "s3c"} {
						if strings.Contains(s, secret) {
							t.Errorf("%s: secret %q shown in:\n%s", job, secret, s)
						}
					}
				}
				if !strings.Contains(r.Output, "****") {
					t.Errorf("%s: output not masked: %q", job, r.Output)
				}
			}
			r, _ := storage.GetBackupRun(context.Background(), f.Deps.Store.DB, 1)
			if !strings.Contains(r.Output, "connecting with password ****") || !strings.Contains(r.Output, "user=bk") ||
				!strings.Contains(r.Output, "token=****;") {
				t.Errorf("output:\n%s", r.Output)
			}
			if strings.Contains(r.Output, "SHELL=") || strings.Contains(r.Output, "OPSBOT_TEST_POSTGRES") {
				t.Errorf("the child saw the bot's environment:\n%s", r.Output)
			}
		})
	}
}

func TestRefusalsAndErrors(t *testing.T) {
	t.Parallel()
	b := storagetest.Backends(t)[0]
	f := newFixture(t, b)
	for _, tc := range []struct {
		person, line, want string
	}{
		{"carol", "/backup run ok", "You may not run backup ok: it needs the oncall role (or admin)"},
		{"slack:U0NOBODY", "/backup run ok", "You may not run backup ok"},
		{"bob", "/backup run okk", `No backup job called "okk". Did you mean ok? Jobs: ok, fail, big`},
		{"bob", "/backup run zzzzzzzzzz", `No backup job called "zzzzzzzzzz". Jobs: ok,`},
		{"bob", "/backup history nope", `No backup job called "nope"`},
		{"bob", "/backup history ok --limit 0", "--limit must be between 1 and 100"},
		{"bob", "/backup status #99", "There is no backup run #99"},
		{"bob", "/backup status #abc", `"#abc" is not a run number`},
		{"bob", "/backup status #0", `"#0" is not a run number`},
		{"bob", "/backup log 99", "There is no backup run #99"},
		{"bob", "/backup cancel x", "Usage: /backup cancel RUN"},
		{"bob", "/backup status", "No backups are running"},
		{"bob", "/backup history ok", "Backup ok has never run"},
	} {
		if out := f.Text(tc.person, tc.line); !strings.Contains(out, tc.want) {
			t.Errorf("%s %s:\n%s\nwant %q", tc.person, tc.line, out, tc.want)
		}
	}
	if n := len(f.Outbox()); n != 0 {
		t.Errorf("refusals queued %d messages", n)
	}
}

func TestListFreshness(t *testing.T) {
	t.Parallel()
	for _, name := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := fresh(t, name)
			f := newFixture(t, b)
			f.wait(f.start("bob", "ok"))
			f.Clock.Advance(3 * time.Hour)
			list := f.Text("bob", "/backup list")
			if !strings.Contains(list, "ok\n  last result: succeeded (#1, 3h ago)\n  fresh: last success 3h ago, target 26h") ||
				!strings.Contains(list, "fail\n  last run: never\n  stale: never succeeded, target 26h") {
				t.Errorf("list:\n%s", list)
			}
			f.Clock.Advance(27 * time.Hour)
			if list := f.Text("bob", "/backup list"); !strings.Contains(list, "stale: last success 30h ago, target 26h") {
				t.Errorf("list:\n%s", list)
			}
			at, ok, err := storage.LastBackupSuccess(context.Background(), f.Deps.Store.DB, "ok")
			if err != nil || !ok || !at.Equal(handlertest.Start) {
				t.Errorf("LastBackupSuccess = %v, %v, %v", at, ok, err)
			}
			if h := f.Text("bob", "/backup history ok --limit 5"); !strings.Contains(h, "#1  2026-03-02 09:00 UTC  succeeded") {
				t.Errorf("history:\n%s", h)
			}
		})
	}
}
