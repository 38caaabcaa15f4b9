package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testConfig: alice is an admin in team it, bob a member of ops without a
// role, erin neither; web belongs to it, mail to ops. The weekly report
// for it posts on Mondays at 08:00 UTC into ops.
func testConfig() *config.Config {
	cfg := config.Default()
	cfg.People = []config.Person{{Name: "alice", Roles: []string{"admin"}, Teams: []string{"it"}},
		{Name: "bob", Teams: []string{"ops"}}, {Name: "erin"}}
	cfg.Channels = map[string]config.Channel{"ops": {Slack: "C01OPS"}}
	cfg.Teams = map[string]config.Team{"it": {Channel: "ops"}, "ops": {}}
	cfg.Checks = []config.Check{
		{Name: "web", Kind: "tcp", Address: "127.0.0.1:1", Every: config.Duration(time.Minute), Timeout: config.Duration(time.Second),
			Failures: 1, Successes: 1, Team: "it"},
		{Name: "mail", Kind: "tcp", Address: "127.0.0.1:1", Every: config.Duration(time.Minute), Timeout: config.Duration(time.Second),
			Failures: 1, Successes: 1, Team: "ops"}}
	cfg.Reports = []config.Report{{Name: "weekly-it", Cron: "0 8 * * mon", Timezone: "UTC", Team: "it", Period: "week"}}
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
	// handlertest.Start is Monday 2 March 09:00: the week before is
	// 23 February to 1 March.
	var rs []storage.CheckResult
	for i := range 48 {
		at := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		rs = append(rs, storage.CheckResult{Check: "web", At: at, OK: i%8 != 0}, storage.CheckResult{Check: "mail", At: at, OK: true})
	}
	if err := env.Deps.Store.DB.Create(&rs).Error; err != nil {
		t.Fatal(err)
	}
	return env, h
}

func wantText(t *testing.T, env *handlertest.Env, person, line string, want ...string) {
	t.Helper()
	got := env.Text(person, line)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %s\ngot:\n%s\nwant %q", person, line, got, w)
		}
	}
}

// TestCommand: /report's arguments, who may see which digest, and the
// reply: the digest in words and three named charts.
func TestCommand(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b)
			r := env.Run("alice", "/report")
			if r.Title != "Ops digest — week 23 Feb – 1 Mar 2026" || len(r.Images) != 3 {
				t.Fatalf("/report: title %q, %d images", r.Title, len(r.Images))
			}
			for i, name := range []string{"uptime-week.png", "incidents-week.png", "backlog-week.png"} {
				img := r.Images[i]
				if img.Name != name || img.Type != "image/png" || img.Alt == "" || img.Title == "" {
					t.Errorf("image %d: %q %q alt %q title %q", i, img.Name, img.Type, img.Alt, img.Title)
				}
				if _, err := png.Decode(bytes.NewReader(img.Data)); err != nil {
					t.Errorf("image %s: %v", name, err)
				}
			}
			wantText(t, env, "alice", "/report week", "93.75% over 2 checks (no runs before).", "Worst: web 87.50% (no runs before); mail 100.00%")
			wantText(t, env, "alice", "/report DAY", "Ops digest — day Sun 1 Mar 2026", "93.75% over 2 checks (= same).", "Worst: web 87.50% (= same); mail 100.00% (= same).")
			wantText(t, env, "alice", "/report month --team it", "Ops digest — month 31 Jan – 1 Mar 2026 (team it)", "web 87.50%")
			if r := env.Run("alice", "/report day --team ops"); !strings.Contains(r.Fields[0].Value, "mail 100.00%") || strings.Contains(r.Fields[0].Value, "web") {
				t.Errorf("team ops digest: %q", r.Fields[0].Value)
			}
			if r := env.Run("alice", "/report day"); r.Images[0].Name != "uptime-day.png" {
				t.Errorf("day image name %q", r.Images[0].Name)
			}

			// Bad input says what to type.
			wantText(t, env, "alice", "/report weak", `There is no period "weak". Did you mean week? Type /report day, /report week or /report month.`)
			wantText(t, env, "alice", "/report week --team itt", `There is no team "itt". Did you mean it? Teams: it, ops.`)
			wantText(t, env, "alice", "/report week extra", "/report")
			wantText(t, env, "alice", "/report --tem it", "--team")
			wantText(t, env, "alice", "/report week --team", "--team")

			// Who may: staff everything, members their team.
			wantText(t, env, "erin", "/report", "Only people with a role")
			wantText(t, env, "erin", "/report --team it", "Only members of team it")
			wantText(t, env, "bob", "/report", "Only people with a role", "Type /report week --team ops for your team's.")
			wantText(t, env, "bob", "/report --team it", "Only members of team it")
			if r := env.Run("bob", "/report week --team ops"); len(r.Images) != 3 {
				t.Errorf("bob's own team: %+v", r)
			}
			if n := len(env.Outbox()); n != 0 {
				t.Errorf("/report queued %d notifications", n)
			}
		})
	}
}

// TestHostileInput: whatever is typed, /report answers with an error or a
// digest, never panics, and echoes at most a short, one-line excerpt.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	for _, line := range []string{
		`/report "$(rm -rf /)"`, "/report " + strings.Repeat("w", 5000), "/report week --team " + strings.Repeat("é", 300),
		"/report \x00\x1b[31m", `/report "week`, "/report --team=it week", "/report week --team '; DROP TABLE tickets; --",
		"/report week --team it --team ops", "/report 💥",
	} {
		r := env.Run("alice", line)
		txt := r.Title + r.Text
		if len(r.Images) == 0 && txt == "" {
			t.Errorf("%q: empty reply", line)
		}
		if len(txt) > 400 || strings.Contains(txt, strings.Repeat("w", 100)) {
			t.Errorf("%q: the error echoes too much: %q", line, txt)
		}
	}
	var n int64
	if err := env.Deps.Store.DB.Model(&storage.Ticket{}).Count(&n).Error; err != nil {
		t.Errorf("tickets table after hostile input: %v", err)
	}
}

// TestScheduled: the leader posts the report at its cron time, once:
// ticking again, a second replica, and a restart within the catch-up hour
// enqueue nothing more; the next week's is a new post.
func TestScheduled(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, h := newEnv(t, b)
			ctx := context.Background()
			env.Clock.Set(time.Date(2026, 3, 2, 7, 59, 0, 0, time.UTC))
			if err := h.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(env.Outbox()); n != 0 {
				t.Fatalf("%d posts before the cron time", n)
			}
			env.Clock.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
			if err := h.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			other, err := New(env.Deps) // a second replica, or this one restarted
			if err != nil {
				t.Fatal(err)
			}
			env.Clock.Set(time.Date(2026, 3, 2, 8, 40, 0, 0, time.UTC))
			for _, hh := range []*Handler{h, other, h} {
				if err := hh.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			out := env.Outbox()
			if len(out) != 1 {
				t.Fatalf("%d posts, want 1", len(out))
			}
			m := out[0]
			if m.Key != "report:weekly-it:2026-02-23T00:00:00Z@log" || !strings.Contains(m.Target, `"#ops"`) {
				t.Errorf("post %s to %s", m.Key, m.Target)
			}
			var r bot.Reply
			if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Images) != 3 || !r.InChannel || r.Title != "Ops digest — week 23 Feb – 1 Mar 2026 (team it)" {
				t.Fatalf("posted reply: %q, %d images, in channel %v", r.Title, len(r.Images), r.InChannel)
			}
			for _, img := range r.Images {
				if _, err := png.Decode(bytes.NewReader(img.Data)); err != nil {
					t.Errorf("posted %s: %v", img.Name, err)
				}
			}

			// Past the catch-up hour a leader that starts does not post
			// last week's late; next Monday's is new.
			late, err := New(env.Deps)
			if err != nil {
				t.Fatal(err)
			}
			env.Clock.Set(time.Date(2026, 3, 2, 9, 1, 0, 0, time.UTC))
			if err := late.Tick(ctx); err != nil || len(env.Outbox()) != 1 {
				t.Fatalf("after the catch-up hour: %v, %d posts", err, len(env.Outbox()))
			}
			env.Clock.Set(time.Date(2026, 3, 9, 8, 0, 5, 0, time.UTC))
			if err := late.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if out := env.Outbox(); len(out) != 2 || out[1].Key != "report:weekly-it:2026-03-02T00:00:00Z@log" {
				t.Fatalf("next week: %d posts", len(out))
			}
		})
	}
}

// TestFenced: on PostgreSQL a report written under a leadership term that
// has ended is refused, and nothing is posted.
func TestFenced(t *testing.T) {
	t.Parallel()
	cfg, ok := storagetest.Postgres(t)
	if !ok {
		t.Skip("OPSBOT_TEST_POSTGRES not set: fencing applies to PostgreSQL only")
	}
	env, h := newEnv(t, storagetest.Backend{Name: "postgres", Config: cfg})
	env.Clock.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	lost := false
	ctx := storage.WithTerm(context.Background(), 41, func() { lost = true })
	if err := h.Tick(ctx); !errors.Is(err, storage.ErrFenced) || !lost {
		t.Fatalf("tick under an old term: %v (lost %v)", err, lost)
	}
	if n := len(env.Outbox()); n != 0 {
		t.Fatalf("%d posts under an old term", n)
	}
}

func TestLastFire(t *testing.T) {
	t.Parallel()
	s, err := config.ParseSchedule("*/10 * * * *", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 8, 25, 0, 0, time.UTC)
	if f, ok := lastFire(s, now); !ok || !f.Equal(time.Date(2026, 3, 2, 8, 20, 0, 0, time.UTC)) {
		t.Errorf("last fire = %v %v", f, ok)
	}
	d, _ := config.ParseSchedule("0 8 * * *", "UTC")
	if _, ok := lastFire(d, time.Date(2026, 3, 2, 9, 0, 1, 0, time.UTC)); ok {
		t.Error("a fire more than CatchUp ago counts")
	}
	if f, ok := lastFire(d, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)); !ok || f.Hour() != 8 {
		t.Error("a fire exactly now does not count")
	}
}

// TestHourlyCronPostsDaily: a cron that fires every hour for a day report
// posts once a day, since each firing of the day has the same period.
func TestHourlyCronPostsDaily(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Reports = []config.Report{{Name: "daily", Cron: "0 * * * *", Timezone: "UTC", Channel: "ops", Period: "day"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := handlertest.New(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, cfg)
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, hour := range []int{8, 9, 10, 23} {
		env.Clock.Set(time.Date(2026, 3, 2, hour, 0, 30, 0, time.UTC))
		if err := h.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	env.Clock.Set(time.Date(2026, 3, 3, 0, 0, 30, 0, time.UTC))
	if err := h.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range env.Outbox() {
		keys = append(keys, m.Key)
	}
	if want := "report:daily:2026-03-01T00:00:00Z@log report:daily:2026-03-02T00:00:00Z@log"; strings.Join(keys, " ") != want {
		t.Errorf("posts %q, want %q", keys, want)
	}
}
