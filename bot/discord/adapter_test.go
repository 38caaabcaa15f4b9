package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func TestPingPong(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	rec := e.post(t, []byte(`{"id":"1","application_id":"`+testApp+`","type":1,"token":"t","version":1}`), e.Clock.Now(), e.priv)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"type":1}` {
		t.Fatalf("PING: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSlashCommandRunsAsInvoker(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			text := `VPN "drops" \ every --hour ” and 'again'`
			body := slash(aliceID, "note", sub("add",
				opt("text", discordgo.ApplicationCommandOptionString, text),
				opt("priority", discordgo.ApplicationCommandOptionString, "high"),
				opt("for", discordgo.ApplicationCommandOptionUser, bobID),
				opt("ticket", discordgo.ApplicationCommandOptionInteger, 12.0),
				opt("days", discordgo.ApplicationCommandOptionInteger, -3.0),
				opt("within", discordgo.ApplicationCommandOptionString, "1d12h"),
				opt("quiet", discordgo.ApplicationCommandOptionBoolean, true),
			))
			resp := response(t, e.post(t, body, e.Clock.Now(), e.priv))
			if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
				t.Fatalf("want an ephemeral type 4 answer, got %+v", resp)
			}
			if len(resp.Data.Embeds) != 1 || resp.Data.Embeds[0].Title != "Noted #1" || resp.Data.Embeds[0].Description != markdown(text) {
				t.Fatalf("embed %+v", resp.Data.Embeds)
			}
			audit := e.Audit()
			if len(audit) != 1 {
				t.Fatalf("audit rows %+v", audit)
			}
			want := `text="VPN \"drops\" \\ every --hour ” and 'again'" priority=high for=bob ticket=12 days=-3 within=1d12h quiet=true`
			if a := audit[0]; a.Actor != "alice" || a.Platform != "discord" || a.Detail != want {
				t.Fatalf("audit %+v\nwant detail %s", a, want)
			}
		})
	}
}

func TestUnknownDiscordUserIsEmployee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	body := slash("123456789", "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "hi")))
	response(t, e.post(t, body, e.Clock.Now(), e.priv))
	if a := e.Audit(); len(a) != 1 || a[0].Actor != "discord:123456789" {
		t.Fatalf("audit %+v", a)
	}
}

func TestRefusedRequestsRunNothing(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			_, other, _ := ed25519.GenerateKey(nil)
			body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "x")))
			now := e.Clock.Now()
			cases := []struct {
				name string
				send func() int
			}{
				{"wrong key", func() int { return e.post(t, body, now, other).Code }},
				{"stale timestamp", func() int { return e.post(t, body, now.Add(-MaxSkew-time.Second), e.priv).Code }},
				{"future timestamp", func() int { return e.post(t, body, now.Add(MaxSkew+time.Second), e.priv).Code }},
				{"tampered body", func() int {
					return e.postRaw(t, body, now, e.priv, func(b []byte) []byte {
						return []byte(strings.Replace(string(b), `"x"`, `"y"`, 1))
					})
				}},
				{"no headers", func() int { return e.postHeaders(t, body, "", "") }},
				{"garbage signature", func() int { return e.postHeaders(t, body, "zz", "1") }},
				{"short signature", func() int { return e.postHeaders(t, body, "abcd", "1") }},
			}
			for _, c := range cases {
				if code := c.send(); code != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", c.name, code)
				}
			}
			if a := e.Audit(); len(a) != 0 {
				t.Fatalf("a refused request ran: %+v", a)
			}
			if len(e.fake.All()) != 0 {
				t.Fatalf("a refused request called Discord: %+v", e.fake.All())
			}
		})
	}
}

func TestSlowCommandDefersThenEditsOriginal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	resp := response(t, e.post(t, slashID("900000000000000001", aliceID, "slow"), e.Clock.Now(), e.priv))
	if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
		t.Fatalf("want deferred type 5, got %+v", resp)
	}
	close(e.release)
	c := e.fake.Wait(t)
	if c.Method != http.MethodPatch || c.Path != "/webhooks/"+testApp+"/itoken-abc/messages/@original" {
		t.Fatalf("want PATCH @original, got %s %s", c.Method, c.Path)
	}
	if c.Body["content"] != "done: slow" {
		t.Fatalf("edit body %s", c.Raw)
	}
}

func TestOverrunningCommandDefers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	e.adapter.Budget = time.Millisecond
	// /block waits for release, so it cannot finish inside the budget.
	resp := response(t, e.post(t, slashID("900000000000000001", aliceID, "block", opt("public", discordgo.ApplicationCommandOptionBoolean, true)), e.Clock.Now(), e.priv))
	if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
		t.Fatalf("want deferred type 5, got %+v", resp)
	}
	close(e.release)
	// An answer for the channel: a public follow-up, then the ephemeral
	// original says where it went.
	f := e.fake.Wait(t)
	if f.Method != http.MethodPost || f.Path != "/webhooks/"+testApp+"/itoken-abc" || f.Body["content"] != "done: block" || f.Body["flags"] != nil {
		t.Fatalf("follow-up %s %s %s", f.Method, f.Path, f.Raw)
	}
	o := e.fake.Wait(t)
	if o.Method != http.MethodPatch || !strings.HasSuffix(o.Path, "/messages/@original") {
		t.Fatalf("edit %s %s", o.Method, o.Path)
	}
}

func TestLateAnswerGoesThroughOutbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	resp := response(t, e.post(t, slashID("900000000000000001", bobID, "slow", opt("advance", discordgo.ApplicationCommandOptionString, "20m")), e.Clock.Now(), e.priv))
	if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
		t.Fatalf("want deferred, got %+v", resp)
	}
	close(e.release)
	e.adapter.wg.Wait()
	if calls := e.fake.All(); len(calls) != 0 {
		t.Fatalf("an expired token was used: %+v", calls)
	}
	rows := e.Outbox()
	if len(rows) != 1 {
		t.Fatalf("outbox %+v", rows)
	}
	var target bot.Target
	_ = json.Unmarshal([]byte(rows[0].Target), &target)
	if rows[0].Key != "discord:interaction:900000000000000001@discord" || target.User != bobID || !strings.Contains(rows[0].Body, "done: slow") {
		t.Fatalf("outbox row %+v", rows[0])
	}
}

func TestButtonClickUpdatesMessage(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			resp := response(t, e.post(t, click(bobID, "/note close 7"), e.Clock.Now(), e.priv))
			if resp.Type != discordgo.InteractionResponseUpdateMessage || resp.Data.Content != "" || len(resp.Data.Embeds) != 1 ||
				resp.Data.Embeds[0].Description != "Closed #7" {
				t.Fatalf("want an update (type 7) showing the outcome, got %+v", resp)
			}
			if a := e.Audit(); len(a) != 1 || a[0].Actor != "bob" || a[0].Subject != "note:7" {
				t.Fatalf("audit %+v", a)
			}

			// A long command travels by hash through discord_buttons.
			long := "/note close 8 --reason " + Quote(strings.Repeat("long reason ", 12))
			m := e.adapter.render(context.Background(), bot.Reply{Text: "x", Buttons: []bot.Button{{Label: "Close", Command: long}}})
			id := m.Components[0].(discordgo.ActionsRow).Components[0].(discordgo.Button).CustomID
			if !strings.HasPrefix(id, "cmd:") || len(id) > 100 {
				t.Fatalf("custom_id %q", id)
			}
			response(t, e.post(t, click(bobID, id), e.Clock.Now(), e.priv))
			if a := e.Audit(); len(a) != 2 || a[1].Subject != "note:8" || !strings.HasPrefix(a[1].Detail, "long reason") {
				t.Fatalf("audit %+v", a)
			}

			// Someone without the role: told privately, the message stays.
			resp = response(t, e.post(t, click("123", "/note close 9"), e.Clock.Now(), e.priv))
			if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral ||
				!strings.Contains(resp.Data.Embeds[0].Description, "helpdesk role") {
				t.Fatalf("denied click %+v", resp)
			}
			for _, bad := range []string{"cmd:0000", "garbage", ""} {
				resp = response(t, e.post(t, click(bobID, bad), e.Clock.Now(), e.priv))
				if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral {
					t.Fatalf("custom_id %q: %+v", bad, resp)
				}
			}
			if a := e.Audit(); len(a) != 2 {
				t.Fatalf("audit %+v", a)
			}
		})
	}
}

func TestBadInputIsAnsweredPlainly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"unknown command", slash(aliceID, "nosuch"), "opsbot discord register"},
		{"unknown option", slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "x"), opt("colour", discordgo.ApplicationCommandOptionString, "red"))), "not an option"},
		{"wrong type", slash(aliceID, "note", sub("close", opt("id", discordgo.ApplicationCommandOptionString, "7"))), "wrong type"},
		{"fractional id", slash(aliceID, "note", sub("close", opt("id", discordgo.ApplicationCommandOptionInteger, 7.5))), "wrong type"},
		{"zero id", slash(aliceID, "note", sub("close", opt("id", discordgo.ApplicationCommandOptionInteger, 0.0))), "must be a number"},
		{"bad choice", slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "x"), opt("priority", discordgo.ApplicationCommandOptionString, "asap"))), "must be one of"},
		{"control character", slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "a\x00b"))), "control character"},
		{"missing subcommand", slash(aliceID, "note"), "needs a subcommand"},
	}
	for _, c := range cases {
		resp := response(t, e.post(t, c.body, e.Clock.Now(), e.priv))
		got := resp.Data.Content
		if len(resp.Data.Embeds) > 0 {
			got = resp.Data.Embeds[0].Description
		}
		if resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(got, c.want) {
			t.Errorf("%s: %+v %q, want %q", c.name, resp, got, c.want)
		}
	}
	if a := e.Audit(); len(a) != 0 {
		t.Fatalf("bad input ran: %+v", a)
	}
	if rec := e.post(t, []byte(`{"type":`), e.Clock.Now(), e.priv); rec.Code != http.StatusBadRequest {
		t.Fatalf("malformed JSON: %d", rec.Code)
	}
}

func TestGatewayInteractionAnswersThroughCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Backends(t)[0])
	it, err := DecodeInteraction(slashID("900000000000000001", aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "from the gateway"))))
	if err != nil {
		t.Fatal(err)
	}
	e.adapter.OnInteraction(context.Background(), it)
	c := e.fake.Wait(t)
	if c.Method != http.MethodPost || c.Path != "/interactions/900000000000000001/itoken-abc/callback" || c.Body["type"] != 4.0 {
		t.Fatalf("callback %s %s %s", c.Method, c.Path, c.Raw)
	}
	if a := e.Audit(); len(a) != 1 || a[0].Detail != `text="from the gateway"` {
		t.Fatalf("audit %+v", a)
	}
}

var _ = handlertest.Start
var _ = storage.ErrNotFound
