package oncall

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/bot/discord"
	"opsbot/bot/slack"
	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testConfig: team it hands off weekly on Thursday at 09:00 Berlin time,
// counting from Thursday 8 January; handlertest.Start, Monday 2 March, is
// in its week 7, so bob is primary and carol secondary until Thursday.
func testConfig() *config.Config {
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}, Teams: []string{"it"}},
		{Name: "bob", Teams: []string{"it"}},
		{Name: "carol", Teams: []string{"it"}},
		{Name: "dave"},
	}
	cfg.Channels = map[string]config.Channel{"ops": {Slack: "C01OPS"}}
	cfg.Teams = map[string]config.Team{"it": {Channel: "ops", Rotation: &config.Rotation{
		Handoff: "weekly", Day: "thu", At: "09:00", Timezone: "Europe/Berlin", Start: "2026-01-05",
		Layers: []config.Layer{{Name: "primary", Members: []string{"alice", "bob", "carol"}},
			{Name: "secondary", Members: []string{"bob", "carol", "alice"}}}}}}
	return cfg
}

func newEnv(t *testing.T, b storagetest.Backend) (*handlertest.Env, *Handler) {
	t.Helper()
	cfg := testConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := handlertest.New(t, b, cfg)
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Command())
	return env, h
}

func keys(env *handlertest.Env) string {
	var out []string
	for _, m := range env.Outbox() {
		out = append(out, m.Key)
	}
	return strings.Join(out, " ")
}

func wantText(t *testing.T, env *handlertest.Env, person, line string, want ...string) string {
	t.Helper()
	got := env.Text(person, line)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: %s\ngot:\n%s\nwant %q", person, line, got, w)
		}
	}
	return got
}

// TestOncall: who is on call now and this week, overrides (team members
// and admins only, audited, announced in the team channel) and swaps
// (in force once the person offered them presses Accept).
func TestOncall(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b)
			wantText(t, env, "dave", "/oncall", "On call now", "it: primary @bob, secondary @carol")
			wantText(t, env, "dave", "/oncall it", "primary:   @bob until Thu 2026-03-05 09:00 CET", "secondary: @carol until Thu 2026-03-05 09:00 CET",
				"next hand-off Thu 2026-03-05 09:00 CET")
			week := wantText(t, env, "dave", "/oncall it --week")
			wantWeek := []string{
				"Mon 2026-03-02: primary @bob, secondary @carol",
				"Tue 2026-03-03: primary @bob, secondary @carol",
				"Wed 2026-03-04: primary @bob, secondary @carol",
				"Thu 2026-03-05: primary @carol, secondary @alice",
				"Fri 2026-03-06: primary @carol, secondary @alice",
				"Sat 2026-03-07: primary @carol, secondary @alice",
				"Sun 2026-03-08: primary @carol, secondary @alice",
			}
			if !strings.Contains(week, strings.Join(wantWeek, "\n")) {
				t.Fatalf("week:\n%s", week)
			}
			wantText(t, env, "dave", "/oncall itt", `There is no team "itt" with a rotation. Did you mean it?`)

			// Overrides.
			wantText(t, env, "dave", "/oncall override it @alice --from 2026-03-03 --to 2026-03-03", "Only members of team it or an admin")
			wantText(t, env, "bob", "/oncall override it @dave --from 2026-03-03 --to 2026-03-03", "@dave is not in team it")
			wantText(t, env, "bob", "/oncall override it @alice --layer tertiary --from 2026-03-03 --to 2026-03-03", `no layer "tertiary"`)
			wantText(t, env, "bob", "/oncall override it @alice --from 03/03/2026 --to 2026-03-03", "want a date such as 2026-12-24")
			wantText(t, env, "bob", "/oncall override it @alice --from 2026-03-04 --to 2026-03-03", "--to must be after --from")
			wantText(t, env, "bob", "/oncall override it @alice --from 2026-03-03 --to 2026-03-03",
				"Override #1: @alice is primary for it from Tue 2026-03-03 00:00 CET to Wed 2026-03-04 00:00 CET")
			wantText(t, env, "alice", "/oncall override it @bob --layer secondary --from 2026-03-06T12:00 --to 2026-03-06T18:00",
				"Override #2: @bob is secondary for it from Fri 2026-03-06 12:00 CET to Fri 2026-03-06 18:00 CET")
			week = wantText(t, env, "dave", "/oncall it --week")
			for _, w := range []string{"Tue 2026-03-03: primary @alice (override), secondary @carol", "Wed 2026-03-04: primary @bob, secondary @carol",
				"Fri 2026-03-06: primary @carol, secondary @alice\n"} { // at 09:00, before bob's override
				if !strings.Contains(week, w) {
					t.Errorf("week after overrides lacks %q:\n%s", w, week)
				}
			}

			// Swaps: bob, primary now, offers carol three hours from noon.
			wantText(t, env, "alice", "/oncall swap it @carol --from 2026-03-02T12:00 --for 3h", "You are not on call for it at Mon 2026-03-02 12:00 CET")
			wantText(t, env, "bob", "/oncall swap it @carol --from 2026-03-02T12:00 --for 3h",
				"Swap #3: asked @carol to take your primary shift for it from Mon 2026-03-02 12:00 CET to Mon 2026-03-02 15:00 CET")
			var dm bot.Reply
			for _, m := range env.Outbox() {
				if strings.HasPrefix(m.Key, "oncall:swap:3@") {
					if !strings.Contains(m.Target, `"@carol"`) {
						t.Errorf("swap offer goes to %s", m.Target)
					}
					if err := json.Unmarshal([]byte(m.Body), &dm); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(dm.Buttons) != 1 || dm.Buttons[0].Label != "Accept" || dm.Buttons[0].Command != "/oncall accept 3" {
				t.Fatalf("carol's DM: %+v", dm)
			}
			env.Clock.Set(time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)) // 13:30 CET
			wantText(t, env, "dave", "/oncall it", "primary:   @bob until Thu")
			wantText(t, env, "dave", dm.Buttons[0].Command, "offered to @carol; only they may accept it")
			wantText(t, env, "carol", dm.Buttons[0].Command, "Swap #3 accepted: you are primary for it from Mon 2026-03-02 12:00 CET to Mon 2026-03-02 15:00 CET, in place of @bob")
			wantText(t, env, "carol", dm.Buttons[0].Command, "accepted swap #3 already")
			wantText(t, env, "dave", "/oncall it", "primary:   @carol until Mon 2026-03-02 15:00 CET (override)")
			wantText(t, env, "dave", "/oncall accept 1", "There is no swap #1")

			var acts []string
			for _, a := range env.Audit() {
				acts = append(acts, a.Actor+" "+a.Action+" "+a.Subject)
			}
			if got := strings.Join(acts, ", "); got != "bob oncall.override oncall:it, alice oncall.override oncall:it, bob oncall.swap oncall:it, carol oncall.accept oncall:it" {
				t.Errorf("audit: %s", got)
			}
			if got := keys(env); got != "oncall:override:1@log oncall:override:2@log oncall:swap:3@log oncall:swap:3:accepted@log" {
				t.Errorf("outbox: %s", got)
			}
		})
	}
}

// TestHandoffPost: at a hand-off the team channel hears who takes over,
// with the team's open incidents, once however often the worker ticks;
// between hand-offs nothing is posted.
func TestHandoffPost(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, h := newEnv(t, b)
			env.Deps.Config.Checks = []config.Check{{Name: "web", Team: "it"}, {Name: "mail", Team: "sales"}}
			ctx := context.Background()
			for _, in := range []storage.Incident{
				{Check: "web", Kind: "http", Channel: "ops", State: storage.IncidentOpen, OpenedAt: handlertest.Start, FailingSince: handlertest.Start, ChangedAt: handlertest.Start},
				{Check: "mail", Kind: "tcp", Channel: "ops", State: storage.IncidentOpen, OpenedAt: handlertest.Start, FailingSince: handlertest.Start, ChangedAt: handlertest.Start},
			} {
				if err := storage.CreateIncident(env.Deps.Store.DB, &in); err != nil {
					t.Fatal(err)
				}
			}
			tick := func() {
				t.Helper()
				if err := h.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			tick() // Monday: the shift began on Thursday
			if got := keys(env); got != "" {
				t.Fatalf("between hand-offs: %s", got)
			}
			env.Clock.Set(time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)) // Thursday 09:00 CET
			tick()
			env.Clock.Advance(10 * time.Minute)
			tick()
			env.Clock.Advance(time.Hour)
			tick()
			msgs := env.Outbox()
			if len(msgs) != 1 || msgs[0].Key != "oncall:handoff:it:1772697600@log" {
				t.Fatalf("outbox: %s", keys(env))
			}
			var r bot.Reply
			if err := json.Unmarshal([]byte(msgs[0].Body), &r); err != nil {
				t.Fatal(err)
			}
			got := r.Title + "\n" + r.Text + "\n" + r.Fields[0].Name + ": " + r.Fields[0].Value
			want := "On-call hand-off for it\nTaking over until Thu 2026-03-12 09:00 CET: primary @carol, secondary @alice.\nOpen incidents: #1 web: open since Mon 10:00 CET"
			if got != want {
				t.Errorf("hand-off post:\n%s\nwant:\n%s", got, want)
			}
			if !strings.Contains(msgs[0].Target, `"#ops"`) {
				t.Errorf("posted to %s", msgs[0].Target)
			}
		})
	}
}

// TestRender: /oncall fits Discord's slash command rules, and Slack and
// Discord render its reply from the same router, with its layers as fields.
func TestRender(t *testing.T) {
	t.Parallel()
	env, h := newEnv(t, storagetest.Backends(t)[0])
	if _, err := discord.ApplicationCommands([]bot.Command{h.Command()}); err != nil {
		t.Errorf("/oncall as Discord slash commands: %v", err)
	}
	r := env.Run("dave", "/oncall it")
	s, err := json.Marshal(slack.Render(r))
	if err != nil {
		t.Fatal(err)
	}
	d, err := json.Marshal(discord.Render(r))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"slack": string(s), "discord": string(d)} {
		for _, w := range []string{"On call for it", "primary", "@bob until Thu 2026-03-05 09:00 CET", "secondary", "@carol"} {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q: %s", name, w, out)
			}
		}
	}
}

// TestInactiveDropsOut: a person offboarded in the database leaves every
// rotation at once, though the config still lists them, and the router
// treats them as someone without roles.
func TestInactiveDropsOut(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b)
			wantText(t, env, "dave", "/oncall", "it: primary @bob, secondary @carol")
			wantText(t, env, "alice", "/oncall override it @bob --from 2026-03-10 --to 2026-03-10", "Override #1")
			for _, n := range []string{"bob", "alice"} {
				if err := storage.SetInactive(env.Deps.Store.DB, n, true, "test", env.Clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			wantText(t, env, "dave", "/oncall", "it: primary @carol, secondary @carol")
			// alice's admin role no longer counts: she is a team outsider now.
			wantText(t, env, "alice", "/oncall override it @carol --from 2026-03-03 --to 2026-03-03", "Only members of team it or an admin")
		})
	}
}
