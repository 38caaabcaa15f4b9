package tickets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers/tickets"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testConfig has a requester (dave), two helpdesk agents (carol, and alice
// as admin), a bystander without the helpdesk role (bob) and two queues.
func testConfig() *config.Config {
	c := config.Default()
	c.People = []config.Person{
		{Name: "alice", SlackID: "U01ALICE", Roles: []string{"admin"}},
		{Name: "bob", SlackID: "U02BOB", Roles: []string{"approver", "oncall"}},
		{Name: "carol", SlackID: "U03CAROL", Roles: []string{"helpdesk"}},
		{Name: "dave", SlackID: "U04DAVE"},
	}
	c.Channels = map[string]config.Channel{"helpdesk": {Slack: "C01HELP"}, "hr": {Slack: "C02HR"}}
	c.Tickets.Queues = []config.Queue{
		{Name: "it", Channel: "helpdesk", Categories: []string{"hardware", "network"}},
		{Name: "people", Channel: "hr", Categories: []string{"payroll"}},
	}
	c.Tickets.DefaultQueue = "it"
	c.Tickets.SLA = map[string]config.SLA{
		"urgent": {FirstResponse: config.Duration(15 * time.Minute), Resolve: config.Duration(4 * time.Hour)},
		"high":   {FirstResponse: config.Duration(time.Hour), Resolve: config.Duration(24 * time.Hour)},
		"normal": {FirstResponse: config.Duration(4 * time.Hour), Resolve: config.Duration(72 * time.Hour)},
	}
	return c
}

func newEnv(t testing.TB, b storagetest.Backend, cfg *config.Config) (*handlertest.Env, *tickets.Handler) {
	t.Helper()
	env := handlertest.New(t, b, cfg)
	h, err := tickets.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Command())
	return env, h
}

func load(t *testing.T, env *handlertest.Env, id int64) storage.Ticket {
	t.Helper()
	tk, err := storage.GetTicket(env.Deps.Store.DB, id, false)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// counts is how many rows each table the handler writes holds.
func counts(t *testing.T, env *handlertest.Env) [4]int64 {
	t.Helper()
	var c [4]int64
	for i, m := range []any{&storage.Ticket{}, &storage.TicketEvent{}, &storage.AuditEntry{}, &storage.OutboxMessage{}} {
		if err := env.Deps.Store.DB.Model(m).Count(&c[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// expect runs a command and checks that its rendered reply holds every want.
func expect(t *testing.T, env *handlertest.Env, who, line string, want ...string) string {
	t.Helper()
	out := env.Text(who, line)
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: %s\nreply lacks %q:\n%s", who, line, w, out)
		}
	}
	return out
}

// refuse runs a command that must fail with msg and write nothing.
func refuse(t *testing.T, env *handlertest.Env, who, line, msg string) {
	t.Helper()
	before := counts(t, env)
	r := env.Run(who, line)
	if r.Severity != bot.SeverityDanger || !strings.Contains(r.Text, msg) {
		t.Errorf("%s: %s\nwant an error containing %q, got %+v", who, line, msg, r)
	}
	if after := counts(t, env); after != before {
		t.Errorf("%s: %s\nwrote rows on error: tickets/events/audit/outbox %v -> %v", who, line, before, after)
	}
}

// outboxSince returns the outbox rows after the first n.
func outboxSince(env *handlertest.Env, n int) []storage.OutboxMessage {
	rows := env.Outbox()
	if n > len(rows) {
		return nil
	}
	return rows[n:]
}

func body(t *testing.T, m storage.OutboxMessage) bot.Reply {
	t.Helper()
	var r bot.Reply
	if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// wantOutbox checks the rows written since n: their keys in order, what
// they edit, and text in each body.
func wantOutbox(t *testing.T, env *handlertest.Env, n int, want ...[3]string) int {
	t.Helper()
	rows := outboxSince(env, n)
	if len(rows) != len(want) {
		var keys []string
		for _, r := range rows {
			keys = append(keys, r.Key)
		}
		t.Fatalf("outbox: want %d new rows, got %v", len(want), keys)
	}
	for i, w := range want {
		r := rows[i]
		if r.Key != w[0] || r.UpdatesKey != w[1] {
			t.Errorf("outbox row %d: key %q updates %q, want %q updates %q", i, r.Key, r.UpdatesKey, w[0], w[1])
		}
		if !strings.Contains(r.Body+r.Target, w[2]) {
			t.Errorf("outbox row %d (%s) lacks %q: %s %s", i, r.Key, w[2], r.Target, r.Body)
		}
	}
	return n + len(rows)
}

func TestTicketLifecycle(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			n := 0

			// dave files; the queue channel gets the card with its buttons.
			r := env.Run("dave", `/ticket new "VPN drops every hour" --priority high --category network`)
			if !strings.Contains(r.Title, "#1") || r.Severity != bot.SeveritySuccess {
				t.Fatalf("new: %+v", r)
			}
			expect(t, env, "dave", `/ticket show 1`, "Status:", "new", "Priority:", "high", "@dave", "it / network",
				"First response due: 2026-03-02 10:00 UTC", "Resolve due:", "2026-03-03 09:00 UTC", "@dave filed it")
			n = wantOutbox(t, env, n, [3]string{"ticket:1:queue@log", "", "/ticket take 1"})
			card := body(t, env.Outbox()[0])
			if len(card.Buttons) != 2 || card.Buttons[0].Label != "Take" || card.Buttons[1].Command != "/ticket resolve 1" ||
				!strings.Contains(card.Text, "/ticket assign 1 @PERSON") || !strings.Contains(env.Outbox()[0].Target, "#helpdesk") {
				t.Errorf("queue card: %+v target %s", card, env.Outbox()[0].Target)
			}

			// bob is a bystander: nothing leaks, nothing changes.
			for _, line := range []string{`/ticket show 1`, `/ticket comment 1 "me too"`, `/ticket resolve 1`, `/ticket reopen 1`} {
				refuse(t, env, "bob", line, "ticket #1 not found or not yours; /ticket list shows yours")
			}
			if out := env.Text("bob", "/ticket show 1"); strings.Contains(out, "VPN") {
				t.Errorf("bystander sees the summary: %s", out)
			}
			refuse(t, env, "bob", `/ticket take 1`, "needs the helpdesk role")
			expect(t, env, "bob", `/ticket list`, "No tickets match")
			expect(t, env, "bob", `/ticket search vpn`, "No tickets match")
			// dave may not do the helpdesk's work.
			refuse(t, env, "dave", `/ticket take 1`, "needs the helpdesk role")
			refuse(t, env, "dave", `/ticket assign 1 @carol`, "needs the helpdesk role")
			refuse(t, env, "dave", `/ticket close 1`, "needs the helpdesk role")
			refuse(t, env, "dave", `/ticket priority 1 urgent`, "needs the helpdesk role")
			refuse(t, env, "carol", `/ticket assign 1 @dave`, "@dave is not on the helpdesk")
			refuse(t, env, "carol", `/ticket pending 1 "which office?"`, "not assigned yet; take it first with /ticket take 1")
			refuse(t, env, "carol", `/ticket close 1`, "ticket #1 is new; resolve it first with /ticket resolve 1")
			refuse(t, env, "carol", `/ticket reopen 1`, "only resolved tickets can be reopened")
			refuse(t, env, "dave", `/ticket show 99`, "ticket #99 does not exist; /ticket list shows yours")
			refuse(t, env, "carol", `/ticket comment 99 "hello"`, "ticket #99 does not exist")

			expect(t, env, "carol", `/ticket list --open`, "#1  new", "VPN drops every hour")
			expect(t, env, "dave", `/ticket list --mine`, "#1  new")

			// carol takes it: first response, queue post edited, dave told.
			env.Clock.Advance(10 * time.Minute)
			expect(t, env, "carol", `/ticket take 1`, "Ticket #1 is assigned to @carol", "Status:", "open",
				"First response due: 2026-03-02 10:00 UTC (met)")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e2@log", "ticket:1:queue@log", "@carol"},
				[3]string{"ticket:1:e2:requester@log", "", "Your ticket #1 (VPN drops every hour) is assigned to @carol"})
			if !strings.Contains(outboxSince(env, n-2)[1].Target, "@dave") {
				t.Errorf("assignment DM not to dave: %s", outboxSince(env, n-2)[1].Target)
			}
			// The edited card tells the truth: taken, by whom, and no Take.
			card = body(t, outboxSince(env, n-2)[0])
			if strings.Contains(card.Text, "Assign it with") || !strings.Contains(card.Text, "@carol is on it") ||
				len(card.Buttons) != 1 || card.Buttons[0].Command != "/ticket resolve 1" {
				t.Errorf("queue card after take: %+v", card)
			}
			tk := load(t, env, 1)
			if tk.Status != storage.TicketOpen || tk.Assignee != "carol" || tk.FirstResponseAt == nil ||
				!tk.FirstResponseAt.Equal(handlertest.Start.Add(10*time.Minute)) || tk.FirstResponseBreachAt != nil {
				t.Errorf("after take: %+v", tk)
			}
			refuse(t, env, "carol", `/ticket take 1`, "ticket #1 is already assigned to @carol")

			// carol asks; dave answers, which reopens the conversation.
			expect(t, env, "carol", `/ticket pending 1 "Which office are you in?"`, "waiting on @dave", "pending")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e3@log", "ticket:1:queue@log", "pending"},
				[3]string{"ticket:1:e3:requester@log", "", "Which office are you in?"})
			if card := body(t, outboxSince(env, n-2)[0]); !strings.Contains(card.Text, "Waiting for the requester") ||
				len(card.Buttons) != 1 || card.Buttons[0].Label == "Take" {
				t.Errorf("queue card while pending: %+v", card)
			}
			refuse(t, env, "carol", `/ticket pending 1 "again?"`, "already waiting on @dave")
			expect(t, env, "dave", `/ticket comment 1 "Berlin, 3rd floor"`, "Commented on #1", "Status:", "open")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e4@log", "ticket:1:queue@log", "open"},
				[3]string{"ticket:1:e4:assignee@log", "", "@dave commented on #1"})
			expect(t, env, "carol", `/ticket comment 1 "Try the new client"`, "Commented on #1")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e5@log", "ticket:1:queue@log", "open"},
				[3]string{"ticket:1:e5:requester@log", "", "@carol commented on your ticket #1"})
			expect(t, env, "carol", `/ticket priority 1 urgent`, "priority urgent")
			n = wantOutbox(t, env, n, [3]string{"ticket:1:queue:e6@log", "ticket:1:queue@log", "urgent"})
			refuse(t, env, "carol", `/ticket priority 1 urgent`, "already has priority urgent")
			refuse(t, env, "carol", `/ticket close 1`, "resolve it first")

			// carol resolves; dave gets a Reopen button and uses it.
			expect(t, env, "carol", `/ticket resolve 1 "Reinstalled the VPN client"`, "Resolved ticket #1", "resolved")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e7@log", "ticket:1:queue@log", "/ticket close 1"},
				[3]string{"ticket:1:e7:requester@log", "", "Reinstalled the VPN client"})
			dm := body(t, outboxSince(env, n-1)[0])
			if len(dm.Buttons) != 1 || dm.Buttons[0].Command != "/ticket reopen 1" {
				t.Errorf("resolution DM buttons: %+v", dm.Buttons)
			}
			refuse(t, env, "carol", `/ticket resolve 1`, "already resolved")
			refuse(t, env, "carol", `/ticket take 1`, "reopen it first with /ticket reopen 1")
			env.Clock.Advance(24 * time.Hour)
			expect(t, env, "dave", dm.Buttons[0].Command, "Reopened ticket #1", "open")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e8@log", "ticket:1:queue@log", "open"},
				[3]string{"ticket:1:e8:assignee@log", "", "@dave reopened ticket #1"})

			// dave resolves it himself; after the window it cannot be reopened.
			expect(t, env, "dave", `/ticket resolve 1 "works now"`, "Resolved ticket #1")
			n = wantOutbox(t, env, n,
				[3]string{"ticket:1:queue:e9@log", "ticket:1:queue@log", "resolved"},
				[3]string{"ticket:1:e9:assignee@log", "", "@dave resolved ticket #1"})
			env.Clock.Advance(7*24*time.Hour + time.Minute)
			refuse(t, env, "dave", `/ticket reopen 1`, "resolved more than 7d ago and can no longer be reopened")
			expect(t, env, "carol", `/ticket close 1`, "Closed ticket #1", "closed")
			n = wantOutbox(t, env, n, [3]string{"ticket:1:queue:e10@log", "ticket:1:queue@log", "Closed."})
			for _, line := range []string{`/ticket reopen 1`, `/ticket comment 1 "still broken"`, `/ticket resolve 1`} {
				refuse(t, env, "dave", line, "closed, which is final")
			}
			refuse(t, env, "carol", `/ticket close 1`, "already closed")

			// The whole story, with who and when.
			show := expect(t, env, "dave", `/ticket show 1`, "Status:", "closed",
				"2026-03-02 09:00 UTC  @dave filed it",
				"2026-03-02 09:10 UTC  @carol assigned it to @carol [new → open]",
				"@carol asked the requester: Which office are you in? [open → pending]",
				"@dave commented: Berlin, 3rd floor [pending → open]",
				"@carol commented: Try the new client",
				"@carol changed the priority: high → urgent",
				"@carol resolved it: Reinstalled the VPN client [open → resolved]",
				"@dave reopened it [resolved → open]",
				"@dave resolved it: works now",
				"@carol closed it [resolved → closed]")
			if strings.Contains(show, "[Reopen]") || strings.Contains(show, "[Resolve]") {
				t.Errorf("closed ticket offers buttons:\n%s", show)
			}
			tk = load(t, env, 1)
			if tk.Status != storage.TicketClosed || tk.Active || tk.ClosedAt == nil || tk.Priority != "urgent" {
				t.Errorf("final state: %+v", tk)
			}

			var actions []string
			for _, a := range env.Audit() {
				if a.Subject != "ticket:1" {
					t.Errorf("audit subject %q", a.Subject)
				}
				actions = append(actions, a.Actor+" "+a.Action)
			}
			want := "dave ticket.new,carol ticket.assigned,carol ticket.pending,dave ticket.comment,carol ticket.comment," +
				"carol ticket.priority,carol ticket.resolved,dave ticket.reopened,dave ticket.resolved,carol ticket.closed"
			if got := strings.Join(actions, ","); got != want {
				t.Errorf("audit:\n got %s\nwant %s", got, want)
			}
			events, total, err := storage.TicketEvents(context.Background(), env.Deps.Store.DB, 1, 100)
			if err != nil || total != 10 || len(events) != 10 {
				t.Errorf("events: %d of %d, %v", len(events), total, err)
			}
		})
	}
}

func TestTicketFilingAndErrors(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())

			// An unknown Slack user is an employee and may file; carol files for dave.
			expect(t, env, "slack:U0NEWBIE", `/ticket new "Printer jam on 2nd floor"`, "Filed ticket #1", "@slack:U0NEWBIE", "it")
			expect(t, env, "carol", `/ticket new "Payslip missing" --category payroll --for @dave --priority urgent`,
				"Filed ticket #2", "@dave (filed by @carol)", "people / payroll", "First response due: 2026-03-02 09:15 UTC")
			rows := env.Outbox()
			if len(rows) != 3 || rows[1].Key != "ticket:2:queue@log" || !strings.Contains(rows[1].Target, "#hr") ||
				rows[2].Key != "ticket:2:e2:requester@log" || !strings.Contains(rows[2].Body, "@carol filed ticket #2 for you") {
				t.Errorf("outbox: %+v", rows)
			}
			expect(t, env, "dave", `/ticket list`, "#2", "Payslip missing")
			expect(t, env, "slack:U0NEWBIE", `/ticket show 1`, "Printer jam")
			refuse(t, env, "slack:U0NEWBIE", `/ticket show 2`, "not found or not yours")

			for _, tc := range []struct{ who, line, msg string }{
				{"dave", `/ticket new ""`, `"SUMMARY" must not be empty`},
				{"dave", `/ticket new "   "`, `"SUMMARY" must not be empty`},
				{"dave", `/ticket new`, `missing "SUMMARY"`},
				{"dave", `/ticket new "x" --priority critical`, `--priority must be one of low, normal, high, urgent, not "critical"`},
				{"dave", `/ticket new "x" --category plumbing`, `unknown category "plumbing"; use one of hardware, network, payroll`},
				{"dave", `/ticket new "x" --for @nobody`, `nobody called "@nobody"`},
				{"dave", `/ticket new "` + strings.Repeat("a", 201) + `"`, "the summary is 201 characters; keep it under 200"},
				{"dave", `/ticket list --queue plumbing`, `unknown queue "plumbing"; use one of it, people`},
				{"dave", `/ticket list --status done`, `--status must be one of new, open, pending, resolved, closed`},
				{"dave", `/ticket list --open --status new`, "give --open or --status, not both"},
				{"dave", `/ticket list --limit 1000`, "--limit must be between 1 and 100"},
				{"dave", `/ticket show twelve`, "must be a number such as 12 or #12"},
				{"dave", `/ticket comment 2 "  "`, `"TEXT" must not be empty`},
				{"carol", `/ticket priority 2 critical`, `PRIORITY must be one of low, normal, high, urgent, not "critical"`},
				{"carol", `/ticket search "   "`, `"WORDS" must not be empty`},
				{"bob", `/ticket comment 2 "hi"`, "ticket #2 not found or not yours"},
			} {
				refuse(t, env, tc.who, tc.line, tc.msg)
			}
			expect(t, env, "dave", `/ticket show #2`, "#2 Payslip missing")

			// Search ignores case and treats LIKE wildcards literally.
			expect(t, env, "carol", `/ticket new "CPU at 100% on build_agent"`, "#3")
			expect(t, env, "carol", `/ticket comment 1 "Toner is EMPTY"`, "Commented")
			for _, tc := range []struct {
				who, words string
				want, not  []string
			}{
				{"carol", "printer", []string{"#1"}, []string{"#2", "#3"}},
				{"carol", "PAYSLIP missing", []string{"#2"}, []string{"#1", "#3"}},
				{"carol", "toner empty", []string{"#1"}, []string{"#2", "#3"}},
				{"carol", "100%", []string{"#3"}, []string{"#1", "#2"}},
				{"carol", "build_agent", []string{"#3"}, []string{"#1", "#2"}},
				{"carol", "_", []string{"#3"}, []string{"#1", "#2"}},
				{"carol", "%", []string{"#3"}, []string{"#1", "#2"}},
				{"carol", "!", nil, []string{"#1", "#2", "#3"}},
				{"dave", "printer", nil, []string{"#1"}},
				{"dave", "payslip", []string{"#2"}, nil},
			} {
				out := env.Text(tc.who, `/ticket search "`+tc.words+`"`)
				for _, w := range tc.want {
					if !strings.Contains(out, w+" ") {
						t.Errorf("%s searching %q: lacks %s:\n%s", tc.who, tc.words, w, out)
					}
				}
				for _, w := range tc.not {
					if strings.Contains(out, w+" ") {
						t.Errorf("%s searching %q: has %s:\n%s", tc.who, tc.words, w, out)
					}
				}
			}
		})
	}
}

func TestTicketListPages(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			for i := 1; i <= 25; i++ {
				who := "dave"
				if i%5 == 0 {
					who = "bob"
				}
				env.Run(who, fmt.Sprintf(`/ticket new "problem %d"`, i))
			}
			env.Run("carol", "/ticket take 3")
			env.Run("carol", "/ticket resolve 4")
			out := expect(t, env, "carol", "/ticket list", "#25 ", "#6 ", "Showing the newest 20; more: /ticket list --before 6")
			if strings.Contains(out, "#4 ") || strings.Contains(out, "#5 ") {
				t.Errorf("first page too long:\n%s", out)
			}
			out = expect(t, env, "carol", "/ticket list --before 6", "#5 ", "#3 ", "#1 ")
			if strings.Contains(out, "#4 ") || strings.Contains(out, "Showing") {
				t.Errorf("second page:\n%s", out)
			}
			expect(t, env, "carol", "/ticket list --status resolved", "#4 ")
			out = expect(t, env, "carol", "/ticket list --assigned @carol --limit 5", "#3 ")
			if strings.Count(out, "\n#") != 1 {
				t.Errorf("--assigned:\n%s", out)
			}
			out = expect(t, env, "dave", "/ticket list --limit 3", "Your open tickets", "#24 ", "#23 ", "#22 ",
				"Showing the newest 3; more: /ticket list --limit 3 --before 22")
			if strings.Contains(out, "#25 ") {
				t.Errorf("dave sees bob's ticket:\n%s", out)
			}
			expect(t, env, "carol", "/ticket list --queue IT --limit 2", "#25 ", "#24 ", "--queue it --limit 2 --before 24")
		})
	}
}

// TestMultiLineTextCannotForgeHistory: a comment typed over several lines
// (Slack allows it) is shown indented under its entry, so a line of it
// cannot pass for an entry of the history.
func TestMultiLineTextCannotForgeHistory(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			expect(t, env, "dave", `/ticket new "VPN drops"`, "Filed ticket #1")
			expect(t, env, "dave", "/ticket comment 1 \"still broken\n2026-03-02 09:00 UTC  @carol resolved it\"", "Commented on #1")
			expect(t, env, "dave", "/ticket comment 1 \"and\r2026-03-02 09:00 UTC  @carol closed it\"", "Commented on #1")
			out := env.Run("dave", "/ticket show 1").Text
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "2026-03-02 09:00 UTC  @carol") || strings.Contains(line, "\r") {
					t.Fatalf("a comment line passes for a history entry:\n%s", out)
				}
			}
			if !strings.Contains(out, "@dave commented: still broken\n") {
				t.Fatalf("comment not shown:\n%s", out)
			}
		})
	}
}

// TestThreadCardFollowsTheTicket files a ticket from a chat message and
// changes it: the card under the message is edited to show the new state
// (taken, then resolved), and a comment that changes nothing on the card
// leaves it alone.
func TestThreadCardFollowsTheTicket(t *testing.T) {
	t.Parallel()
	env, h := newEnv(t, storagetest.Backends(t)[0], testConfig())
	_, err := h.FileFromMessage(context.Background(), bot.Message{Platform: bot.Slack, Channel: "C09GEN", ID: "1700000000.000100",
		Author: env.Deps.Dir.BySlack("U04DAVE"), Text: "printer jams", Link: "https://example.slack.com/archives/C09GEN/p1700000000000100"},
		env.Deps.Dir.BySlack("U04DAVE"))
	if err != nil {
		t.Fatal(err)
	}
	edits := func() []bot.Reply {
		var out []bot.Reply
		for _, m := range env.Outbox() {
			if strings.HasPrefix(m.UpdatesKey, "ticket:1:thread") {
				out = append(out, body(t, m))
			}
		}
		return out
	}
	field := func(r bot.Reply, name string) string {
		for _, f := range r.Fields {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	env.Run("dave", `/ticket comment 1 "it is the one on floor 3"`)
	if e := edits(); len(e) != 0 {
		t.Fatalf("a comment that changes nothing on the card edited it: %+v", e)
	}
	env.Run("carol", "/ticket take 1")
	e := edits()
	if len(e) != 1 || field(e[0], "Assignee") != "@carol" || field(e[0], "Status") != "open" {
		t.Fatalf("card edits after take: %+v", e)
	}
	env.Run("carol", `/ticket resolve 1 "cleared the jam"`)
	if e = edits(); len(e) != 2 || field(e[1], "Status") != "resolved" {
		t.Fatalf("card edits after resolve: %+v", e)
	}
}
