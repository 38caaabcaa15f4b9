package discord

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// replica builds a second adapter over the same router and clock with its
// own connection to the env's database, as another replica behind the load
// balancer would have.
func (e *testEnv) replica(t *testing.T, b storagetest.Backend) (*Adapter, *storage.Store) {
	t.Helper()
	st := storagetest.Open(t, b)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(e.adapter.cfg, e.Router, st, e.Clock, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

func interactionRows(t *testing.T, e *testEnv) int64 {
	t.Helper()
	var n int64
	if err := e.Deps.Store.DB.Model(&storage.DiscordInteraction{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReplayedInteractionRunsOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			ctx := context.Background()
			body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "once")))
			response(t, e.post(t, body, e.Clock.Now(), e.priv))
			// The same body, freshly signed two minutes later: the signature
			// and timestamp are good, the id is not new.
			e.Clock.Advance(2 * time.Minute)
			if rec := e.post(t, body, e.Clock.Now(), e.priv); rec.Code != http.StatusUnauthorized {
				t.Fatalf("replay: %d %s", rec.Code, rec.Body)
			}
			if a := e.Audit(); len(a) != 1 {
				t.Fatalf("audit %+v", a)
			}

			// A request signed MaxSkew ahead of the server's clock is
			// accepted until 2*MaxSkew later; pruning meanwhile must not
			// forget it.
			signed := e.Clock.Now().Add(MaxSkew)
			ahead := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "ahead")))
			response(t, e.post(t, ahead, signed, e.priv))
			e.Clock.Advance(2*MaxSkew - time.Second)
			if err := e.adapter.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if rec := e.post(t, ahead, signed, e.priv); rec.Code != http.StatusUnauthorized {
				t.Fatalf("replay at the end of the window: %d %s", rec.Code, rec.Body)
			}
			// The timestamp itself is still accepted: the refusal was the id's.
			fresh := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "fresh")))
			response(t, e.post(t, fresh, signed, e.priv))
			if a := e.Audit(); len(a) != 3 {
				t.Fatalf("audit %+v", a)
			}

			// Long after every timestamp has expired, the rows go.
			if n := interactionRows(t, e); n != 3 {
				t.Fatalf("%d interactions recorded, want 3", n)
			}
			e.Clock.Advance(seenFor + time.Second)
			if err := e.adapter.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if n := interactionRows(t, e); n != 0 {
				t.Fatalf("%d interactions left after pruning", n)
			}
			// A PING is answered every time and recorded never.
			ping := []byte(`{"id":"1","application_id":"` + testApp + `","type":1,"token":"t","version":1}`)
			for range 2 {
				if rec := e.post(t, ping, e.Clock.Now(), e.priv); rec.Code != http.StatusOK {
					t.Fatalf("PING: %d", rec.Code)
				}
			}
			if n := interactionRows(t, e); n != 0 {
				t.Fatalf("a PING was recorded")
			}
		})
	}
}

func TestReplicasRunAnInteractionOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			other, _ := e.replica(t, b)
			replicas := []http.Handler{e.adapter, other}
			const n = 5
			for i := range n {
				body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "shared")))
				// The same signed interaction reaches both replicas at once.
				codes := make([]int, len(replicas))
				var wg sync.WaitGroup
				for j, h := range replicas {
					wg.Go(func() { codes[j] = postTo(h, body, e.Clock.Now(), e.priv).Code })
				}
				wg.Wait()
				if ok := (codes[0] == 200) != (codes[1] == 200); !ok || codes[0]+codes[1] != 200+401 {
					t.Fatalf("interaction %d: replicas answered %v, want one 200 and one 401", i, codes)
				}
				// And once more to each, later in the window.
				for j, h := range replicas {
					if rec := postTo(h, body, e.Clock.Now().Add(time.Minute), e.priv); rec.Code != http.StatusUnauthorized {
						t.Fatalf("interaction %d again to replica %d: %d %s", i, j, rec.Code, rec.Body)
					}
				}
			}
			if a := e.Audit(); len(a) != n {
				t.Fatalf("%d interactions ran %d times: %+v", n, len(a), a)
			}
		})
	}
}

func TestUnreachableDatabaseAsksToTryAgain(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			down, st := e.replica(t, b)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "later")))
			resp := response(t, postTo(down, body, e.Clock.Now(), e.priv))
			text := resp.Data.Content
			for _, em := range resp.Data.Embeds {
				text += em.Description
			}
			if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral ||
				!strings.Contains(text, "cannot reach its database") || !strings.Contains(text, "try again") {
				t.Fatalf("answer %+v %q", resp, text)
			}
			if !strings.Contains(e.logs.String(), "record discord interaction") {
				t.Errorf("the failure was not logged:\n%s", e.logs)
			}
			if a := e.Audit(); len(a) != 0 {
				t.Fatalf("ran without a record: %+v", a)
			}
			// Nothing was recorded, so sending it again where the database
			// answers runs it.
			response(t, e.post(t, body, e.Clock.Now(), e.priv))
			if a := e.Audit(); len(a) != 1 {
				t.Fatalf("audit %+v", a)
			}
		})
	}
}
