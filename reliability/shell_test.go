package reliability

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"opsbot/bot/discord"
	"opsbot/harness"
	"opsbot/harness/fakeslack"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// shell runs `opsbot shell` on the site's config as alice with stdin and
// returns what it printed.
func (s *site) shell(t *testing.T, stdin string) string {
	t.Helper()
	harness.WriteFile(t, filepath.Join(s.dir, "opsbot.yaml"), s.config())
	out, errOut, code := binary.Run(t, s.dir, stdin, "shell", "--config", "opsbot.yaml", "--user", "alice")
	if code != 0 {
		t.Fatalf("shell: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	return out
}

// outboxList runs `opsbot outbox list`.
func (s *site) outboxList(t *testing.T) string {
	t.Helper()
	out, errOut, code := binary.Run(t, s.dir, "", "outbox", "list", "--config", "opsbot.yaml")
	if code != 0 {
		t.Fatalf("outbox list: exit %d\n%s%s", code, out, errOut)
	}
	return out
}

// TestShellLeavesPlatformsToServe: with Slack and Discord enabled, the shell
// alone, and the shell beside a running serve that cannot reach the
// platforms, queue their messages and say so, and never mark one sent;
// serve, once it can, delivers each exactly once.
func TestShellLeavesPlatformsToServe(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, b)
			// The shell alone.
			out := s.shell(t, "/ticket new \"VPN drops\"\n")
			for _, want := range []string{"→ queued for #helpdesk on Slack: ", "→ queued for #helpdesk on Discord: "} {
				if !strings.Contains(out, want+"#1 VPN drops") {
					t.Errorf("the shell did not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "→ #helpdesk\n") {
				t.Errorf("the shell printed a platform's card as if delivered:\n%s", out)
			}
			st := s.open(t)
			for _, key := range []string{"ticket:1:queue@slack", "ticket:1:queue@discord"} {
				if m, err := st.OutboxByKey(t.Context(), key); err != nil || m.State != storage.OutboxPending || m.Attempts != 0 {
					t.Errorf("%s after the shell alone: %+v %v; want pending, never tried", key, m.State, err)
				}
			}
			if list := s.outboxList(t); !regexp.MustCompile(`pending +slack #helpdesk +ticket:1:queue@slack`).MatchString(list) {
				t.Errorf("outbox list does not show the Slack card queued:\n%s", list)
			}

			// The shell beside a serve that cannot reach either platform:
			// nothing can be delivered, so nobody may mark anything sent.
			s.slack.Set(t, fakeslack.Refused)
			s.discord.Status(503)
			p := s.serve(t, nil)
			out = s.shell(t, "/ticket new \"printer jams\"\n")
			if !strings.Contains(out, "→ queued for #helpdesk on Slack: #2 printer jams") {
				t.Errorf("the shell beside serve did not say it queued the card:\n%s", out)
			}
			var sent int64
			st.DB.Model(&storage.OutboxMessage{}).Where("platform IN ? AND state = ?", []string{"slack", "discord"}, storage.OutboxSent).Count(&sent)
			if sent != 0 {
				t.Fatalf("%d platform messages marked sent while neither platform could be reached", sent)
			}

			// The platforms come back: serve delivers each once.
			s.slack.Set(t, fakeslack.Up)
			s.discord.Status(0)
			keys := []string{"ticket:1:queue", "ticket:2:queue"}
			deadline := time.Now().Add(60 * time.Second)
			for {
				sp, dp := s.slack.Posts(), s.discord.Posts()
				done := true
				for _, k := range keys {
					done = done && sp[k+"@slack"] >= 1 && dp[discord.Nonce(k+"@discord")] >= 1
				}
				if done {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("serve did not deliver the shell's messages: slack %v discord %v\n%s", sp, dp, p.Logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(time.Second) // a second delivery would show by now
			sp, dp := s.slack.Posts(), s.discord.Posts()
			for _, k := range keys {
				if sp[k+"@slack"] != 1 || dp[discord.Nonce(k+"@discord")] != 1 {
					t.Errorf("%s: Slack %d, Discord %d deliveries; want exactly one each", k, sp[k+"@slack"], dp[discord.Nonce(k+"@discord")])
				}
			}
		})
	}
}
