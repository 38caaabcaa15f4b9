package reliability

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opsbot/bot/discord"
	"opsbot/harness"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

var filedRe = regexp.MustCompile(`Filed ticket #(\d+)`)

// TestDatabaseCutUnderLoad puts a TCP proxy between opsbot and PostgreSQL
// and cuts it while people file tickets: each command then gets a clear
// "try again" answer, nothing half-written stays behind, and once the proxy
// is back commands work again without a restart.
func TestDatabaseCutUnderLoad(t *testing.T) {
	t.Parallel()
	pg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set")
	}
	px := harness.NewProxy(t, os.Getenv("OPSBOT_TEST_POSTGRES"))
	s := newSite(t, storagetest.Backend{Name: "postgres", Config: pg})
	s.db.DSN = px.DSN(pg.DSN)
	p := s.serve(t, nil)

	filed := 0
	file := func(i int) string {
		_, body := p.slash(t, "U04DAVE", fmt.Sprintf(`/ticket new "cut test %d"`, i), "")
		if filedRe.MatchString(body) {
			filed++
		}
		return body
	}
	for i := range 20 {
		if body := file(i); !filedRe.MatchString(body) {
			t.Fatalf("before the cut: %s", body)
		}
	}
	px.Stop()
	for i := range 10 {
		body := file(100 + i)
		if filedRe.MatchString(body) {
			continue // the command won a connection that was still open
		}
		if !strings.Contains(body, "try again") {
			t.Errorf("with the database away, the answer does not say to try again: %s", body)
		}
	}
	px.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if body := file(200 + i); filedRe.MatchString(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("commands still fail 30s after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := s.open(t)
	var tickets, audits int64
	st.DB.Table("tickets").Count(&tickets)
	st.DB.Model(&storage.AuditEntry{}).Where("action = ?", "ticket.new").Count(&audits)
	if int(tickets) != filed || int(audits) != filed {
		t.Errorf("%d tickets acknowledged, %d stored, %d audited: a command was half-written or lost", filed, tickets, audits)
	}
}

// TestKilledMidLoad SIGKILLs `opsbot serve` while tickets are being filed
// and an access grant is running out, then starts it again: every ticket
// that was acknowledged exists, no notification reaches Slack twice, and
// the overdue grant is revoked.
func TestKilledMidLoad(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, b)
			s.lease = "2s" // the killed process's claims are taken over 2 s after it dies
			logs := &harness.Buffer{}
			p := s.serve(t, logs)
			sink := newResponseSink(t)
			if _, body := p.slash(t, "U04DAVE", `/access request prod-db --for 2s --reason "kill test"`, ""); !strings.Contains(body, "#1") {
				t.Fatalf("request: %s", body)
			}
			p.slash(t, "U02BOB", "/access approve 1", sink.url)
			waitFile(t, s.grants, "grant 1 ")

			var mu sync.Mutex
			var acked []string
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						_, body, err := tryFile(p, fmt.Sprintf("w%d-%d", w, i))
						if err != nil {
							return // the server is gone
						}
						if m := filedRe.FindStringSubmatch(body); m != nil {
							mu.Lock()
							acked = append(acked, m[1])
							mu.Unlock()
						}
					}
				})
			}
			time.Sleep(1500 * time.Millisecond) // load for a while, then kill
			if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.Done
			close(stop)
			wg.Wait()
			if len(acked) == 0 {
				t.Fatal("no ticket was acknowledged before the kill")
			}
			st := s.open(t)
			// Messages the dead process was sending: their outcome is
			// unknown, and the new process must look them up before posting.
			var claimed int64
			st.DB.Model(&storage.OutboxMessage{}).Where("state = ?", storage.OutboxSending).Count(&claimed)
			p = s.serve(t, logs)
			for _, id := range acked {
				var n int64
				st.DB.Table("tickets").Where("id = ?", id).Count(&n)
				if n != 1 {
					t.Errorf("acknowledged ticket #%s is not stored after the restart", id)
				}
			}
			waitFile(t, s.grants, "revoke 1 ")
			// Wait past the dead process's lease (outbox.lease: 2s) until
			// every Slack and Discord message is settled: the ones it had
			// claimed are taken over as uncertain and looked up first.
			deadline := time.Now().Add(60 * time.Second)
			for {
				var open int64
				st.DB.Model(&storage.OutboxMessage{}).Where("platform IN ? AND state IN ?",
					[]string{"slack", "discord"}, []string{storage.OutboxPending, storage.OutboxSending}).Count(&open)
				if open == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d Slack and Discord messages still unsent a minute after the restart\n%s", open, logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			var unsent []storage.OutboxMessage
			st.DB.Where("platform IN ? AND state <> ?", []string{"slack", "discord"}, storage.OutboxSent).Find(&unsent)
			for _, m := range unsent {
				t.Errorf("%s ended %s: %s", m.Key, m.State, m.LastError)
			}
			// Nothing duplicated: whatever reached Slack or Discord, before
			// or after the kill, reached it once. Nothing lost: every
			// acknowledged ticket's card reached both, once.
			slackPosts, discordPosts := s.slack.Posts(), s.discord.Posts()
			for k, n := range slackPosts {
				if n != 1 {
					t.Errorf("%s reached Slack %d times", k, n)
				}
			}
			for nonce, n := range discordPosts {
				if n != 1 {
					t.Errorf("the message with nonce %q reached Discord %d times", nonce, n)
				}
			}
			for _, id := range acked {
				key := "ticket:" + id + ":queue"
				if n := slackPosts[key+"@slack"]; n != 1 {
					t.Errorf("acknowledged ticket #%s: its card reached Slack %d times, want once", id, n)
				}
				if n := discordPosts[discord.Nonce(key+"@discord")]; n != 1 {
					t.Errorf("acknowledged ticket #%s: its card reached Discord %d times, want once", id, n)
				}
			}
			t.Logf("%d tickets acknowledged before SIGKILL, %d messages being sent at the kill; %d Slack and %d Discord messages delivered once each",
				len(acked), claimed, len(slackPosts), len(discordPosts))
		})
	}
}

// tryFile files a ticket as dave, returning the transport error instead of
// failing, for load that runs into a kill.
func tryFile(p *proc, title string) (int, string, error) {
	return p.trySlash("U04DAVE", `/ticket new "`+title+`"`)
}
