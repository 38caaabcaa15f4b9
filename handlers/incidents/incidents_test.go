package incidents

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"opsbot/bot"
	"opsbot/bot/shell"
	"opsbot/checks"
	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// service is a loopback HTTP service that tests switch between healthy and
// failing.
type service struct{ failing atomic.Bool }

func (s *service) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if s.failing.Load() {
		http.Error(w, "database down", http.StatusInternalServerError)
		return
	}
	w.Write([]byte("ok"))
}

func testConfig(url string) *config.Config {
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}},
		{Name: "bob", Roles: []string{"oncall"}},
		{Name: "carol"},
	}
	cfg.Channels = map[string]config.Channel{"ops": {}, "mgmt": {}}
	cfg.Checks = []config.Check{{Name: "web", Kind: config.KindHTTP, URL: url, Method: "GET",
		Every: config.Duration(30 * time.Second), Timeout: config.Duration(2 * time.Second), Channel: "ops",
		Failures: 2, Successes: 1,
		Escalate: &config.Escalation{After: config.Duration(10 * time.Minute), To: []string{"bob", "channel:mgmt"}}}}
	return cfg
}

type rig struct {
	t   *testing.T
	env *handlertest.Env
	h   *Handler
	svc *service
}

func newRig(t *testing.T, b storagetest.Backend) *rig { return newRigWith(t, b, nil) }

// newRigWith is newRig with the test config changed by tweak.
func newRigWith(t *testing.T, b storagetest.Backend, tweak func(*config.Config)) *rig {
	svc := &service{}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL + "/healthz")
	if tweak != nil {
		tweak(cfg)
	}
	env := handlertest.New(t, b, cfg)
	r := &rig{t: t, env: env, svc: svc}
	r.restart()
	return r
}

// restart builds a new handler on the same database, as a new process would.
func (r *rig) restart() {
	h, err := New(r.env.Deps)
	if err != nil {
		r.t.Fatal(err)
	}
	r.h = h
	r.env.Use(h.Commands()...)
}

// run moves the clock to the check's next slot and runs what is due.
func (r *rig) run() {
	r.t.Helper()
	next, ok := r.h.Scheduler().NextRun("web")
	if !ok {
		r.t.Fatal("web is not scheduled")
	}
	if next.After(r.env.Clock.Now()) {
		r.env.Clock.Set(next)
	}
	if n := r.h.Scheduler().RunDue(context.Background()); n != 1 {
		r.t.Fatalf("%d checks ran, want 1", n)
	}
}

func (r *rig) tick(d time.Duration) {
	r.t.Helper()
	r.env.Clock.Advance(d)
	if err := r.h.Tick(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func keys(msgs []storage.OutboxMessage) []string {
	var out []string
	for _, m := range msgs {
		k := m.Key
		if m.UpdatesKey != "" {
			k += " edits " + m.UpdatesKey
		}
		out = append(out, k)
	}
	return out
}

func (r *rig) wantOutbox(want ...string) {
	r.t.Helper()
	got := keys(r.env.Outbox())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		r.t.Fatalf("outbox:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIncidentLifecycle(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, b)
			ctx := context.Background()

			r.run()
			r.wantOutbox() // quiet when all is well

			r.svc.failing.Store(true)
			r.run()
			r.wantOutbox() // one failure is not an incident
			r.run()
			open := "incident:1:open@log"
			r.wantOutbox(open)
			msgs := r.env.Outbox()
			for _, s := range []string{"web is failing (incident #1)", "500 Internal Server Error", "/incident ack 1", "/incident resolve 1", "/incident silence web --for 1h"} {
				if !strings.Contains(msgs[0].Body, s) {
					t.Errorf("post lacks %q: %s", s, msgs[0].Body)
				}
			}
			r.run()
			r.run()
			r.wantOutbox(open) // still failing: no post per failure

			// A restart in the middle keeps the incident and posts nothing twice.
			r.restart()
			r.run()
			r.wantOutbox(open)
			if txt := r.env.Text("carol", "/incident list"); !strings.Contains(txt, "#1 [OPEN] web") {
				t.Errorf("list: %s", txt)
			}

			// Escalation: not acknowledged within 10m notifies bob.
			r.tick(10 * time.Minute)
			r.tick(time.Minute)
			r.wantOutbox(open, "incident:1:escalate:0:1@log")
			// Ack stops escalation and edits the post.
			if txt := r.env.Text("carol", "/incident ack 1"); !strings.Contains(txt, "oncall") {
				t.Errorf("carol acked: %s", txt)
			}
			if txt := r.env.Text("bob", "/incident ack 1"); !strings.Contains(txt, "Acknowledged incident #1") {
				t.Errorf("ack: %s", txt)
			}
			if txt := r.env.Text("bob", "/incident ack #1"); !strings.Contains(txt, "acknowledged already by @bob") {
				t.Errorf("second ack: %s", txt)
			}
			r.wantOutbox(open, "incident:1:escalate:0:1@log", "incident:1:rev:1@log edits "+open)
			r.tick(30 * time.Minute)
			msgs = r.env.Outbox()
			for _, m := range msgs[3:] {
				if strings.Contains(m.Key, "escalate") {
					t.Errorf("escalated after ack: %s", m.Key)
				}
			}
			// The 30m reminder edits the same post.
			if len(msgs) != 4 || msgs[3].UpdatesKey != open || !strings.Contains(msgs[3].Body, "Still failing after") {
				t.Errorf("reminder: %v", keys(msgs))
			}

			// Recovery edits the post once.
			r.svc.failing.Store(false)
			r.run()
			msgs = r.env.Outbox()
			last := msgs[len(msgs)-1]
			if last.UpdatesKey != open || !strings.Contains(last.Body, "Resolved: web") || !strings.Contains(last.Body, "of downtime") {
				t.Errorf("recovery: %s %s", last.Key, last.Body)
			}
			n := len(msgs)
			r.run()
			if len(r.env.Outbox()) != n {
				t.Error("a healthy run posted")
			}
			if txt := r.env.Text("carol", "/incident show 1"); !strings.Contains(txt, "opened") || !strings.Contains(txt, "acknowledged by @bob") || !strings.Contains(txt, "resolved") {
				t.Errorf("show: %s", txt)
			}

			// Silence suppresses posts: failing while silenced opens nothing.
			if txt := r.env.Text("carol", "/incident silence web --for 2h"); !strings.Contains(txt, "oncall") {
				t.Errorf("carol silenced: %s", txt)
			}
			if txt := r.env.Text("bob", "/incident silence web --for 2h"); !strings.Contains(txt, "silenced until") {
				t.Errorf("silence: %s", txt)
			}
			r.svc.failing.Store(true)
			for range 5 {
				r.run()
			}
			if len(r.env.Outbox()) != n {
				t.Errorf("posted while silenced: %v", keys(r.env.Outbox())[n:])
			}
			// When the silence ends the still-failing check opens a new incident (outside the flap window).
			r.env.Clock.Advance(2 * time.Hour)
			r.run()
			msgs = r.env.Outbox()
			if len(msgs) != n+1 || msgs[n].Key != "incident:2:open@log" {
				t.Errorf("after silence: %v", keys(msgs)[n:])
			}
			// Manual resolve with a note, by an admin.
			if txt := r.env.Text("alice", `/incident resolve 2 "restarted the pod"`); !strings.Contains(txt, "Resolved incident #2") {
				t.Errorf("resolve: %s", txt)
			}
			if txt := r.env.Text("alice", "/incident resolve 2"); !strings.Contains(txt, "resolved already") {
				t.Errorf("resolve twice: %s", txt)
			}
			// Flapping: failing again at once reopens #2 after the normal threshold, editing its post.
			r.run()
			r.run()
			msgs = r.env.Outbox()
			var reopened int
			for _, m := range msgs {
				if strings.Contains(m.Key, "incident:2:reopened") {
					reopened++
				}
				if strings.HasPrefix(m.Key, "incident:3") {
					t.Errorf("flapping opened a new incident: %s", m.Key)
				}
			}
			if reopened != 1 {
				t.Errorf("reopened replies %d: %v", reopened, keys(msgs))
			}
			ins, err := storage.ListIncidents(ctx, r.env.Deps.Store.DB, true, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ins) != 2 || ins[0].State != storage.IncidentOpen || ins[0].Reopens != 1 {
				t.Errorf("incidents: %+v", ins)
			}
			if txt := r.env.Text("carol", "/check list"); !strings.Contains(txt, "web (http): FAILING") || !strings.Contains(txt, "incident #2") {
				t.Errorf("check list: %s", txt)
			}
		})
	}
}

func TestCommandsRejectBadInput(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, b)
			tests := []struct{ who, line, want string }{
				{"carol", "/incident show 99", "There is no incident #99"},
				{"bob", "/incident ack 99", "There is no incident #99"},
				{"bob", "/incident silence nope --for 1h", `no check named "nope"`},
				{"bob", "/incident silence we --for 1h", "Did you mean web?"},
				{"bob", "/incident silence web --for 90d", "--for 90d is too long: silence for between 1m and 30d"},
				{"bob", "/incident silence web --for 45s", "--for 45s is too short"},
				{"carol", "/incident unsilence web", "oncall"},
				{"bob", "/incident unsilence nope", `no check named "nope"`},
				{"bob", "/incident unsilence we", "Did you mean web?"},
				{"bob", "/incident unsilence wbe", "Did you mean web?"},
				{"bob", "/check run WEB", "Did you mean web?"},
				{"bob", "/incident unsilence web", "Check web is not silenced; there is nothing to lift."},
				{"bob", "/incident unsilence", "CHECK"},
				// 600 characters of two bytes each are under the 1000-character limit.
				{"bob", "/incident resolve 99 " + strings.Repeat("é", 600), "There is no incident #99"},
				{"bob", "/incident resolve 99 " + strings.Repeat("é", 1001), "The note is 1001 characters long"},
				{"carol", "/check run web", "oncall"},
				{"bob", "/check run nope", `no check named "nope"`},
				{"carol", "/incident list", "No open incidents"},
				{"carol", "/incident list --all", "No incidents yet"},
				{"carol", "/check list", "web (http): not run yet"},
			}
			for _, tt := range tests {
				if txt := r.env.Text(tt.who, tt.line); !strings.Contains(txt, tt.want) {
					t.Errorf("%s: %q\ngot: %s", tt.line, tt.want, txt)
				}
			}
			// /check run runs now and feeds the state machine.
			r.svc.failing.Store(true)
			if txt := r.env.Text("bob", "/check run web"); !strings.Contains(txt, "FAILED") {
				t.Errorf("check run: %s", txt)
			}
			if txt := r.env.Text("bob", "/check run web"); !strings.Contains(txt, "FAILED") {
				t.Errorf("check run: %s", txt)
			}
			r.wantOutbox("incident:1:open@log")
			if n, _ := storage.CountCheckResults(context.Background(), r.env.Deps.Store.DB, "web"); n != 2 {
				t.Errorf("%d results", n)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, b)
			for range 4 {
				r.run()
			}
			r.tick(7*24*time.Hour - 2*time.Minute)
			db := r.env.Deps.Store.DB
			if n, _ := storage.CountCheckResults(context.Background(), db, ""); n != 4 {
				t.Errorf("pruned too early: %d left", n)
			}
			r.run()
			r.tick(3 * time.Minute)
			if n, _ := storage.CountCheckResults(context.Background(), db, ""); n != 1 {
				t.Errorf("after retention %d left, want 1", n)
			}
		})
	}
}

var _ checks.Sink = (*Handler)(nil).Record

// The acknowledgement of /check run shows before the command runs (Slack
// answers with it at once): it may say which check runs only when there is
// one and the person may run it, and never echoes what was typed.
func TestCheckRunAck(t *testing.T) {
	t.Parallel()
	r := newRig(t, storagetest.Backends(t)[0])
	var ack func(*bot.Request) string
	for _, s := range r.h.CheckCommand().Subs {
		if s.Name == "run" {
			ack = s.Ack
		}
	}
	oncall := bot.Person{Name: "bob", Roles: []string{"oncall"}}
	tests := []struct {
		name, check string
		who         bot.Person
		want        string
	}{
		{"known check, oncall", "web", oncall, "Running check web…"},
		{"not oncall", "web", bot.Person{Name: "carol"}, "Working on it…"},
		{"unknown check", strings.Repeat("x", 3000), oncall, "Working on it…"},
		{"mention", "<!channel>", oncall, "Working on it…"},
	}
	for _, tt := range tests {
		req := bot.NewRequest("check", "run", map[string]any{"name": tt.check})
		req.Person = tt.who
		if got := ack(req); got != tt.want {
			t.Errorf("%s: ack %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A long incident's timeline (a reminder every 30m over days) shows how it
// began and the latest events; Discord cuts a field at 1024 characters and
// Slack at 2000, which would drop the newest lines (acknowledged, resolved).
func TestShowLongTimeline(t *testing.T) {
	t.Parallel()
	r := newRig(t, storagetest.Backends(t)[0])
	r.svc.failing.Store(true)
	r.run()
	r.run()
	for range 150 {
		r.tick(30 * time.Minute)
	}
	if txt := r.env.Text("bob", "/incident ack 1"); !strings.Contains(txt, "Acknowledged") {
		t.Fatal(txt)
	}
	var timeline string
	for _, f := range r.env.Run("carol", "/incident show 1").Fields {
		if f.Name == "Timeline" {
			timeline = f.Value
		}
	}
	for _, want := range []string{"opened: after 2 failures", "earlier events", "acknowledged by @bob"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if n := len(timeline); n > 1024 {
		t.Errorf("timeline is %d characters, more than a Slack field holds", n)
	}
}

// /check list and /incident list stay within what Slack shows of a text
// (3000 characters) and say how many more there are, instead of being cut
// in the middle of a line by the renderer.
func TestListsFitAMessage(t *testing.T) {
	t.Parallel()
	b := storagetest.Backends(t)[0]
	cfg := testConfig("http://127.0.0.1:1/")
	base := cfg.Checks[0]
	cfg.Checks = nil
	for i := range 45 {
		c := base
		c.Name = fmt.Sprintf("check-with-a-rather-long-name-%02d", i)
		c.Escalate = nil
		cfg.Checks = append(cfg.Checks, c)
	}
	env := handlertest.New(t, b, cfg)
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Commands()...)
	now := env.Clock.Now()
	msg := "connect to db-primary.example.com:5432: dial tcp 10.0.0.5:5432: connect: connection refused " + strings.Repeat("x", 60)
	for i, c := range cfg.Checks {
		st := storage.CheckState{Check: c.Name, LastAt: &now, LastError: msg, Failures: 3, FailingSince: &now}
		in := storage.Incident{Check: c.Name, Kind: c.Kind, Channel: "ops", State: storage.IncidentOpen, OpenedAt: now,
			FailingSince: now, Error: msg, ChangedAt: now}
		if err := storage.CreateIncident(env.Deps.Store.DB, &in); err != nil {
			t.Fatal(err)
		}
		st.IncidentID = in.ID
		if err := storage.SaveCheckState(env.Deps.Store.DB, &st); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	for _, line := range []string{"/check list", "/incident list"} {
		txt := env.Run("carol", line).Text
		if n := utf8.RuneCountInString(txt); n > 3000 {
			t.Errorf("%s: %d characters", line, n)
		}
		if !strings.Contains(txt, "more") {
			t.Errorf("%s does not say there are more:\n…%s", line, txt[max(0, len(txt)-200):])
		}
	}
}

// /check list says who silenced a check and until when, or which
// maintenance window covers it and why (the config's reason is for chat).
func TestCheckListSaysWhySilenced(t *testing.T) {
	t.Parallel()
	b := storagetest.Backends(t)[0]
	cfg := testConfig("http://127.0.0.1:1/")
	second := cfg.Checks[0]
	second.Name, second.Escalate = "db", nil
	cfg.Checks = append(cfg.Checks, second)
	env := handlertest.New(t, b, cfg)
	now := env.Clock.Now()
	cfg.Maintenance = []config.Maintenance{{Checks: []string{"db"}, Start: now.Add(-time.Hour), End: now.Add(2 * time.Hour), Reason: "PostgreSQL 17 upgrade"}}
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Commands()...)
	if txt := env.Text("bob", "/incident silence web --for 2h"); !strings.Contains(txt, "silenced until") {
		t.Fatal(txt)
	}
	txt := env.Text("carol", "/check list")
	for _, want := range []string{
		"web (http): not run yet, silenced by @bob until " + now.Add(2*time.Hour).Format("2006-01-02 15:04Z"),
		"db (http): not run yet, in maintenance until " + now.Add(2*time.Hour).Format("2006-01-02 15:04Z") + " (PostgreSQL 17 upgrade)",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("check list lacks %q:\n%s", want, txt)
		}
	}
}

// /incident resolve locks the check's state before the incident, in the
// same order as a check run does; the other order deadlocked on PostgreSQL
// when a run finished while someone resolved (one of them failed).
func TestResolveLocksInTheOrderOfARun(t *testing.T) {
	t.Parallel()
	var pg *storagetest.Backend
	for _, b := range storagetest.Backends(t) {
		if b.Name == "postgres" {
			pg = &b
		}
	}
	if pg == nil {
		t.Skip("needs PostgreSQL (OPSBOT_TEST_POSTGRES)")
	}
	r := newRig(t, *pg)
	r.svc.failing.Store(true)
	r.run()
	r.run()
	ctx := context.Background()
	db := r.env.Deps.Store.DB
	// A check run in progress: it holds the state's lock and wants the
	// incident's next.
	run := db.Begin()
	defer run.Rollback()
	if _, err := storage.LockCheckState(run, "web"); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { done <- r.env.Text("bob", `/incident resolve 1 "fixed"`) }()
	// Wait until the resolve is blocked on a lock.
	for waiting := 0; waiting == 0; {
		if err := db.Raw("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND query ILIKE '%check_states%'").Scan(&waiting).Error; err != nil {
			t.Fatal(err)
		}
		select {
		case txt := <-done:
			t.Fatalf("resolve finished while the state was locked: %s", txt)
		default:
		}
	}
	if _, err := storage.GetIncident(run.WithContext(ctx), 1); err != nil {
		t.Fatalf("the run could not take the incident: %v", err)
	}
	if err := run.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if txt := <-done; !strings.Contains(txt, "Resolved incident #1") {
		t.Errorf("resolve: %s", txt)
	}
}

// /incident unsilence ends a silence at once: the check's next run or tick
// behaves as if it had never been silenced, while a configured maintenance
// window still holds.
func TestUnsilence(t *testing.T) {
	t.Parallel()
	until := handlertest.Start.Add(2 * time.Hour).Format("2006-01-02 15:04Z")
	tests := []struct {
		name string
		// maintenance, when set, is a window over web from the start for that long.
		maintenance time.Duration
		// before runs before bob types /incident unsilence web.
		before func(r *rig)
		// want is in the reply; an error reply when wantErr.
		want    []string
		wantErr bool
		// after runs after it, and checks what follows.
		after func(t *testing.T, r *rig)
	}{
		{
			name: "a failing check opens an incident on its next run",
			before: func(r *rig) {
				r.silence()
				r.svc.failing.Store(true)
				for range 3 {
					r.run()
				}
				r.wantOutbox() // silenced: failures count, nothing opens
			},
			want: []string{"Check web is no longer silenced (it was silenced by @bob until " + until + ")",
				"from its next run, failures open incidents"},
			after: func(t *testing.T, r *rig) {
				r.run()
				r.wantOutbox("incident:1:open@log")
				if txt := r.env.Text("carol", "/check list"); strings.Contains(txt, "silenced") {
					t.Errorf("check list still says silenced: %s", txt)
				}
				if txt := r.env.Text("bob", "/incident unsilence web"); !strings.Contains(txt, "Check web is not silenced") {
					t.Errorf("unsilence twice: %s", txt)
				}
			},
		},
		{
			name: "an open incident escalates again",
			before: func(r *rig) {
				r.svc.failing.Store(true)
				r.run()
				r.run()
				r.wantOutbox("incident:1:open@log")
				r.silence()
				r.tick(11 * time.Minute)
				r.wantOutbox("incident:1:open@log") // no escalation while silenced
			},
			want: []string{"no longer silenced"},
			after: func(t *testing.T, r *rig) {
				r.tick(30 * time.Second)
				msgs := r.env.Outbox()
				if len(msgs) < 2 || msgs[1].Key != "incident:1:escalate:0:1@log" {
					t.Errorf("no escalation after unsilence: %v", keys(msgs))
				}
				if txt := r.env.Text("carol", "/incident show 1"); !strings.Contains(txt, "unsilenced by @bob: was silenced by @bob until "+until) {
					t.Errorf("timeline: %s", txt)
				}
			},
		},
		{
			name:        "a maintenance window still holds",
			maintenance: time.Hour,
			before: func(r *rig) {
				r.silence()
				r.svc.failing.Store(true)
			},
			want: []string{"no longer silenced (it was silenced by @bob until " + until + ")",
				"but it is still in maintenance until " + handlertest.Start.Add(time.Hour).Format("2006-01-02 15:04Z") + " (switch upgrade)",
				"no incidents open until the window ends"},
			after: func(t *testing.T, r *rig) {
				for range 3 {
					r.run()
				}
				r.wantOutbox() // the window covers it
				r.env.Clock.Set(handlertest.Start.Add(time.Hour))
				r.run()
				r.wantOutbox("incident:1:open@log") // the window ended; the silence does not come back
			},
		},
		{
			name:        "a maintenance window alone is not lifted",
			maintenance: time.Hour,
			want: []string{"Check web is not silenced with /incident silence; it is in maintenance until " +
				handlertest.Start.Add(time.Hour).Format("2006-01-02 15:04Z") + " (switch upgrade)", "does not lift"},
			wantErr: true,
		},
		{
			name: "an expired silence is nothing to lift",
			before: func(r *rig) {
				r.silence()
				r.env.Clock.Advance(2 * time.Hour)
			},
			want:    []string{"Check web is not silenced; there is nothing to lift."},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		// A fresh database per case: a backend is one database.
		for _, b := range storagetest.Backends(t) {
			t.Run(tt.name+"/"+b.Name, func(t *testing.T) {
				t.Parallel()
				r := newRig(t, b)
				if tt.maintenance > 0 {
					r.env.Deps.Config.Maintenance = []config.Maintenance{{Checks: []string{"web"},
						Start: handlertest.Start, End: handlertest.Start.Add(tt.maintenance), Reason: "switch upgrade"}}
				}
				if tt.before != nil {
					tt.before(r)
				}
				audits := len(r.env.Audit())
				reply := r.env.Run("bob", "/incident unsilence web")
				txt := shell.Render(reply)
				for _, w := range tt.want {
					if !strings.Contains(txt, w) {
						t.Errorf("reply lacks %q:\n%s", w, txt)
					}
				}
				audit := r.env.Audit()
				if tt.wantErr {
					if reply.Severity != bot.SeverityDanger {
						t.Errorf("not an error reply: %+v", reply)
					}
					if len(audit) != audits {
						t.Errorf("a refused unsilence was audited: %+v", audit[audits:])
					}
					return
				}
				if !reply.InChannel {
					t.Error("the reply is not in the channel")
				}
				if len(audit) != audits+1 || audit[audits].Action != "check.unsilence" || audit[audits].Actor != "bob" ||
					audit[audits].Subject != "check:web" || audit[audits].Detail != "was silenced by @bob until "+until {
					t.Errorf("audit %+v", audit[audits:])
				}
				if tt.after != nil {
					tt.after(t, r)
				}
			})
		}
	}
}

// silence has bob silence web for 2h from now.
func (r *rig) silence() {
	r.t.Helper()
	if txt := r.env.Text("bob", "/incident silence web --for 2h"); !strings.Contains(txt, "/incident unsilence web ends it early") {
		r.t.Fatalf("silence: %s", txt)
	}
}
