package runbooks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func abs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const secretToken = "xoxb-runbook-secret-token"

type fixture struct {
	*handlertest.Env
	h    *Handler
	fifo string
}

// newFixture builds a bot with four people and these runbooks:
// restart (enum and device parameters, no approval), argv (prints its
// argv), twice (two approvals) and stream (waits on a fifo between lines).
func newFixture(t *testing.T, b storagetest.Backend, opts ...func(*config.Config)) *fixture {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}},
		{Name: "bob", Roles: []string{"oncall"}},
		{Name: "carol", Roles: []string{"oncall"}},
		{Name: "dave", Roles: []string{"oncall"}},
		{Name: "erin", Roles: []string{"helpdesk"}},
	}
	cfg.Channels = map[string]config.Channel{"ops": {Slack: "C0OPS"}}
	rb := func(name string, approvals int, command ...string) config.Runbook {
		return config.Runbook{Name: name, Command: command, Roles: []string{"oncall"}, Approvals: approvals,
			Timeout: config.Duration(time.Minute), Concurrency: 1, Channel: "ops"}
	}
	restart := rb("restart", 0, abs(t, "argv.sh"), "{{.service}}", "--on={{.host}}")
	restart.Params = []config.RunbookParam{{Name: "service", Type: "enum", Values: []string{"nginx", "app"}}, {Name: "host", Type: "device"}}
	args := rb("argv", 0, abs(t, "argv.sh"), "{{.msg}}")
	args.Params = []config.RunbookParam{{Name: "msg", Type: "string"}}
	twice := rb("twice", 2, abs(t, "argv.sh"), "approved")
	stream := rb("stream", 0, abs(t, "stream.sh"), fifo)
	leak := rb("leak", 0, "/bin/echo", "the token is "+secretToken)
	cfg.Runbooks = []config.Runbook{restart, args, twice, stream, leak}
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := handlertest.New(t, b, cfg)
	if err := env.Deps.Store.Tx(context.Background(), func(tx *gorm.DB) error {
		return storage.CreateDevice(tx, &storage.Device{Name: "web-1", Address: "10.0.0.5", Source: "chat"})
	}); err != nil {
		t.Fatal(err)
	}
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Command())
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		h.Drain(ctx)
	})
	return &fixture{Env: env, h: h, fifo: fifo}
}

// id reads "#N" from a reply.
func (f *fixture) id(out string) int64 {
	f.T.Helper()
	_, rest, ok := strings.Cut(out, "#")
	if !ok {
		f.T.Fatalf("no run number in %q", out)
	}
	n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
	if err != nil {
		f.T.Fatalf("no run number in %q", out)
	}
	return n
}

// wait waits for a local run to end and returns its record.
func (f *fixture) wait(id int64) storage.RunbookRun {
	f.T.Helper()
	if a := f.h.local(id); a != nil {
		select {
		case <-a.done:
		case <-time.After(30 * time.Second):
			f.T.Fatalf("run #%d did not end", id)
		}
	}
	return f.get(id)
}

func (f *fixture) get(id int64) storage.RunbookRun {
	f.T.Helper()
	r, err := storage.GetRunbookRun(context.Background(), f.Deps.Store.DB, id)
	if err != nil {
		f.T.Fatal(err)
	}
	return r
}

func (f *fixture) runs() int64 {
	f.T.Helper()
	var n int64
	if err := f.Deps.Store.DB.Model(&storage.RunbookRun{}).Count(&n).Error; err != nil {
		f.T.Fatal(err)
	}
	return n
}

func forEach(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, newFixture(t, b)) })
	}
}

// TestBadValuesRefused: an enum and a device parameter refuse bad values
// with the allowed ones listed, and nothing is recorded or run.
func TestBadValuesRefused(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		for _, c := range []struct{ line, want string }{
			{"/run restart --service apache --host web-1", `--service "apache": not allowed; allowed: nginx, app`},
			{"/run restart --service nginx --host web-9", `--host "web-9": no such device; allowed devices: web-1`},
			{"/run restart --host web-1", "--service is required (allowed: nginx, app)"},
			{"/run argv --msg --rm", "--msg needs a value"},
			{"/run argv --msg=-rf", "must not start with '-'"},
		} {
			if out := f.Text("bob", c.line); !strings.Contains(out, c.want) {
				t.Errorf("%s:\n%s\nwant %q", c.line, out, c.want)
			}
		}
		if out := f.Text("erin", "/run restart --service nginx --host web-1"); !strings.Contains(out, "needs the oncall role") {
			t.Errorf("erin: %s", out)
		}
		if n := f.runs(); n != 0 {
			t.Errorf("%d runs recorded for refused requests", n)
		}
		out := f.Text("bob", "/run restart --service nginx --host web-1")
		r := f.wait(f.id(out))
		if r.State != storage.RunbookSucceeded || r.Output != "argc=2\narg=[nginx]\narg=[--on=web-1]\n" {
			t.Errorf("good values: %s %q", r.State, r.Output)
		}
	})
}

// TestValueIsOneArgvElement: shell syntax in a value arrives as one argv
// element of a real child, never interpreted.
func TestValueIsOneArgvElement(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		out := f.Text("bob", `/run argv --msg "; rm -rf / $(id) *"`)
		r := f.wait(f.id(out))
		if want := "argc=1\narg=[; rm -rf / $(id) *]\n"; r.State != storage.RunbookSucceeded || r.Output != want {
			t.Errorf("got %s %q, want %q", r.State, r.Output, want)
		}
	})
}

// TestTwoApprovals: a two-approval runbook runs only after two people
// other than the requester approve; self-approval and approving twice do
// not count; every step is audited.
func TestTwoApprovals(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		out := f.Text("bob", "/run twice")
		id := f.id(out)
		if !strings.Contains(out, "waits for 2 approvals") {
			t.Fatalf("request: %s", out)
		}
		n := strconv.FormatInt(id, 10)
		for _, c := range []struct{ who, want string }{
			{"bob", "cannot approve your own run"},
			{"erin", "not yours to see"},
			{"carol", "1 of 2 approvals"},
			{"carol", "approved #" + n + " already"},
		} {
			if out := f.Text(c.who, "/run approve "+n); !strings.Contains(out, c.want) {
				t.Errorf("%s approves: %s, want %q", c.who, out, c.want)
			}
			if r := f.get(id); r.State != storage.RunbookPending || f.h.local(id) != nil {
				t.Fatalf("run started before two approvals: %s", r.State)
			}
		}
		if out := f.Text("dave", "/run approve "+n); !strings.Contains(out, "starts now") {
			t.Errorf("dave approves: %s", out)
		}
		r := f.wait(id)
		if r.State != storage.RunbookSucceeded || r.ApprovedBy != "carol,dave" || r.Output != "argc=1\narg=[approved]\n" {
			t.Errorf("after two approvals: %s by %q, %q", r.State, r.ApprovedBy, r.Output)
		}
		var actions []string
		for _, a := range f.Audit() {
			actions = append(actions, a.Action+" "+a.Actor)
		}
		want := "runbook.request bob,runbook.approve carol,runbook.approve dave,runbook.start opsbot,runbook.end opsbot"
		if got := strings.Join(actions, ","); got != want {
			t.Errorf("audit %s, want %s", got, want)
		}
		// The request card carried the buttons.
		if m := f.Outbox(); len(m) == 0 || !strings.Contains(m[0].Body, "/run approve "+n) {
			t.Errorf("request card without an approve button")
		}
	})
}

// TestOutputStreams: output appears in the request's thread while the run
// is going, then the one message is edited, at most once every 2s of the
// injected clock.
func TestOutputStreams(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		id := f.id(f.Text("bob", "/run stream"))
		a := f.h.local(id)
		until := func(what string, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for !ok() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		output := func() []storage.OutboxMessage {
			var out []storage.OutboxMessage
			for _, m := range f.Outbox() {
				if strings.HasPrefix(m.Key, outputKey(id)) {
					out = append(out, m)
				}
			}
			return out
		}
		until("step one in the thread", func() bool {
			f.h.Pump(context.Background())
			m := output()
			return len(m) == 1 && strings.Contains(m[0].Body, "step one")
		})
		first := output()[0]
		if first.ThreadKey == "" || f.get(id).State != storage.RunbookRunning {
			t.Fatalf("first output: thread %q, state %s", first.ThreadKey, f.get(id).State)
		}
		w, err := os.OpenFile(f.fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString("go\n"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		until("step two in the output", func() bool { out, _ := a.proc.Output(); return strings.Contains(out, "step two") })
		f.h.Pump(context.Background())
		if m := output(); len(m) != 1 {
			t.Fatalf("%d output messages within 2s, want 1: %+v", len(m), m)
		}
		f.Clock.Advance(EditEvery)
		f.h.Pump(context.Background())
		m := output()
		if len(m) != 2 || m[1].UpdatesKey != first.Key || !strings.Contains(m[1].Body, "step two") {
			t.Fatalf("after 2s: %d messages, want an edit of the first with step two", len(m))
		}
		if f.get(id).State != storage.RunbookRunning {
			t.Fatal("the run ended before its edit")
		}
		w, err = os.OpenFile(f.fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.WriteString("go\n")
		w.Close()
		if r := f.wait(id); r.State != storage.RunbookSucceeded || r.Output != "step one\nstep two\ndone\n" {
			t.Errorf("end: %s %q", r.State, r.Output)
		}
	})
}

// TestRunsOnceAcrossReplicas: two replicas tick at the same time over one
// approved run; exactly one of them runs it.
func TestRunsOnceAcrossReplicas(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		other, err := New(f.Deps)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Drain(context.Background()) })
		for i := 0; i < 5; i++ {
			r := storage.RunbookRun{Runbook: "argv", State: storage.RunbookApproved, RequestedBy: "bob",
				Params: `{"msg":"once"}`, CreatedAt: f.Clock.Now()}
			if err := f.Deps.Store.Tx(context.Background(), func(tx *gorm.DB) error { return storage.CreateRunbookRun(tx, &r) }); err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, 2)
			for _, h := range []*Handler{f.h, other} {
				go func() { errs <- h.Tick(context.Background()) }()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			a, b := f.h.local(r.ID), other.local(r.ID)
			if (a == nil) == (b == nil) && f.get(r.ID).State == storage.RunbookApproved {
				t.Fatalf("run #%d started by neither replica", r.ID)
			}
			for _, x := range []*active{a, b} {
				if x != nil {
					<-x.done
				}
			}
			var starts int64
			f.Deps.Store.DB.Model(&storage.AuditEntry{}).Where("action = ? AND subject = ?", "runbook.start", subject(r)).Count(&starts)
			if got := f.get(r.ID); starts != 1 || got.State != storage.RunbookSucceeded {
				t.Fatalf("run #%d: %d starts, state %s", r.ID, starts, got.State)
			}
		}
	})
}

// TestLostRunIsNotRunAgain: a running run whose owner stopped heartbeating
// is marked lost by the leader, audited, and never started again.
func TestLostRunIsNotRunAgain(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		beat := f.Clock.Now()
		r := storage.RunbookRun{Runbook: "argv", State: storage.RunbookRunning, RequestedBy: "bob", Owner: "gone:1:x",
			Params: `{"msg":"x"}`, CreatedAt: beat, HeartbeatAt: &beat}
		if err := f.Deps.Store.Tx(context.Background(), func(tx *gorm.DB) error { return storage.CreateRunbookRun(tx, &r) }); err != nil {
			t.Fatal(err)
		}
		if err := f.h.Tick(context.Background()); err != nil || f.get(r.ID).State != storage.RunbookRunning {
			t.Fatalf("fresh heartbeat: %v %s", err, f.get(r.ID).State)
		}
		f.Clock.Advance(LostAfter + time.Second)
		if err := f.h.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := f.get(r.ID); got.State != storage.RunbookLost || f.h.local(r.ID) != nil {
			t.Fatalf("stale heartbeat: %s", got.State)
		}
		if out := f.Text("bob", "/run show "+strconv.FormatInt(r.ID, 10)); !strings.Contains(out, "it is not run again") {
			t.Errorf("show: %s", out)
		}
	})
}

// TestCancel: the requester withdraws a waiting run, and stops a running
// one (its process group gets SIGTERM); both are audited.
func TestCancel(t *testing.T) {
	forEach(t, func(t *testing.T, f *fixture) {
		waiting := f.id(f.Text("bob", "/run twice"))
		if out := f.Text("bob", "/run cancel "+strconv.FormatInt(waiting, 10)); !strings.Contains(out, "cancelled") {
			t.Errorf("cancel waiting: %s", out)
		}
		if out := f.Text("carol", "/run approve "+strconv.FormatInt(waiting, 10)); !strings.Contains(out, "only a waiting run") {
			t.Errorf("approve a cancelled run: %s", out)
		}
		running := f.id(f.Text("bob", "/run stream"))
		if out := f.Text("bob", "/run cancel "+strconv.FormatInt(running, 10)); !strings.Contains(out, "Stopping") {
			t.Errorf("cancel running: %s", out)
		}
		if r := f.wait(running); r.State != storage.RunbookCancelled || r.Error != "cancelled by bob" {
			t.Errorf("after cancel: %s %q", r.State, r.Error)
		}
		var n int64
		f.Deps.Store.DB.Model(&storage.AuditEntry{}).Where("action = ?", "runbook.cancel").Count(&n)
		if n != 2 {
			t.Errorf("%d cancels audited, want 2", n)
		}
	})
}

// TestSecretsMasked: a config secret a command prints is masked in the
// stored output and in the thread.
func TestSecretsMasked(t *testing.T) {
	for _, b := range storagetest.Backends(t) {
		f := newFixture(t, b, func(c *config.Config) { c.Slack.BotToken = secretToken })
		r := f.wait(f.id(f.Text("bob", "/run leak")))
		if r.Output != "the token is ****\n" {
			t.Errorf("output %q", r.Output)
		}
		for _, m := range f.Outbox() {
			if strings.Contains(m.Body, secretToken) {
				t.Errorf("%s: %s carries the secret", b.Name, m.Key)
			}
		}
	}
}
