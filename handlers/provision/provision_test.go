package provision_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/bot/discord"
	"opsbot/bot/slack"
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
  - {name: zoe, email: zoe@example.com, slack_id: U05ZOE, roles: [admin]}
channels:
  helpdesk: {slack: C01HELP}
  access: {slack: C02ACCESS}
tickets:
  queues: [{name: it, channel: helpdesk}]
  default_queue: it
access:
  resources:
    - {name: prod-db, roles: [read, write], approvers: [bob], max_duration: 8h, channel: access,
       grant: {command: [SCRIPT, LOG, grant]}, revoke: {command: [SCRIPT, LOG, revoke]}}
    - {name: vault, approvers: [bob], max_duration: 8h,
       grant: {command: [/bin/true]}, revoke: {command: [/bin/sh, -c, "test ! -e FLAG"]}}
    - {name: server-room, approvers: [bob], max_duration: 4h, grant: {manual: true}}
provisioning:
  templates:
    engineer:
      access:
        - {resource: prod-db, role: read, duration: 8h}
        - {resource: server-room, permanent: true}
      commands:
        - {name: account, create: [SCRIPT, LOG, "{{.Person}}", "{{.Email}}", "{{.Start}}"], remove: [SCRIPT, LOG, rm, "{{.Person}}"]}
        - {name: mailbox, create: [/bin/false, "{{.Person}}"]}
      devices: [{kind: laptop}, {kind: phone}]
      tickets: [{summary: "Desk and badge for {{.Person}}", queue: it}]
`

type fixture struct {
	*handlertest.Env
	h    *provision.Handler
	ac   *access.Handler
	log  string
	flag string
}

func newFixture(t *testing.T, b storagetest.Backend) *fixture {
	t.Helper()
	script, err := filepath.Abs("testdata/mkuser.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log, flag := filepath.Join(dir, "runs.log"), filepath.Join(dir, "revoke-fails")
	cfg, err := config.Parse([]byte(strings.NewReplacer("SCRIPT", script, "LOG", log, "FLAG", flag).Replace(cfgText)),
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
	env.Use(tk.Command(), ac.Command(), dv.Command(), h.Command(), h.OffboardCommand())
	return &fixture{Env: env, h: h, ac: ac, log: log, flag: flag}
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

// accessTick runs the access worker: grants and revokes.
func (f *fixture) accessTick() {
	f.T.Helper()
	if err := f.ac.Tick(context.Background()); err != nil {
		f.T.Fatalf("access tick: %v", err)
	}
}

func (f *fixture) logLines() string {
	b, _ := os.ReadFile(f.log)
	return strings.TrimSpace(string(b))
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
			if string(b) != "erin erin@example.com 2026-03-04\ngrant\n" {
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
			if tk, _, rq, runs := f.counts(); tk != 4 || rq != 1 || runs != 2 {
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

// TestOffboard: a second admin confirms; then the person is inactive,
// every grant is revoked through the resources' revoke commands (a failing
// one stays visible and is retried), pending requests are withdrawn, one
// return ticket is filed per held device, the template's remove command
// runs, and no active grant is left.
func TestOffboard(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			ctx := context.Background()
			db := f.Deps.Store.DB
			f.expect("alice", "/device add laptop-1 192.0.2.1 --kind laptop")
			f.expect("alice", "/device add phone-1 192.0.2.3 --kind phone")
			f.expect("hank", "/onboard erin --template engineer", "Onboarding #1")
			f.tick()
			f.expect("bob", "/access approve 1", "#1")
			f.expect("erin", "/access request vault --for 4h", "Requested #2")
			f.expect("bob", "/access approve 2", "#2")
			f.accessTick()
			f.expect("erin", "/access request prod-db --role write --for 1h", "Requested #3")
			active := func() []storage.AccessRequest {
				rs, err := storage.ListAccessRequests(ctx, db, storage.AccessFilter{Requester: "erin",
					States: []string{storage.AccessActive, storage.AccessRevoking, storage.AccessRevokeFailed, storage.AccessGranting}})
				if err != nil {
					t.Fatal(err)
				}
				return rs
			}
			if n := len(active()); n != 2 {
				t.Fatalf("%d active grants before offboarding, want 2", n)
			}
			if err := os.WriteFile(f.flag, nil, 0o600); err != nil {
				t.Fatal(err)
			}

			f.expect("hank", "/offboard erin", "needs the admin role")
			f.expect("alice", "/offboard alice", "cannot offboard yourself")
			f.expect("alice", "/offboard erin --on 2026-01-01", "is in the past")
			f.expect("alice", "/offboard erin", "Offboarding #2 of @erin waits for another admin", "/offboard confirm 2")
			f.expect("alice", "/offboard erin", "being offboarded already (#2, awaiting)")
			f.expect("alice", "/offboard confirm 2", "another admin must confirm")
			f.expect("hank", "/offboard confirm 2", "needs the admin role")
			if len(active()) != 2 || f.logLines() != "erin erin@example.com 2026-03-02\ngrant" {
				t.Fatalf("something happened before the confirmation: %d active, log %q", len(active()), f.logLines())
			}
			f.expect("zoe", "/offboard confirm 2", "Offboarding #2: @erin",
				"[x] Inactive: no roles, out of every rotation",
				"[ ] Revoke access #1 — access #1",
				"[ ] Revoke access #2 — access #2",
				"[x] Return laptop-1 — ticket #", "[x] Return phone-1 — ticket #",
				"[ ] Remove account: account")
			f.expect("zoe", "/offboard confirm 2", "is open already")
			if r, _ := storage.GetAccessRequest(db, 3); r.State != storage.AccessCancelled {
				t.Errorf("pending request #3 is %s, want withdrawn", r.State)
			}
			// erin is now an unknown employee: the config's name finds nothing.
			f.expect("erin", "/device mine", "You hold no devices.")

			f.accessTick()
			f.tick()
			show := f.expect("zoe", "/offboard show 2",
				"[x] Revoke access #1", "[!] Revoke access #2 — access #2 (revoke failing, retried: revoke /bin/sh: exit status 1)",
				"[x] Remove account: account")
			if strings.Contains(show, "State:  done") {
				t.Fatalf("done with a failing revoke:\n%s", show)
			}
			// Nothing changed: another pass leaves the cards alone.
			cards := func() (n int64) {
				db.Model(&storage.OutboxMessage{}).Where("key LIKE ?", "checklist:2:%").Count(&n)
				return n
			}
			before := cards()
			f.tick()
			if after := cards(); after != before || before == 0 {
				t.Errorf("an idle pass edited the cards: %d messages, then %d", before, after)
			}
			if err := os.Remove(f.flag); err != nil {
				t.Fatal(err)
			}
			f.Clock.Advance(time.Hour)
			f.accessTick()
			f.tick()
			f.expect("zoe", "/offboard show 2", "[x] Revoke access #2", "6 of 6 done")
			if c, _, _ := storage.GetChecklist(ctx, db, 2); c.State != storage.ChecklistDone {
				t.Errorf("offboarding state %s", c.State)
			}
			if rs := active(); len(rs) != 0 {
				t.Errorf("active grants left: %+v", rs)
			}
			if got, want := f.logLines(), "erin erin@example.com 2026-03-02\ngrant\nrevoke\nrm erin"; got != want {
				t.Errorf("commands run:\n%s\nwant\n%s", got, want)
			}
			var returns int64
			db.Model(&storage.Ticket{}).Where("summary LIKE ?", "Collect %").Count(&returns)
			if returns != 2 {
				t.Errorf("%d return tickets, want 2 (laptop-1, phone-1)", returns)
			}
			f.expect("hank", "/onboard erin --template engineer", "@erin was offboarded (inactive)")
			db.Model(&storage.Ticket{}).Where("summary LIKE ?", "Collect %").Count(&returns)
			if returns != 2 || f.logLines() != "erin erin@example.com 2026-03-02\ngrant\nrevoke\nrm erin" {
				t.Errorf("another pass did more: %d return tickets, log %q", returns, f.logLines())
			}
			var actions []string
			for _, a := range f.Audit() {
				if strings.HasPrefix(a.Action, "offboard.") || a.Action == "person.inactive" {
					actions = append(actions, a.Action+" "+a.Actor)
				}
			}
			if got := strings.Join(actions, "|"); got != "offboard.request alice|offboard.confirm zoe|person.inactive alice|offboard.step alice|offboard.done alice" {
				t.Errorf("audit = %q", got)
			}
		})
	}
}

// TestRender: /onboard and /offboard fit Discord's slash command rules, and
// the checklist card and the confirmation button render for Slack and
// Discord.
func TestRender(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storagetest.Backends(t)[0])
	if _, err := discord.ApplicationCommands([]bot.Command{f.h.Command(), f.h.OffboardCommand()}); err != nil {
		t.Errorf("/onboard and /offboard as Discord slash commands: %v", err)
	}
	f.expect("alice", "/device add laptop-1 192.0.2.1 --kind laptop")
	card := f.Run("hank", "/onboard erin --template engineer")
	f.expect("alice", "/offboard bob", "waits for another admin")
	var ask bot.Reply
	for _, m := range f.Outbox() {
		if strings.HasPrefix(m.Key, "checklist:2:confirm:zoe") {
			if err := json.Unmarshal([]byte(m.Body), &ask); err != nil {
				t.Fatalf("confirmation body: %v", err)
			}
		}
	}
	if ask.Title == "" {
		t.Fatal("zoe got no confirmation message")
	}
	for _, c := range []struct {
		r    bot.Reply
		want []string
	}{
		{card, []string{"Onboarding #1: @erin (engineer)", "Device: a laptop — laptop-1", "Ticket: Desk and badge for erin"}},
		{ask, []string{"Offboarding #2: @alice asks to offboard @bob", "Confirm offboarding", "/offboard confirm 2"}},
	} {
		s, err := json.Marshal(slack.Render(c.r))
		if err != nil {
			t.Fatal(err)
		}
		d, err := json.Marshal(discord.Render(c.r))
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"slack": string(s), "discord": string(d)} {
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %q: %s", name, w, out)
				}
			}
		}
	}
}
