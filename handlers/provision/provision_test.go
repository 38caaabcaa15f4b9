package provision_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/handlers/access"
	"opsbot/handlers/devices"
	"opsbot/handlers/provision"
	"opsbot/handlers/tickets"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const cfgText = `
people:
  - {name: alice, email: alice@example.com, slack_id: U01ALICE, roles: [admin]}
  - {name: hank, email: hank@example.com, slack_id: U02HANK, roles: [helpdesk]}
  - {name: bob, email: bob@example.com, slack_id: U03BOB, roles: [approver]}
  - {name: erin, email: erin@example.com}
channels:
  helpdesk: {slack: C01HELP}
  access: {slack: C02ACCESS}
tickets:
  queues: [{name: it, channel: helpdesk}]
  default_queue: it
access:
  resources:
    - {name: prod-db, roles: [read, write], approvers: [bob], max_duration: 8h, channel: access,
       grant: {command: [/bin/true]}, revoke: {command: [/bin/true]}}
    - {name: server-room, approvers: [bob], max_duration: 4h, grant: {manual: true}}
provisioning:
  templates:
    engineer:
      access:
        - {resource: prod-db, role: read, duration: 8h}
        - {resource: server-room, permanent: true}
      commands:
        - {name: account, create: [SCRIPT, LOG, "{{.Person}}", "{{.Email}}", "{{.Start}}"]}
        - {name: mailbox, create: [/bin/false, "{{.Person}}"]}
      devices: [{kind: laptop}, {kind: phone}]
      tickets: [{summary: "Desk and badge for {{.Person}}", queue: it}]
`

type fixture struct {
	*handlertest.Env
	h   *provision.Handler
	log string
}

func newFixture(t *testing.T, b storagetest.Backend) *fixture {
	t.Helper()
	script, err := filepath.Abs("testdata/mkuser.sh")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "runs.log")
	cfg, err := config.Parse([]byte(strings.NewReplacer("SCRIPT", script, "LOG", log).Replace(cfgText)),
		func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	env := handlertest.New(t, b, cfg)
	tk, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := access.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	dv, err := devices.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	h, err := provision.New(env.Deps, tk, ac)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(tk.Command(), ac.Command(), dv.Command(), h.Command())
	return &fixture{Env: env, h: h, log: log}
}

func (f *fixture) expect(who, line string, want ...string) string {
	f.T.Helper()
	got := f.Text(who, line)
	for _, w := range want {
		if !strings.Contains(got, w) {
			f.T.Errorf("%s %q:\n%s\nwant %q", who, line, got, w)
		}
	}
	return got
}

func (f *fixture) tick() {
	f.T.Helper()
	if err := f.h.Tick(context.Background()); err != nil {
		f.T.Fatalf("tick: %v", err)
	}
}

// counts are the records onboarding makes.
func (f *fixture) counts() (tickets, assignments, requests int64, runs int) {
	f.T.Helper()
	db := f.Deps.Store.DB
	db.Model(&storage.Ticket{}).Count(&tickets)
	db.Model(&storage.DeviceAssignment{}).Count(&assignments)
	db.Model(&storage.AccessRequest{}).Count(&requests)
	if b, err := os.ReadFile(f.log); err == nil {
		runs = strings.Count(string(b), "\n")
	}
	return
}

// TestOnboard: tickets and devices are done at once, access and accounts
// wait for the start date, then go through approvals and proc; what cannot
// run becomes a ticket; running it again changes nothing.
func TestOnboard(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.expect("alice", "/device add laptop-1 192.0.2.1 --kind laptop")
			f.expect("alice", "/device add laptop-2 192.0.2.2 --kind laptop")
			f.expect("hank", "/device assign laptop-1 @bob", "@bob now holds laptop-1")

			f.expect("bob", "/onboard erin --template engineer", "needs the helpdesk role")
			f.expect("hank", "/onboard erin --template enginer", `no template "enginer"`, "use one of engineer")
			f.expect("hank", "/onboard erin --template engineer --start 2026-03-01", "is in the past")
			f.expect("hank", "/onboard erin --template engineer --start tomorrow", "is not a date")
			if tk, as, rq, _ := f.counts(); tk != 0 || as != 1 || rq != 0 {
				t.Fatalf("refused onboardings wrote: %d tickets, %d assignments, %d requests", tk, as, rq)
			}

			first := f.expect("hank", "/onboard erin --template engineer --start 2026-03-04",
				"Onboarding #1: @erin (engineer) — 3 of 7 done",
				"[x] Ticket: Desk and badge for erin — ticket #1",
				"[x] Device: a laptop — laptop-2",
				"[t] Device: a phone — ticket #2 (no free phone in the inventory)",
				"[ ] Access: prod-db (read) for 8h (on 2026-03-04)",
				"[ ] Account: account (on 2026-03-04)")
			if tk, as, rq, runs := f.counts(); tk != 2 || as != 2 || rq != 0 || runs != 0 {
				t.Fatalf("after onboarding: %d tickets, %d assignments, %d requests, %d runs\n%s", tk, as, rq, runs, first)
			}
			f.expect("hank", "/device list --holder @erin", "laptop-2")

			// Again: resumes, files and assigns nothing more.
			f.expect("alice", "/onboard @erin --template engineer", "Resumed #1", "3 of 7 done")
			f.tick() // before the start date: nothing runs
			if tk, as, rq, runs := f.counts(); tk != 2 || as != 2 || rq != 0 || runs != 0 {
				t.Fatalf("before the start: %d tickets, %d assignments, %d requests, %d runs", tk, as, rq, runs)
			}

			f.Clock.Set(time.Date(2026, 3, 4, 0, 0, 1, 0, time.UTC))
			f.tick()
			f.expect("hank", "/onboard show 1", "6 of 7 done",
				"[x] Access: prod-db (read) for 8h — access #1",
				"[t] Access: server-room permanent — ticket #3 (access requests always expire",
				"[x] Account: account",
				"[!] Account: mailbox (failed 1 of 3 tries: exit status 1)")
			reqs, err := storage.ListAccessRequests(context.Background(), f.Deps.Store.DB, storage.AccessFilter{})
			if err != nil || len(reqs) != 1 || reqs[0].Requester != "erin" || reqs[0].State != storage.AccessPending ||
				reqs[0].Resource != "prod-db" || reqs[0].Role != "read" || reqs[0].Duration != 8*time.Hour {
				t.Fatalf("access requests = %+v, %v", reqs, err)
			}
			f.expect("bob", "/access approve 1", "#1")
			b, _ := os.ReadFile(f.log)
			if string(b) != "erin erin@example.com 2026-03-04\n" {
				t.Errorf("account command ran with %q", b)
			}

			f.tick()
			f.tick()
			f.expect("hank", "/onboard show 1", "7 of 7 done",
				"[t] Account: mailbox — ticket #4 (mailbox failed 3 times (exit status 1); run /bin/false erin by hand)")
			f.tick()
			f.expect("hank", "/onboard erin --template engineer", "@erin was onboarded already (#1, engineer, done)")
			if c, _, err := storage.GetChecklist(context.Background(), f.Deps.Store.DB, 1); err != nil || c.State != storage.ChecklistDone {
				t.Errorf("checklist 1 = %+v, %v", c, err)
			}
			if tk, _, rq, runs := f.counts(); tk != 4 || rq != 1 || runs != 1 {
				t.Errorf("after the start: %d tickets, %d requests, %d runs", tk, rq, runs)
			}

			var actions []string
			for _, a := range f.Audit() {
				if strings.HasPrefix(a.Action, "onboard.") {
					actions = append(actions, a.Action+" "+a.Actor)
				}
			}
			want := "onboard.start hank|onboard.resume alice|onboard.step hank|onboard.step hank|onboard.step hank|onboard.step hank|onboard.step hank|onboard.step hank|onboard.done hank"
			if strings.Join(actions, "|") != want {
				t.Errorf("audit = %q\nwant %q", strings.Join(actions, "|"), want)
			}
			// An offboarded agent is an unknown employee: no helpdesk role.
			if err := storage.SetInactive(f.Deps.Store.DB, "hank", true, "alice", f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			f.expect("hank", "/onboard show 1", "needs the helpdesk role")
			cards := 0
			for _, m := range f.Outbox() {
				if strings.Contains(m.Key, "checklist:1:card") {
					cards++
				}
			}
			if cards < 4 {
				t.Errorf("%d card posts and edits for checklist 1, want the two posts and edits as items finish", cards)
			}
		})
	}
}
