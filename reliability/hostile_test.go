package reliability

import (
	"crypto/ed25519"
	"crypto/rand"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"opsbot/harness/fakediscord"
	"opsbot/storage/storagetest"
)

// TestHostileInput runs the real binary with Slack and Discord on (their
// APIs failing) and throws at it what an attacker or a confused colleague
// would: forged, replayed and oversized requests, which must be refused and
// change nothing; commands and crafted buttons from people without the
// role, which must be refused in the domain; and arguments meant for a
// shell. At the end, no secret of the config may be in the log or a reply.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, b)
			p := s.serve(t, nil)
			st := s.open(t)
			var replies []string
			keep := func(code int, body string) (int, string) {
				replies = append(replies, body)
				return code, body
			}

			// Something to attack: dave's ticket and dave's pending request.
			if code, body := keep(p.slash(t, "U04DAVE", `/ticket new "Laptop broken"`, "")); code != 200 || !strings.Contains(body, "Filed ticket #1") {
				t.Fatalf("file ticket: %d %s", code, body)
			}
			if code, body := keep(p.slash(t, "U04DAVE", `/access request prod-db --for 1h --reason "x; rm -rf / $(id) `+"`id`"+`"`, "")); code != 200 || !strings.Contains(body, "#1") {
				t.Fatalf("request access: %d %s", code, body)
			}
			// A signed Discord click, accepted (its id is recorded); sent
			// again below, it is a replay.
			click := button("100000000000000004", "/help")
			if code, _ := p.PostDiscord(t, s.priv, click, time.Now()); code != 200 {
				t.Errorf("signed click: HTTP %d", code)
			}
			before := rowCounts(t, st)

			t.Run("refused requests change nothing", func(t *testing.T) {
				form := []byte("user_id=U01ALICE&channel_id=C01HELP&command=%2Faccess&text=approve+1&trigger_id=t1")
				_, other, _ := ed25519.GenerateKey(rand.Reader)
				huge := make([]byte, 2<<20)
				for i := range huge {
					huge[i] = 'a'
				}
				cases := []struct {
					name string
					send func() (int, string)
					want int
				}{
					{"slack forged", func() (int, string) { return p.PostSlack(t, "/slack/commands", form, "not-the-secret", time.Now()) }, 401},
					{"slack replayed", func() (int, string) {
						return p.PostSlack(t, "/slack/commands", form, signingSecret, time.Now().Add(-10*time.Minute))
					}, 401},
					{"slack from the future", func() (int, string) {
						return p.PostSlack(t, "/slack/commands", form, signingSecret, time.Now().Add(10*time.Minute))
					}, 401},
					{"slack oversized", func() (int, string) {
						return p.PostSlack(t, "/slack/commands", append(form, append([]byte("&pad="), huge...)...), signingSecret, time.Now())
					}, 413},
					{"slack click forged", func() (int, string) {
						return p.PostSlack(t, "/slack/interactions", []byte("payload=%7B%7D"), "not-the-secret", time.Now())
					}, 401},
					{"discord forged", func() (int, string) {
						return p.PostDiscord(t, other, button("100000000000000001", "/access approve 1"), time.Now())
					}, 401},
					{"discord replayed", func() (int, string) {
						return p.PostDiscord(t, s.priv, button("100000000000000001", "/access approve 1"), time.Now().Add(-10*time.Minute))
					}, 401},
					{"discord oversized", func() (int, string) { return p.PostDiscord(t, s.priv, huge, time.Now()) }, 413},
				}
				for _, c := range cases {
					code, body := keep(c.send())
					if code != c.want {
						t.Errorf("%s: HTTP %d %q, want %d", c.name, code, body, c.want)
					}
				}
				// The signed click again, freshly signed: a replay.
				if code, _ := p.PostDiscord(t, s.priv, click, time.Now()); code != 401 {
					t.Errorf("replayed click: HTTP %d, want 401", code)
				}
				if after := rowCounts(t, st); !maps.Equal(before, after) {
					t.Errorf("refused requests changed rows:\nbefore %v\nafter  %v", before, after)
				}
			})

			t.Run("no role, no action", func(t *testing.T) {
				// erin (no roles) and carol (helpdesk, not approver) try
				// what they may not, typed and through crafted buttons.
				typed := []struct{ user, line, want string }{
					{"U05ERIN", "/access approve 1", "not an approver|you can see"},
					{"U03CAROL", "/access approve 1", "not an approver|you can see"},
					{"U05ERIN", "/ticket close 1", "needs the helpdesk role"},
					{"U05ERIN", "/ticket resolve 1 done", "needs the helpdesk role|not found or not yours"},
					{"U05ERIN", "/backup run etc", "You may not run backup etc"},
					{"U03CAROL", "/backup run etc", "You may not run backup etc"},
					{"U05ERIN", "/device add evil 10.6.6.6", "needs the admin role"},
					{"U02BOB", "/device add evil 10.6.6.6", "needs the admin role"},
					{"U05ERIN", "/access audit", "needs the admin role"},
					{"UNOBODY1", "/access approve 1", "not an approver|you can see"},
				}
				for _, c := range typed {
					sink := newResponseSink(t)
					code, body := keep(p.slash(t, c.user, c.line, sink.url))
					if code != 200 {
						t.Errorf("%s %q: HTTP %d %s", c.user, c.line, code, body)
						continue
					}
					if !containsAny(body, c.want) {
						if !strings.Contains(body, "…") {
							t.Errorf("%s %q: answered %s", c.user, c.line, body)
							continue
						}
						// Slow commands acknowledge, then answer through response_url.
						if late := sink.waitAny(t, ""); !containsAny(late, c.want) {
							t.Errorf("%s %q: answered %s then %s", c.user, c.line, body, late)
						}
					}
					replies = append(replies, body)
				}
				// Slack button whose value is the approval, clicked by erin.
				sink := newResponseSink(t)
				if code, body := keep(p.click(t, "U05ERIN", "/access approve 1", sink.url)); code != 200 {
					t.Errorf("crafted Slack click: HTTP %d %s", code, body)
				}
				replies = append(replies, sink.waitAny(t, "not an approver|you can see"))
				// Discord button whose custom_id is the approval, clicked by erin.
				// Approving is slow: Discord gets a deferral, and the answer
				// follows through the interaction's webhook (to erin alone).
				code, body := keep(p.PostDiscord(t, s.priv, button("100000000000000005", "/access approve 1"), time.Now()))
				if code != 200 {
					t.Errorf("crafted Discord click: HTTP %d %s", code, body)
				}
				replies = append(replies, waitDiscord(t, s.discord, "no access request #1 you can see"))
				code, body = keep(p.PostDiscord(t, s.priv, button("100000000000000005", "/ticket close 1"), time.Now()))
				if code != 200 || !strings.Contains(body, "needs the helpdesk role") {
					t.Errorf("crafted Discord close: HTTP %d %s", code, body)
				}
				var state string
				if err := st.DB.Table("access_requests").Select("state").Where("id = ?", 1).Scan(&state).Error; err != nil {
					t.Fatal(err)
				}
				if state != "pending" {
					t.Errorf("access request #1 is %q after refused approvals, want pending", state)
				}
				var open int64
				st.DB.Table("tickets").Where("id = 1 AND state IN ?", []string{"closed", "resolved"}).Count(&open)
				if open != 0 {
					t.Error("ticket #1 was closed by someone without the role")
				}
				var devs, runs int64
				st.DB.Table("devices").Count(&devs)
				st.DB.Table("backup_runs").Count(&runs)
				if devs != 0 || runs != 0 {
					t.Errorf("%d devices and %d backup runs appeared", devs, runs)
				}
			})

			t.Run("arguments stay arguments", func(t *testing.T) {
				// bob approves; the script gets the reason in an env var, its
				// argv fixed by the config, and no shell ever sees it.
				sink := newResponseSink(t)
				keep(p.slash(t, "U02BOB", "/access approve 1", sink.url))
				replies = append(replies, sink.wait(t, "#1"))
				line := waitFile(t, s.grants, "grant 1 ")
				if !strings.Contains(line, "grant 1 user=dave reason=x; rm -rf / $(id) `id`") {
					t.Errorf("grant script saw %q", line)
				}
				// SNMP OIDs are validated before any query.
				code, body := keep(p.slash(t, "U01ALICE", "/device show core-sw-1 --oid 1.3.6;id", ""))
				if code != 200 || strings.Contains(body, "uid=") {
					t.Errorf("odd OID: %d %s", code, body)
				}
			})

			// Stop, then look for secrets in everything said.
			p.Terminate(t, 30*time.Second)
			logs := p.Logs.String()
			said := logs + strings.Join(replies, "\n") + s.replies.all()
			for _, secret := range []string{signingSecret, slackToken, discordToken, webhookSecret, backupSecret} {
				if strings.Contains(said, secret) {
					t.Errorf("secret %q appeared in a log line or reply", secret)
				}
			}
			if !strings.Contains(logs, "refused") {
				t.Errorf("the log does not record refused requests:\n%s", logs)
			}
		})
	}
}

// waitFile waits until the file has a line containing want and returns it.
func waitFile(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, want) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no line with %q:\n%s", path, want, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// containsAny reports whether s holds one of the |-separated alternatives.
func containsAny(s, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// waitDiscord waits for an interaction answer sent to the fake Discord
// whose body holds want, and returns the body.
func waitDiscord(t *testing.T, api *fakediscord.Server, want string) string {
	t.Helper()
	c := api.WaitFor(t, "interaction answer with "+strconv.Quote(want), func(c fakediscord.Call) bool {
		return strings.HasPrefix(c.Path, "/webhooks/") && strings.Contains(string(c.Raw), want)
	})
	return string(c.Raw)
}
