package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"opsbot/config"
	"opsbot/harness"
	"opsbot/harness/fakeslack"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

const (
	replicaToken  = "xoxb-replicas-token-value"
	replicaSecret = "replicas-signing-secret-value"
	replicaChecks = 50
	// replicaCommands bounds the stream of slash commands.
	replicaCommands = 300
)

// replicaCounts returns how many incidents have their post on the fake
// Slack, the keys posted more than once (of any kind), and all posts.
func replicaCounts(f *fakeslack.Server) (incidents int, dups []string, total int) {
	for k, n := range f.Posts() {
		total += n
		if strings.HasPrefix(k, "incident:") && strings.HasSuffix(k, ":open@slack") {
			incidents++
		}
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return incidents, dups, total
}

// replicaConfig is the config both replicas run: PostgreSQL, a short leader
// interval, Slack in HTTP mode, one ticket queue and 50 http checks.
func replicaConfig(dsn, slackAPI, target string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: 127.0.0.1:0
database: {driver: postgres, dsn: %q}
leader: {interval: 1s}
slack: {enabled: true, mode: http, bot_token: %s, signing_secret: %s, api_url: %q}
people:
  - {name: alice, slack_id: U01ALICE, roles: [helpdesk, oncall, admin]}
channels:
  helpdesk: {slack: C01HELP}
  ops: {slack: C03OPS}
tickets:
  queues: [{name: it, channel: helpdesk, categories: [hardware]}]
  default_queue: it
outbox: {workers: 4, poll: 200ms}
check_settings: {workers: 64}
checks:
`, dsn, replicaToken, replicaSecret, slackAPI)
	for i := range replicaChecks {
		fmt.Fprintf(&b, "  - {name: web-%02d, kind: http, url: %q, every: 1s, timeout: 1s, channel: ops, failures: 2, successes: 1}\n",
			i, fmt.Sprintf("%s/svc/%02d", target, i))
	}
	return b.String()
}

// readyz returns whether the replica at addr says it leads.
func readyz(addr string) (leader bool, err error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), "leader: yes"), nil
}

// slashResult is what became of one slash command.
type slashResult struct {
	n        int
	replica  int    // where it was answered
	resent   bool   // it first went to the killed replica and failed there
	status   int    // HTTP status of the answer
	body     string // immediate answer
	err      error  // a failure other than the killed replica's
	response string // the path a late answer is posted to
}

// TestReplicasFailover runs two `opsbot serve` replicas on one PostgreSQL
// with 50 checks and a stream of signed slash commands, kills the leader
// with SIGKILL while incidents are opening, and checks that the other takes
// over within the bound, that every incident and every outbox message is
// posted exactly once, and that every command is answered.
func TestReplicasFailover(t *testing.T) {
	pg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	// Slack's limiter answers one post in 25 with 429 under this load.
	fake := fakeslack.New(t, replicaToken)
	fake.LimitEvery(25, "1")
	var healthy atomic.Bool
	healthy.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(target.Close)
	cfg := replicaConfig(pg.DSN, fake.URL(), target.URL)

	// The database is migrated before the replicas start, as a deploy would.
	dbDir := t.TempDir()
	if out, stderr, code := binary.Run(t, dbDir, "", "migrate", "--config", harness.WriteConfig(t, dbDir, cfg)); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	reps := []*harness.Proc{binary.Serve(t, t.TempDir(), cfg), binary.Serve(t, t.TempDir(), cfg)}
	leader := -1
	harness.WaitUntil(t, 15*time.Second, "one replica to lead", func() bool {
		n := 0
		for i, r := range reps {
			if yes, err := readyz(r.Addr); err == nil && yes {
				leader, n = i, n+1
			}
		}
		if n > 1 {
			t.Fatal("two replicas lead at once")
		}
		return n == 1
	})
	survivor := 1 - leader
	t.Logf("replica %d leads", leader)

	// The command stream: two senders, round robin over both replicas, as
	// a load balancer spreads Slack's requests. A request the killed
	// replica could not take is sent to the other, like a load balancer's
	// retry.
	var killed atomic.Bool
	var sent atomic.Int64
	stop := make(chan struct{})
	var results []slashResult
	var resMu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The stream is bounded: every ticket posts to one channel, which
			// Slack (and the fake) serves one message at a time with a 429
			// now and then, so an unbounded stream would only measure how
			// long the backlog takes on a busy machine.
			for i := w; i < replicaCommands; i += 2 {
				select {
				case <-stop:
					return
				default:
				}
				res := sendSlash(client, reps, i, i%2, survivor, &killed, fake)
				sent.Add(1)
				resMu.Lock()
				results = append(results, res)
				resMu.Unlock()
				time.Sleep(50 * time.Millisecond) // pacing, not synchronisation
			}
		}()
	}
	harness.WaitUntil(t, 20*time.Second, "commands to flow", func() bool { return sent.Load() >= 20 })

	// Services go down: every check fails and incidents open; the leader
	// dies while they are being posted.
	healthy.Store(false)
	harness.WaitUntil(t, 20*time.Second, "the first incidents to be posted", func() bool {
		n, _, _ := replicaCounts(fake)
		return n >= 5
	})
	killedAt := time.Now()
	killed.Store(true)
	if err := syscall.Kill(reps[leader].Cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-reps[leader].Done
	harness.WaitUntil(t, 20*time.Second, "the survivor to lead", func() bool {
		yes, err := readyz(reps[survivor].Addr)
		return err == nil && yes
	})
	takeover := time.Since(killedAt)
	t.Logf("takeover: the survivor led %s after SIGKILL of the leader (leader.interval 1s)", takeover.Round(time.Millisecond))
	fmt.Printf("replicas: takeover %s after SIGKILL (leader.interval 1s, bound 15s)\n", takeover.Round(time.Millisecond))
	if takeover > 15*time.Second {
		t.Errorf("takeover took %s, want under 15s", takeover)
	}
	harness.WaitUntil(t, 30*time.Second, "every incident to be posted", func() bool {
		n, _, _ := replicaCounts(fake)
		if n < replicaChecks && time.Since(killedAt) > 25*time.Second {
			t.Logf("%d incidents posted; survivor's log:\n%s", n, reps[survivor].Logs)
		}
		return n >= replicaChecks
	})
	// Services recover: every incident resolves and its post is edited.
	healthy.Store(true)
	before := sent.Load()
	harness.WaitUntil(t, 20*time.Second, "more commands after the failover", func() bool {
		return sent.Load() >= min(before+20, replicaCommands)
	})
	close(stop)
	wg.Wait()

	store, err := storage.Open(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := func(q string, args ...any) int {
		var n int64
		if err := store.DB.Raw(q, args...).Scan(&n).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return int(n)
	}
	harness.WaitUntil(t, 30*time.Second, "every incident to resolve", func() bool {
		return count(`SELECT count(*) FROM incidents WHERE state <> 'resolved'`) == 0
	})
	drainStart := time.Now()
	harness.WaitUntil(t, 60*time.Second, "the outbox to drain", func() bool {
		n := count(`SELECT count(*) FROM outbox_messages WHERE state IN ('pending', 'sending')`)
		if n > 0 && time.Since(drainStart) > 58*time.Second {
			var left []storage.OutboxMessage
			store.DB.Where("state IN ?", []string{"pending", "sending"}).Limit(5).Find(&left)
			for _, m := range left {
				t.Logf("left: %s %s attempts %d next %s claimed %v by %s uncertain %v: %s", m.Key, m.State, m.Attempts,
					m.NextAttemptAt, m.ClaimedUntil, m.ClaimedBy, m.Uncertain, m.LastError)
			}
		}
		return n == 0
	})

	// Every incident: one per check, posted exactly once.
	if n := count(`SELECT count(*) FROM incidents`); n != replicaChecks {
		t.Errorf("%d incidents, want one per check (%d)", n, replicaChecks)
	}
	if n := count(`SELECT count(DISTINCT "check") FROM incidents`); n != replicaChecks {
		t.Errorf("incidents for %d checks, want %d", n, replicaChecks)
	}
	incidents, dups, total := replicaCounts(fake)
	if incidents != replicaChecks {
		t.Errorf("%d incidents posted, want %d", incidents, replicaChecks)
	}
	if len(dups) > 0 {
		t.Errorf("posted more than once: %v", dups)
	}
	// Every outbox message delivered: sent, and a new post for each that is
	// not an edit.
	if n := count(`SELECT count(*) FROM outbox_messages WHERE state <> 'sent'`); n != 0 {
		t.Errorf("%d outbox messages not sent", n)
	}
	posts := count(`SELECT count(*) FROM outbox_messages WHERE updates_key = '' OR updates_key IS NULL`)
	if total != posts {
		t.Errorf("slack accepted %d posts for %d outbox messages that post", total, posts)
	}
	if badAuth := fake.BadTokens(); badAuth != 0 {
		t.Errorf("%d Slack calls with a wrong token", badAuth)
	}

	// Every command answered, each ticket filed once.
	resent, late, unanswered := 0, 0, 0
	for _, r := range results {
		if r.resent {
			resent++
		}
		if r.err != nil {
			t.Errorf("command %d: %v", r.n, r.err)
			continue
		}
		if r.status != http.StatusOK {
			t.Errorf("command %d: HTTP %d %q", r.n, r.status, r.body)
			continue
		}
		answer := r.body
		if !strings.Contains(answer, "ticket #") {
			// Acknowledged in time, answered later through response_url.
			answer = fake.Response(r.response)
			late++
		}
		switch {
		case strings.Contains(answer, "ticket #"):
		case r.resent && strings.Contains(r.body, "has not answered it yet"):
			// The killed replica took it and died before answering: the
			// survivor does not run it twice and says so.
			unanswered++
		default:
			t.Errorf("command %d (replica %d, resent %v): no answer: %q", r.n, r.replica, r.resent, r.body)
		}
	}
	var dupTickets []string
	if err := store.DB.Raw(`SELECT summary FROM tickets GROUP BY summary HAVING count(*) > 1`).Scan(&dupTickets).Error; err != nil {
		t.Fatal(err)
	}
	if len(dupTickets) > 0 {
		t.Errorf("tickets filed twice: %v", dupTickets)
	}
	t.Logf("%d commands (%d resent to the survivor, %d of them cut off before the killed replica answered, %d answered late), "+
		"%d posts, %d incidents, takeover %s", len(results), resent, unanswered, late, total, incidents, takeover.Round(time.Millisecond))
}

// sendSlash files ticket n through replica to, signed like Slack; when to
// is the killed replica and the connection fails, the same request goes to
// the survivor.
func sendSlash(client *http.Client, reps []*harness.Proc, n, to, survivor int, killed *atomic.Bool, fake *fakeslack.Server) slashResult {
	path := strconv.Itoa(n)
	form := harness.Slash("U01ALICE", "C01HELP", fmt.Sprintf("/ticket new \"replica load %d\"", n), fake.ResponseURL(path), fmt.Sprintf("trigger-%d", n))
	at := time.Now() // a resent request is the same request, signed once
	res := slashResult{n: n, replica: to, response: path}
	for {
		req, err := harness.SlackRequest(reps[to].URL("/slack/commands"), replicaSecret, at, form)
		if err != nil {
			res.err = err
			return res
		}
		res.status, res.body, err = harness.Send(client, req)
		if err != nil {
			if to != survivor && killed.Load() && connectionFailed(err) {
				to, res.replica, res.resent = survivor, survivor, true
				continue
			}
			res.err = err
			return res
		}
		return res
	}
}

// connectionFailed reports a failure at the TCP level: refused, reset, or
// closed before an answer.
func connectionFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// TestScheduledWorkStopsOnStepDown runs the real scheduled work (checks,
// SLA timers, access expiry, backup schedules) under the elector, cuts the
// leader's lock connection from outside, and checks that every scheduled
// worker returns, that the checks stop running, and that the replica leads
// again and the checks run again once it retakes the lock.
func TestScheduledWorkStopsOnStepDown(t *testing.T) {
	pg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	path := harness.WriteConfig(t, dir, fmt.Sprintf(`listen: 127.0.0.1:0
database: {driver: postgres, dsn: %q}
leader: {interval: 200ms}
checks:
  - {name: web, kind: http, url: %q, every: 1s, timeout: 1s}
`, pg.DSN, target.URL))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := build(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if len(c.scheduled) < 4 {
		t.Fatalf("%d scheduled workers, want checks, tickets, access and backups", len(c.scheduled))
	}
	var running atomic.Int32
	elector := c.store.NewElector("test", time.Duration(cfg.Leader.Interval), log, time.Now)
	done := make(chan error, 1)
	go func() {
		done <- elector.Run(ctx, func(ctx context.Context) error {
			g, gctx := errgroup.WithContext(ctx)
			for _, w := range c.scheduled {
				g.Go(func() error {
					running.Add(1)
					defer running.Add(-1)
					return w(gctx)
				})
			}
			return g.Wait()
		})
	}()
	all := int32(len(c.scheduled))
	harness.WaitUntil(t, 10*time.Second, "every scheduled worker to start", func() bool { return running.Load() == all })
	harness.WaitUntil(t, 10*time.Second, "the check to run", func() bool { return hits.Load() > 0 })
	for range 2 {
		// The lock's connection dies, as on a network cut.
		cut := time.Now()
		if err := c.store.DB.Exec(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = (hashtext(current_schema() || ':opsbot-leader'))::oid AND granted`).Error; err != nil {
			t.Fatal(err)
		}
		harness.WaitUntil(t, 5*time.Second, "every scheduled worker to return", func() bool { return running.Load() == 0 })
		stopped := time.Since(cut)
		ran := hits.Load()
		fmt.Printf("replicas: scheduled work stopped %s after the lock connection died (leader.interval 200ms)\n", stopped.Round(time.Millisecond))
		// Nothing scheduled runs now; the replica campaigns and leads again.
		harness.WaitUntil(t, 10*time.Second, "the replica to lead again", func() bool { return running.Load() == all && elector.Leading() })
		harness.WaitUntil(t, 10*time.Second, "the check to run again", func() bool { return hits.Load() > ran })
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("elector: %v", err)
	}
	if running.Load() != 0 {
		t.Fatal("scheduled work still running after shutdown")
	}
}
