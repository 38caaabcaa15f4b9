package access_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/handlers/access"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// fixture is one test's bot with the access handler over a real database,
// and the directory the record.sh grant/revoke command writes to.
type fixture struct {
	*handlertest.Env
	h   *access.Handler
	dir string
}

const cfgTemplate = `
people:
  - {name: alice, email: alice@example.com, slack_id: U01ALICE, roles: [approver, admin]}
  - {name: bob, email: bob@example.com, slack_id: U02BOB, roles: [approver]}
  - {name: carol, email: carol@example.com, roles: [approver]}
  - {name: dave, email: dave@example.com, slack_id: U04DAVE, discord_id: "100000000000000004", roles: []}
  - {name: erin, email: erin@example.com, roles: [helpdesk]}
channels:
  access: {slack: C02ACCESS}
access:
  pending_ttl: 1h
  warn_before: 15m
  resources:
    - name: prod-db
      description: Production PostgreSQL
      roles: [read, write]
      approvers: [bob]
      approver_role: approver
      max_duration: 8h
      reason_required: true
      channel: access
      grant: {command: [SCRIPT, DIR], timeout: 10s}
      revoke: {command: [SCRIPT, DIR], timeout: 10s}
    - name: vault
      roles: [admin]
      approver_role: approver
      approvals: 2
      max_duration: 4h
      channel: access
      grant: {command: [SCRIPT, DIR]}
      revoke: {command: [SCRIPT, DIR]}
    - name: idm
      approvers: [bob]
      max_duration: 8h
      channel: access
      grant: {webhook: {url: "HOOK/grant", secret: "s3cret-hook-key"}}
      revoke: {webhook: {url: "HOOK/revoke", secret: "s3cret-hook-key"}}
    - name: lab
      approvers: [bob]
      max_duration: 8h
      channel: access
      grant: {manual: true}
`

func newFixture(t testing.TB, b storagetest.Backend, hook string) *fixture {
	t.Helper()
	return newFixtureWith(t, b, hook, nil)
}

// newFixtureWith is newFixture with edit applied to the parsed config.
func newFixtureWith(t testing.TB, b storagetest.Backend, hook string, edit func(*config.Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	script, err := filepath.Abs("testdata/record.sh")
	if err != nil {
		t.Fatal(err)
	}
	if hook == "" {
		hook = "http://127.0.0.1:1"
	}
	text := strings.NewReplacer("SCRIPT", script, "DIR", dir, "HOOK", hook).Replace(cfgTemplate)
	cfg, err := config.Parse([]byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	env := handlertest.New(t, b, cfg)
	h, err := access.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Command())
	return &fixture{Env: env, h: h, dir: dir}
}

func (f *fixture) tick() {
	f.T.Helper()
	if err := f.h.Tick(context.Background()); err != nil {
		f.T.Fatalf("tick: %v", err)
	}
}

// expect runs line as person and fails unless the rendered reply contains want.
func (f *fixture) expect(person, line, want string) string {
	f.T.Helper()
	got := f.Text(person, line)
	if !strings.Contains(got, want) {
		f.T.Fatalf("%s: %s\n got: %s\nwant: …%s…", person, line, got, want)
	}
	return got
}

func (f *fixture) request(id int64) *storage.AccessRequest {
	f.T.Helper()
	r, err := storage.GetAccessRequest(f.Deps.Store.DB, id)
	if err != nil {
		f.T.Fatal(err)
	}
	return r
}

func (f *fixture) state(id int64, want string) {
	f.T.Helper()
	if got := f.request(id).State; got != want {
		f.T.Fatalf("#%d state = %s, want %s", id, got, want)
	}
}

// runs are the lines record.sh appended: "grant 1", "revoke 1".
func (f *fixture) runs() []string {
	data, err := os.ReadFile(filepath.Join(f.dir, "runs"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.T.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

// env reads the environment record.sh saw.
func (f *fixture) env(act string, id int64, attempt int) map[string]string {
	f.T.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, fmt.Sprintf("%s-%d-%d.env", act, id, attempt)))
	if err != nil {
		f.T.Fatalf("%s of #%d attempt %d did not run: %v", act, id, attempt, err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func (f *fixture) failing(act string, on bool) {
	f.T.Helper()
	p := filepath.Join(f.dir, "fail-"+act)
	if on {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			f.T.Fatal(err)
		}
		return
	}
	if err := os.Remove(p); err != nil {
		f.T.Fatal(err)
	}
}

// outbox finds queued notifications whose key contains part.
func (f *fixture) outbox(part string) []storage.OutboxMessage {
	var out []storage.OutboxMessage
	for _, m := range f.Outbox() {
		if strings.Contains(m.Key, part) {
			out = append(out, m)
		}
	}
	return out
}

func (f *fixture) audited(actions ...string) {
	f.T.Helper()
	var got []string
	for _, e := range f.Audit() {
		got = append(got, e.Action)
	}
	all := strings.Join(got, " ")
	for _, a := range actions {
		if !strings.Contains(" "+all+" ", " "+a+" ") {
			f.T.Errorf("audit log lacks %s: %s", a, all)
		}
	}
}

func each(t *testing.T, fn func(t *testing.T, b storagetest.Backend)) {
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func TestRequestApproveGrantExpireRevoke(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 2h --reason "deploy 1.2"`, "Requested #1: prod-db (read) for 2h")
		f.state(1, storage.AccessPending)
		post := f.outbox("access:1:post@")
		if len(post) != 1 || !strings.Contains(post[0].Body, `/access approve 1`) || !strings.Contains(post[0].Body, `/access deny 1 --reason`) {
			t.Fatalf("channel post: %+v", post)
		}
		if len(f.outbox("access:1:r0:ask:bob")) != 1 || len(f.outbox("access:1:r0:ask:alice")) != 1 {
			t.Fatalf("approvers were not asked by DM")
		}
		if len(f.runs()) != 0 {
			t.Fatal("grant ran before approval")
		}
		f.expect("bob", `/access approve #1 --note "ok for the deploy"`, "Granted to @dave until 2026-03-02 11:00 UTC")
		f.state(1, storage.AccessActive)
		env := f.env("grant", 1, 1)
		want := map[string]string{
			"OPSBOT_ACTION": "grant", "OPSBOT_REQUEST_ID": "1", "OPSBOT_RESOURCE": "prod-db", "OPSBOT_ROLE": "read",
			"OPSBOT_USER": "dave", "OPSBOT_USER_EMAIL": "dave@example.com", "OPSBOT_SLACK_ID": "U04DAVE",
			"OPSBOT_DISCORD_ID": "100000000000000004", "OPSBOT_EXPIRES_AT": "2026-03-02T11:00:00Z",
			"OPSBOT_REASON": "deploy 1.2", "OPSBOT_APPROVERS": "bob", "OPSBOT_ATTEMPT": "1",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		if _, leaked := env["OPSBOT_TEST_POSTGRES"]; leaked {
			t.Error("the command saw opsbot's own environment")
		}
		edits := 0
		for _, m := range f.outbox("access:1:card:") {
			if m.UpdatesKey == "access:1:post@log" {
				edits++
			}
		}
		if edits == 0 {
			t.Error("the channel message was not edited")
		}
		if len(f.outbox("access:1:granted:")) != 1 {
			t.Error("requester not told of the grant")
		}

		f.Clock.Advance(time.Hour + 50*time.Minute)
		f.tick()
		if len(f.outbox("access:1:warn:")) != 1 {
			t.Error("no warning before expiry")
		}
		f.state(1, storage.AccessActive)
		f.Clock.Advance(10 * time.Minute)
		f.tick()
		f.state(1, storage.AccessRevoked)
		if got := f.env("revoke", 1, 1)["OPSBOT_ACTION"]; got != "revoke" {
			t.Errorf("revoke env action = %q", got)
		}
		if got := strings.Join(f.runs(), " "); got != "grant_1 revoke_1" {
			t.Errorf("runs = %s", got)
		}
		if len(f.outbox("access:1:revoked:")) != 1 {
			t.Error("requester not told of the revoke")
		}
		f.tick()
		if got := len(f.runs()); got != 2 {
			t.Errorf("a second tick ran actions again: %d runs", got)
		}
		f.audited("access.request", "access.approve", "access.approved", "access.grant", "access.expire", "access.revoke")
		f.expect("alice", "/access audit prod-db", "@bob access.approve #1 prod-db")
		f.expect("dave", "/access audit", "needs the admin role")
	})
}

func TestRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("bob", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("dave", `/access request prod-db --role write --for 1h --reason "y"`, "Requested #2")
		cases := []struct{ who, line, want string }{
			{"bob", "/access approve 1", "You cannot approve your own request #1"},
			{"erin", "/access approve 2", "There is no access request #2 you can see"},
			{"erin", "/access show 2", "There is no access request #2 you can see"},
			{"dave", "/access approve 2", "You cannot approve your own request #2"},
			{"dave", "/access request prod-db --for 9h --reason x", "the maximum is 8h"},
			{"dave", "/access request prod-db --for 1h", `prod-db needs a reason: add --reason`},
			{"dave", "/access request prod-db --role admin --for 1h --reason x", `prod-db has no role "admin"; choose one of read, write`},
			{"dave", "/access request prod-bd --for 1h --reason x", "Did you mean prod-db? Resources: prod-db, vault, idm, lab"},
			{"dave", "/access request prod-db --role write --for 1h --reason x", "You already have #2"},
			{"dave", "/access request prod-db --for 1h --reason x --for 2h", "--for is given twice"},
			{"dave", "/access extend 2 --for 1h", "only active access can be extended"},
			{"dave", "/access deny 2 --reason nope", "You cannot decide on your own request"},
			{"dave", "/access list --mine --pending", "at most one of"},
			{"bob", "/access list --active --failing", "Give at most one of --mine, --pending, --active, --failing."},
			{"bob", "/access list --failing", "/access list --failing needs the admin role; ask someone who has it."},
			{"alice", "/access list --failing", "No grant or revoke is failing."},
			{"dave", "/access approve 99", "There is no access request #99"},
			{"erin", "/access revoke 2", "There is no access request #2 you can see"},
		}
		for _, c := range cases {
			f.expect(c.who, c.line, c.want)
		}
		// erin can see nothing, so approving is refused as not found; a
		// visible request to a non-approver is refused as not an approver.
		f.expect("alice", "/access approve 1", "Granted to @bob")
		f.expect("carol", "/access approve 2", "Granted to @dave")
		f.expect("dave", "/access list --mine", "#2 prod-db (write) for @dave, 1h: active")
		f.expect("dave", "/access resources", "vault")
		f.state(1, storage.AccessActive)
	})
}

func TestUnauthorisedApprover(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		// erin is not an approver of lab (only bob is), but lab's requester
		// can show it to anyone; make erin see it by requesting herself.
		f.expect("dave", "/access request lab --for 1h", "Requested #1")
		f.expect("carol", "/access approve 1", "There is no access request #1 you can see")
		f.expect("alice", "/access approve 1", "You are not an approver for lab (@bob)")
		f.state(1, storage.AccessPending)
		f.audited("access.request")
		for _, e := range f.Audit() {
			if e.Action == "access.approve" {
				t.Fatal("a refused approval was recorded")
			}
		}
	})
}

func TestTwoDistinctApprovers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", "/access request vault --for 1h", "Waiting for 2 approvals")
		f.expect("bob", "/access approve 1", "Approved #1 (1 of 2)")
		f.expect("bob", "/access approve 1", "You have already approved #1")
		f.state(1, storage.AccessPending)
		if len(f.runs()) != 0 {
			t.Fatal("granted after one approval")
		}
		f.expect("carol", "/access approve 1", "Granted to @dave")
		if got := f.env("grant", 1, 1)["OPSBOT_APPROVERS"]; got != "bob,carol" {
			t.Errorf("approvers = %q", got)
		}
		f.expect("alice", "/access approve 1", "is active; there is nothing to approve")
	})
}

func TestDeny(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("bob", "/access deny 1", "missing --reason")
		// The Deny button carries a complete command.
		var card struct {
			Buttons []struct{ Label, Command string }
		}
		if err := json.Unmarshal([]byte(f.outbox("access:1:post@")[0].Body), &card); err != nil {
			t.Fatal(err)
		}
		deny := card.Buttons[1]
		if deny.Label != "Deny" {
			t.Fatalf("buttons: %+v", card.Buttons)
		}
		f.expect("bob", deny.Command, "Denied #1; @dave has been told")
		f.state(1, storage.AccessDenied)
		if r := f.request(1); r.CloseReason != "denied from button" || r.ClosedBy != "bob" {
			t.Errorf("closed %q by %q", r.CloseReason, r.ClosedBy)
		}
		if len(f.outbox("access:1:denied:")) != 1 {
			t.Error("requester not told")
		}
		f.expect("alice", "/access approve 1", "is denied")
		f.tick()
		if len(f.runs()) != 0 {
			t.Error("a denied request ran an action")
		}
		f.audited("access.deny")
	})
}

func TestFailingActionsAreRetriedAndReported(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.failing("grant", true)
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("bob", "/access approve 1", "the grant failed (1 attempt)")
		f.state(1, storage.AccessGrantFailed)
		alerts := f.outbox("access:1:alert:")
		if len(alerts) != 1 || !strings.Contains(alerts[0].Body, "Grant of #1 failed (attempt 1 of 5)") ||
			!strings.Contains(alerts[0].Body, "simulated grant failure") {
			t.Fatalf("grant failure not reported in the channel: %+v", alerts)
		}
		f.expect("alice", "/access list --failing", "#1 prod-db (read) for @dave: grant failed, retrying, 1 failed attempt, next try 2026-03-02 09:00 UTC\n    last error: grant ")
		f.tick() // not due yet
		if n := len(f.runs()); n != 1 {
			t.Fatalf("retried before the backoff: %d runs", n)
		}
		f.failing("grant", false)
		f.Clock.Advance(30 * time.Second)
		f.tick()
		f.state(1, storage.AccessActive)
		if f.env("grant", 1, 2)["OPSBOT_ATTEMPT"] != "2" {
			t.Error("attempt number not passed")
		}

		f.failing("revoke", true)
		f.Clock.Advance(time.Hour)
		f.tick()
		f.state(1, storage.AccessRevokeFailed)
		alerts = f.outbox("access:1:alert:")
		if !strings.Contains(alerts[len(alerts)-1].Body, "REVOKE OF #1 FAILED: access is still in place") {
			t.Fatalf("revoke failure not raised: %s", alerts[len(alerts)-1].Body)
		}
		for i := 0; i < 3; i++ { // keeps failing, keeps retrying
			f.Clock.Advance(15 * time.Minute)
			f.tick()
			f.state(1, storage.AccessRevokeFailed)
		}
		if r := f.request(1); r.Attempts != 4 {
			t.Errorf("attempts = %d, want 4", r.Attempts)
		}
		f.expect("alice", "/access show 1", "simulated revoke failure")
		f.failing("revoke", false)
		f.Clock.Advance(15 * time.Minute)
		f.tick()
		f.state(1, storage.AccessRevoked)
		alerts = f.outbox("access:1:alert:")
		if !strings.Contains(alerts[len(alerts)-1].Body, "Revoke of #1 succeeded") {
			t.Errorf("recovery not reported: %s", alerts[len(alerts)-1].Body)
		}
		f.audited("access.grant_failed", "access.grant", "access.revoke_failed", "access.revoke")
	})
}

func TestGrantGivesUpAndCleansUp(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.failing("grant", true)
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("bob", "/access approve 1", "grant failed")
		for i := 0; i < 4; i++ {
			f.Clock.Advance(15 * time.Minute)
			f.tick()
		}
		f.state(1, storage.AccessRevoking)
		f.tick()
		f.state(1, storage.AccessFailed)
		if got := strings.Join(f.runs(), " "); got != "grant_1 grant_1 grant_1 grant_1 grant_1 revoke_1" {
			t.Errorf("runs = %s", got)
		}
	})
}

func TestRestartRevokesOverdueGrant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("bob", "/access approve 1", "Granted")
		// The process stops; it comes back three hours later.
		f.Clock.Advance(3 * time.Hour)
		h2, err := access.New(f.Deps)
		if err != nil {
			t.Fatal(err)
		}
		if err := h2.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.state(1, storage.AccessRevoked)

		// A process that crashed while revoking left its lease: the revoke
		// runs again once the lease has run out.
		f.expect("dave", `/access request prod-db --for 1h --reason "again"`, "Requested #2")
		f.expect("bob", "/access approve 2", "Granted")
		f.Clock.Advance(time.Hour)
		until := f.Clock.Now().Add(time.Minute)
		if err := f.Deps.Store.DB.Model(&storage.AccessRequest{}).Where("id = 2").Updates(map[string]any{
			"state": storage.AccessRevoking, "next_attempt_at": f.Clock.Now(), "claimed_by": "crashed", "claimed_until": until}).Error; err != nil {
			t.Fatal(err)
		}
		h3, err := access.New(f.Deps)
		if err != nil {
			t.Fatal(err)
		}
		if err := h3.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.state(2, storage.AccessRevoking)
		f.Clock.Advance(2 * time.Minute)
		if err := h3.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.state(2, storage.AccessRevoked)
	})
}

func TestConcurrentTicksRunOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		f.expect("bob", "/access approve 1", "Granted")
		f.Clock.Advance(time.Hour)
		var hs []*access.Handler
		for i := 0; i < 4; i++ {
			h, err := access.New(f.Deps)
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(hs))
		for _, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- h.Tick(context.Background())
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		f.state(1, storage.AccessRevoked)
		if got := strings.Join(f.runs(), " "); got != "grant_1 revoke_1" {
			t.Errorf("runs = %s", got)
		}
		n := 0
		for _, e := range f.Audit() {
			if e.Action == "access.revoke" || e.Action == "access.expire" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("expire+revoke audited %d times, want 2", n)
		}
	})
}

func TestHostileReasonOnlyInEnvironment(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		canary := filepath.Join(f.dir, "pwned")
		reason := fmt.Sprintf(`$(touch %s) `+"`touch %s`"+` \"quoted\" it's; rm -rf / #`, canary, canary)
		line := "/access request prod-db --for 1h --reason \"" + reason + "\nsecond line\""
		f.expect("dave", line, "Requested #1")
		f.expect("bob", "/access approve 1", "Granted")
		got := f.env("grant", 1, 1)["OPSBOT_REASON"]
		want := strings.ReplaceAll(reason, `\"`, `"`) + "\nsecond line"
		if got != want {
			t.Errorf("OPSBOT_REASON = %q\nwant %q", got, want)
		}
		if _, err := os.Stat(canary); !os.IsNotExist(err) {
			t.Fatal("the reason was executed")
		}
	})
}

func TestManualGrantAndRevoke(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", "/access request lab --for 2h", "Requested #1")
		f.expect("bob", "/access approve 1", "grants it by hand and confirms with /access done 1")
		f.state(1, storage.AccessAwaitingManual)
		f.expect("bob", "/access approve 1", "type /access done 1")
		f.expect("dave", "/access done 1", "Only an approver of lab")
		f.Clock.Advance(10 * time.Minute)
		f.expect("bob", "/access done 1", "it will be revoked 2026-03-02 11:10 UTC")
		f.Clock.Advance(2 * time.Hour)
		f.tick()
		f.state(1, storage.AccessManualRevoke)
		alerts := f.outbox("access:1:alert:")
		if len(alerts) != 1 || !strings.Contains(alerts[0].Body, "/access done 1") {
			t.Fatalf("manual revoke not raised: %+v", alerts)
		}
		f.expect("bob", "/access done 1", "Marked #1 revoked")
		f.state(1, storage.AccessRevoked)
	})
}

func TestExtendPendingExpiryAndRevoke(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 2h --reason "x"`, "Requested #1")
		f.expect("bob", "/access approve 1", "until 2026-03-02 11:00 UTC")
		f.expect("dave", "/access extend 1 --for 9h", "the maximum is 8h")
		f.expect("bob", "/access extend 1 --for 1h", "Only @dave can ask to extend #1")
		f.expect("dave", "/access extend 1 --for 1h", "Asked for 1h more on #1")
		f.expect("dave", "/access extend 1 --for 1h", "already has an extension")
		f.expect("dave", "/access approve 1", "You cannot approve your own request")
		f.expect("bob", "/access list --pending", "+1h waiting for approval")
		f.expect("bob", "/access approve 1", "it now ends 2026-03-02 12:00 UTC")
		f.Clock.Advance(2*time.Hour + time.Minute)
		f.tick()
		f.state(1, storage.AccessActive)

		// A second extension nobody approves expires; access ends as before.
		f.expect("dave", "/access extend 1 --for 1h", "Asked")
		f.Clock.Advance(time.Hour)
		f.tick()
		f.state(1, storage.AccessRevoked)
		if r := f.request(1); r.ExtendUntil != nil {
			t.Error("extension left pending after revoke")
		}

		// A request nobody decides on expires after pending_ttl.
		f.expect("dave", `/access request prod-db --for 2h --reason "y"`, "Requested #2")
		f.Clock.Advance(59 * time.Minute)
		f.tick()
		f.state(2, storage.AccessPending)
		f.Clock.Advance(time.Minute)
		f.expect("bob", "/access approve 2", "has expired")
		f.tick()
		f.state(2, storage.AccessExpired)

		// The holder revokes early; a pending request is withdrawn.
		f.expect("dave", `/access request prod-db --for 2h --reason "z"`, "Requested #3")
		f.expect("bob", "/access approve 3", "Granted")
		f.expect("dave", "/access revoke 3", "Access revoked")
		f.expect("dave", "/access revoke 3", "is revoked; there is nothing to revoke")
		f.expect("dave", `/access request prod-db --for 2h --reason "z"`, "Requested #4")
		f.expect("dave", "/access revoke 4", "Withdrew #4")
		f.audited("access.extend", "access.extended", "access.expire_extension", "access.expire_pending", "access.cancel")
	})
}

// webhookReceiver checks what a real receiver would: the signature over
// timestamp + "." + body, and a timestamp close to now.
type webhookReceiver struct {
	t      *testing.T
	secret string
	now    func() time.Time
	mu     sync.Mutex
	events []map[string]any
	fail   bool
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Opsbot-Timestamp")
	m := hmac.New(sha256.New, []byte(wr.secret))
	m.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Opsbot-Signature"))) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || wr.now().Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		http.Error(w, "stale timestamp", http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	ev["path"] = r.URL.Path
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if wr.fail {
		http.Error(w, "idm is down", http.StatusServiceUnavailable)
		return
	}
	wr.events = append(wr.events, ev)
}

func (wr *webhookReceiver) setFail(on bool) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.fail = on
}

func TestWebhookGrantAndRevoke(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		wr := &webhookReceiver{t: t, secret: "s3cret-hook-key"}
		srv := httptest.NewServer(wr)
		defer srv.Close()
		f := newFixture(t, b, srv.URL)
		wr.now = f.Clock.Now
		f.expect("dave", `/access request idm --for 1h --reason "ldap"`, "Requested #1")
		wr.setFail(true)
		f.expect("bob", "/access approve 1", "the grant failed")
		if r := f.request(1); !strings.Contains(r.LastError, "HTTP 503: idm is down") {
			t.Errorf("last error = %q", r.LastError)
		}
		wr.setFail(false)
		f.Clock.Advance(time.Minute)
		f.tick()
		f.state(1, storage.AccessActive)
		f.Clock.Advance(time.Hour)
		f.tick()
		f.state(1, storage.AccessRevoked)
		wr.mu.Lock()
		defer wr.mu.Unlock()
		if len(wr.events) != 2 {
			t.Fatalf("events: %+v", wr.events)
		}
		g, r := wr.events[0], wr.events[1]
		if g["path"] != "/grant" || g["action"] != "grant" || g["resource"] != "idm" || g["user"] != "dave" ||
			g["reason"] != "ldap" || g["request_id"] != float64(1) || g["expires_at"] != "2026-03-02T10:01:00Z" {
			t.Errorf("grant body: %+v", g)
		}
		if r["path"] != "/revoke" || r["action"] != "revoke" {
			t.Errorf("revoke body: %+v", r)
		}
	})
}

func TestWebhookWrongSecretFails(t *testing.T) {
	t.Parallel()
	wr := &webhookReceiver{t: t, secret: "another-key", now: time.Now}
	srv := httptest.NewServer(wr)
	defer srv.Close()
	f := newFixture(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, srv.URL)
	wr.now = f.Clock.Now
	f.expect("dave", `/access request idm --for 1h`, "Requested #1")
	f.expect("bob", "/access approve 1", "the grant failed")
	if r := f.request(1); !strings.Contains(r.LastError, "HTTP 401: bad signature") || strings.Contains(r.LastError, "s3cret") {
		t.Errorf("last error = %q", r.LastError)
	}
}

// BenchmarkRequestApproveRevoke measures one full cycle on SQLite: request,
// approve (grant command runs), revoke (revoke command runs).
func BenchmarkRequestApproveRevoke(b *testing.B) {
	f := newFixture(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)}, "")
	var id int64
	for b.Loop() {
		id++
		f.expect("dave", `/access request prod-db --for 1h --reason "bench"`, "Requested")
		f.expect("bob", fmt.Sprintf("/access approve %d", id), "Granted")
		f.expect("dave", fmt.Sprintf("/access revoke %d", id), "revoked")
	}
}

// BenchmarkTickIdle measures a Tick with 200 active grants none of which is due.
func BenchmarkTickIdle(b *testing.B) {
	f := newFixture(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)}, "")
	now := f.Clock.Now()
	exp := now.Add(8 * time.Hour)
	for i := 0; i < 200; i++ {
		r := &storage.AccessRequest{Resource: "prod-db", Role: "read", Requester: "dave", State: storage.AccessActive,
			Duration: 8 * time.Hour, ApprovalsNeeded: 1, PendingUntil: now, GrantedAt: &now, ExpiresAt: &exp, Warned: true,
			CreatedAt: now, UpdatedAt: now}
		if err := storage.CreateAccessRequest(f.Deps.Store.DB, r); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		f.tick()
	}
}

// TestOthersCannotWithdrawARequest: withdrawing is the requester's; an
// approver who does not want it granted denies it, with a reason the
// requester hears. Before, /access revoke by an approver cancelled the
// request silently and the card said "Withdrawn by the requester".
func TestOthersCannotWithdrawARequest(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #1")
		before := len(f.Audit())
		for _, who := range []string{"bob", "alice"} {
			f.expect(who, "/access revoke 1", `only @dave can withdraw it; to turn it down, type /access deny 1 --reason "why"`)
		}
		f.state(1, storage.AccessPending)
		if n := len(f.Audit()); n != before {
			t.Fatalf("a refused withdrawal wrote %d audit entries", n-before)
		}
		f.expect("dave", "/access revoke 1", "Withdrew #1; nothing was granted.")
		f.state(1, storage.AccessCancelled)
	})
}

// TestReplyWording: a resource without roles reads "lab", not "lab ()";
// counts agree with their nouns; the output of a failed action (the
// operator's script, possibly internal detail) is for the approvers, not
// the requester.
func TestReplyWording(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b storagetest.Backend) {
		f := newFixture(t, b, "")
		got := f.expect("dave", "/access request lab --for 2h", "Requested #1: lab for 2h")
		got += f.expect("dave", "/access show 1", "Access request #1: lab\n")
		// The requester is offered what they can do, not the approvers' buttons.
		if out := f.expect("dave", "/access show 1", "[Withdraw] /access revoke 1"); strings.Contains(out, "/access approve") || strings.Contains(out, "/access deny") {
			t.Errorf("the requester is offered Approve/Deny:\n%s", out)
		}
		f.expect("bob", "/access show 1", "[Approve] /access approve 1")
		got += f.expect("dave", "/access list --mine", "#1 lab for @dave, 2h: pending")
		got += f.expect("bob", "/access approve 1", "#1: Approved; an approver grants it by hand")
		got += f.expect("bob", "/access done 1", "Marked #1 granted")
		for _, m := range f.outbox("access:1:") {
			got += m.Body
		}
		if !strings.Contains(got, "You have access to lab until") {
			t.Errorf("grant message does not say what was granted:\n%s", got)
		}
		if strings.Contains(got, "()") || strings.Contains(got, "  on lab") {
			t.Errorf("empty role shown:\n%s", got)
		}

		f.expect("bob", "/access request lab --for 1h", "lab needs 1 approval but nobody other than you can approve")

		f.failing("grant", true)
		f.expect("dave", `/access request prod-db --for 1h --reason "x"`, "Requested #2: prod-db (read) for 1h")
		if out := f.expect("bob", "/access approve 2", "#2: Approved, but the grant failed (1 attempt) and is being retried."); strings.Contains(out, "Approved #2. Approved") {
			t.Errorf("approval said twice: %s", out)
		}
		f.expect("bob", "/access show 2", "simulated grant failure")
		if out := f.Text("dave", "/access show 2"); strings.Contains(out, "simulated grant failure") || !strings.Contains(out, "grant failed, retrying") {
			t.Errorf("the requester sees the action's output, or not the state:\n%s", out)
		}
	})
}
