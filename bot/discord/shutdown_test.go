package discord

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/storage/storagetest"
)

// TestShutdownCutsShortAfterGrace: a deferred answer still being worked out
// at the end of the shutdown grace period is cut short, and the person is
// told so in place of "thinking…": by editing the original response, or,
// when Discord cannot be reached, through the outbox, written with a
// context shutdown does not cancel, for the next start to deliver.
func TestShutdownCutsShortAfterGrace(t *testing.T) {
	for _, reachable := range []bool{true, false} {
		name := map[bool]string{true: "edited", false: "queued"}[reachable]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, storagetest.Backends(t)[0])
			e.adapter.grace = 50 * time.Millisecond
			cancel, done := run(t, e.adapter)
			resp := response(t, e.post(t, slashID("900000000000000001", aliceID, "slow"), e.Clock.Now(), e.priv))
			if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
				t.Fatalf("want deferred type 5, got %+v", resp)
			}
			cancel()
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(e.logs.String(), "cutting them short") {
				if time.Now().After(deadline) {
					t.Fatalf("the grace period never ended:\n%s", e.logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !reachable {
				e.fake.Status(http.StatusServiceUnavailable)
			}
			close(e.release)
			<-done
			const note = "opsbot was stopping and cut `/slow` short"
			// Reply text reaches Discord with its markdown escaped (the
			// one rule for every reply): the command shows as typed.
			const sent = "opsbot was stopping and cut \\\\`/slow\\\\` short"
			var edits int
			for _, c := range e.fake.All() {
				if c.Method == http.MethodPatch && strings.HasSuffix(c.Path, "/messages/@original") {
					edits++
					if reachable && !strings.Contains(string(c.Raw), sent) {
						t.Fatalf("edit %s", c.Raw)
					}
				}
			}
			rows := e.Outbox()
			if reachable {
				if edits != 1 || len(rows) != 0 {
					t.Fatalf("%d edits and outbox %+v; want one edit", edits, rows)
				}
				return
			}
			var to bot.Target
			if len(rows) != 1 || json.Unmarshal([]byte(rows[0].Target), &to) != nil || to.User != aliceID || !strings.Contains(rows[0].Body, note) {
				t.Fatalf("outbox %+v", rows)
			}
		})
	}
}
