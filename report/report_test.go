package report

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// now is Monday 9 March 2026, 10:00 UTC: the week is Mon 2 – Sun 8 March,
// the week before Mon 23 Feb – Sun 1 March.
var now = time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

func feb(day, hour int) time.Time { return time.Date(2026, 2, day, hour, 0, 0, 0, time.UTC) }

func ptr(t time.Time) *time.Time { return &t }

// fixtureConfig: team it owns web, db, the it queue, prod-db and etc; team
// ops owns mail, facilities, wiki and db-dump; logs belongs to nobody.
func fixtureConfig() *config.Config {
	cfg := config.Default()
	cfg.People = []config.Person{{Name: "alice", Roles: []string{"admin"}, Teams: []string{"it"}},
		{Name: "bob", Teams: []string{"ops"}}, {Name: "erin"}}
	cfg.Channels = map[string]config.Channel{"ops": {Slack: "C01OPS"}}
	cfg.Teams = map[string]config.Team{"it": {Channel: "ops"}}
	cfg.Checks = []config.Check{{Name: "web", Team: "it"}, {Name: "db", Team: "it"}, {Name: "mail", Team: "ops"}}
	cfg.Tickets.Queues = []config.Queue{{Name: "it", Team: "it"}, {Name: "facilities", Team: "ops"}}
	cfg.Tickets.SLA = map[string]config.SLA{
		"urgent": {FirstResponse: config.Duration(15 * time.Minute), Resolve: config.Duration(4 * time.Hour)},
		"high":   {FirstResponse: config.Duration(time.Hour), Resolve: config.Duration(24 * time.Hour)}}
	cfg.Access.Resources = []config.Resource{{Name: "prod-db", Team: "it"}, {Name: "wiki", Team: "ops"}}
	cfg.Backups.Jobs = []config.BackupJob{{Name: "etc", Team: "it", FreshWithin: config.Duration(26 * time.Hour)},
		{Name: "db-dump", Team: "ops", FreshWithin: config.Duration(26 * time.Hour)}, {Name: "logs"}}
	return cfg
}

// results adds n runs of check, ok of them passing, spread from start by
// step.
func results(check string, start time.Time, step time.Duration, n, ok int) []storage.CheckResult {
	var out []storage.CheckResult
	for i := range n {
		out = append(out, storage.CheckResult{Check: check, At: start.Add(time.Duration(i) * step), OK: i < ok})
	}
	return out
}

func seed(t testing.TB, db *gorm.DB) {
	t.Helper()
	var rs []storage.CheckResult
	rs = append(rs, results("web", at(2, 0, 0), time.Hour, 100, 90)...)
	rs = append(rs, results("web", feb(23, 0), time.Hour, 10, 10)...)
	rs = append(rs, results("db", at(4, 0, 0), time.Minute, 10, 10)...)
	rs = append(rs, results("db", feb(24, 0), time.Minute, 10, 9)...)
	rs = append(rs, results("mail", at(8, 20, 0), time.Minute, 4, 2)...)
	rs = append(rs, results("gone", at(5, 0, 0), time.Minute, 5, 0)...) // no longer configured
	rs = append(rs, results("mail", at(9, 0, 0), time.Minute, 3, 0)...) // today: not in the week
	must(t, db.CreateInBatches(rs, 100).Error)

	in := func(check string, opened time.Time, ack, res time.Duration) storage.Incident {
		i := storage.Incident{Check: check, Kind: "http", Channel: "ops", State: storage.IncidentOpen, OpenedAt: opened, FailingSince: opened}
		if ack > 0 {
			i.AckedAt = ptr(opened.Add(ack))
		}
		if res > 0 {
			i.ResolvedAt, i.State = ptr(opened.Add(res)), storage.IncidentResolved
		}
		return i
	}
	must(t, db.Create([]storage.Incident{
		in("web", at(3, 10, 0), 10*time.Minute, time.Hour),
		in("db", at(3, 12, 0), 20*time.Minute, 0),
		in("mail", at(5, 8, 0), 0, 2*time.Hour),
		in("web", feb(25, 8), 30*time.Minute, 2*time.Hour),
	}).Error)

	tk := func(queue, pr string, created time.Time, fr, resolved, closed *time.Time, frDue, resDue *time.Time) storage.Ticket {
		st := storage.TicketOpen
		if resolved != nil {
			st = storage.TicketResolved
		}
		if closed != nil {
			st = storage.TicketClosed
		}
		return storage.Ticket{Summary: "s", Status: st, Active: storage.TicketActive(st), Priority: pr, Queue: queue,
			Requester: "erin", FiledBy: "erin", CreatedAt: created, UpdatedAt: created, FirstResponseAt: fr,
			ResolvedAt: resolved, ClosedAt: closed, FirstResponseDue: frDue, ResolveDue: resDue}
	}
	must(t, db.Create([]storage.Ticket{
		tk("it", "urgent", at(2, 9, 0), ptr(at(2, 9, 10)), ptr(at(2, 12, 0)), nil, ptr(at(2, 9, 15)), ptr(at(2, 13, 0))), // met
		tk("it", "urgent", at(3, 9, 0), ptr(at(3, 9, 30)), ptr(at(3, 10, 0)), nil, ptr(at(3, 9, 15)), ptr(at(3, 13, 0))), // first response late
		tk("it", "high", at(4, 9, 0), nil, nil, nil, ptr(at(4, 10, 0)), nil),                                             // open
		tk("facilities", "normal", feb(20, 9), nil, nil, nil, nil, nil),                                                  // open since before
		tk("it", "high", feb(24, 9), ptr(feb(24, 10)), ptr(feb(25, 9)), nil, ptr(feb(24, 10)), ptr(feb(25, 9))),          // the week before, met
		tk("it", "normal", at(6, 9, 0), nil, nil, ptr(at(7, 12, 0)), nil, nil),                                           // closed unresolved
	}).Error)

	ar := func(res, state string, created time.Time, granted, closed *time.Time) storage.AccessRequest {
		return storage.AccessRequest{Resource: res, Role: "read", Requester: "erin", Duration: time.Hour, State: state,
			ApprovalsNeeded: 1, PendingUntil: created.Add(time.Hour), CreatedAt: created, UpdatedAt: created,
			GrantedAt: granted, ClosedAt: closed}
	}
	must(t, db.Create([]storage.AccessRequest{
		ar("prod-db", storage.AccessActive, at(3, 9, 0), ptr(at(3, 9, 30)), nil),
		ar("prod-db", storage.AccessDenied, at(4, 9, 0), nil, ptr(at(4, 10, 0))),
		ar("wiki", storage.AccessExpired, at(5, 9, 0), nil, ptr(at(6, 9, 0))),
		ar("prod-db", storage.AccessRevoked, feb(26, 9), ptr(feb(26, 10)), ptr(at(2, 9, 0))),
	}).Error)

	run := func(job, state string, started time.Time) storage.BackupRun {
		return storage.BackupRun{Job: job, State: state, Trigger: "schedule", RequestedBy: "opsbot", Owner: "test",
			HeartbeatAt: started, StartedAt: started, FinishedAt: ptr(started.Add(10 * time.Minute))}
	}
	for _, r := range []storage.BackupRun{
		run("etc", storage.BackupSucceeded, at(8, 2, 0)),
		run("etc", storage.BackupSucceeded, at(9, 2, 0)),
		run("db-dump", storage.BackupSucceeded, at(7, 2, 0)),
		run("db-dump", storage.BackupFailed, at(9, 2, 0)),
	} {
		must(t, db.Create(&r).Error)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			store := storagetest.Open(t, b)
			seed(t, store.DB)
			cfg := fixtureConfig()
			p, err := NewPeriod(Week, now, time.UTC)
			must(t, err)
			ctx := context.Background()

			d, err := Compute(ctx, store.DB, cfg, p, "", now)
			must(t, err)
			var names []string
			for _, c := range d.Checks {
				names = append(names, c.Name)
			}
			if got := strings.Join(names, " "); got != "mail web db" {
				t.Errorf("checks worst first = %q, want mail web db (gone is not configured)", got)
			}
			if d.Checks[1].Cur != (Ratio{100, 90}) || d.Checks[1].Prev != (Ratio{10, 10}) {
				t.Errorf("web = %+v, want 90 of 100 runs, 10 of 10 before", d.Checks[1])
			}
			if d.Checks[0].Cur != (Ratio{4, 2}) {
				t.Errorf("mail = %+v: today's runs must not count", d.Checks[0])
			}
			in := d.Incidents
			if in.Opened != (Count{3, 1}) || in.MTTA.Cur != 15*time.Minute || in.MTTA.Prev != 30*time.Minute ||
				in.MTTR.Cur != 90*time.Minute || in.MTTR.Prev != 2*time.Hour || in.MTTA.N != 2 || in.MTTR.N != 2 {
				t.Errorf("incidents = %+v", in)
			}
			if want := []int64{0, 2, 0, 1, 0, 0, 0}; !reflect.DeepEqual(in.PerDay, want) {
				t.Errorf("incidents per day = %v, want %v", in.PerDay, want)
			}
			tk := d.Tickets
			if tk.Opened != (Count{4, 1}) || tk.Resolved != (Count{2, 1}) {
				t.Errorf("tickets opened %+v resolved %+v", tk.Opened, tk.Resolved)
			}
			if want := []int64{1, 1, 2, 2, 3, 2, 2}; !reflect.DeepEqual(tk.Backlog, want) {
				t.Errorf("backlog = %v, want %v", tk.Backlog, want)
			}
			if want := []SLA{{Priority: "urgent", Resolved: 2, Met: 1}, {Priority: "high", PrevResolved: 1, PrevMet: 1}}; !reflect.DeepEqual(tk.SLA, want) {
				t.Errorf("SLA = %+v, want %+v", tk.SLA, want)
			}
			if want := (Access{Requested: Count{3, 1}, Granted: Count{1, 1}, Denied: Count{1, 0}, Expired: Count{1, 0}}); d.Access != want {
				t.Errorf("access = %+v, want %+v", d.Access, want)
			}
			want := []Backup{{Job: "etc", LastSuccess: at(9, 2, 10), Target: 26 * time.Hour},
				{Job: "db-dump", LastSuccess: at(7, 2, 10), Target: 26 * time.Hour, Stale: true}, {Job: "logs"}}
			for i := range d.Backups {
				d.Backups[i].LastSuccess = d.Backups[i].LastSuccess.UTC()
			}
			if !reflect.DeepEqual(d.Backups, want) {
				t.Errorf("backups = %+v, want %+v", d.Backups, want)
			}
			if len(d.heatCells) != 3 || len(d.heatCells[1]) != 28 {
				t.Fatalf("heat cells = %d rows", len(d.heatCells))
			}
			// web ran every hour from Monday 00:00: its first 6-hour slot
			// passed 6 of 6; mail's last slot (Sunday 18:00-24:00) 2 of 4.
			if d.heatCells[1][0] != 1 || d.heatCells[0][27] != 0.5 || !math.IsNaN(d.heatCells[0][0]) {
				t.Errorf("heat cells: web first %v, mail last %v, mail first %v", d.heatCells[1][0], d.heatCells[0][27], d.heatCells[0][0])
			}

			// Team it: its checks, queue, resource and job only.
			d, err = Compute(ctx, store.DB, cfg, p, "it", now)
			must(t, err)
			if len(d.Checks) != 2 || d.Incidents.Opened != (Count{2, 1}) || d.Incidents.MTTR.Cur != time.Hour {
				t.Errorf("team it: checks %+v incidents %+v", d.Checks, d.Incidents)
			}
			if want := []int64{0, 0, 1, 1, 2, 1, 1}; !reflect.DeepEqual(d.Tickets.Backlog, want) {
				t.Errorf("team it backlog = %v, want %v", d.Tickets.Backlog, want)
			}
			if d.Access.Requested != (Count{2, 1}) || d.Access.Expired != (Count{}) || len(d.Backups) != 1 {
				t.Errorf("team it: access %+v backups %+v", d.Access, d.Backups)
			}

			// A team that owns nothing has an empty digest, not an error.
			d, err = Compute(ctx, store.DB, cfg, p, "nobody", now)
			must(t, err)
			if len(d.Checks) != 0 || d.Tickets.Opened != (Count{}) || len(d.Tickets.Backlog) != 7 {
				t.Errorf("empty team: %+v", d)
			}
		})
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	b := storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}
	store := storagetest.Open(t, b)
	seed(t, store.DB)
	p, err := NewPeriod(Week, now, time.UTC)
	must(t, err)
	d, err := Compute(context.Background(), store.DB, fixtureConfig(), p, "", now)
	must(t, err)
	r, err := d.Reply()
	must(t, err)
	if r.Title != "Ops digest — week 2 Mar – 8 Mar 2026" {
		t.Errorf("title %q", r.Title)
	}
	text := ""
	for _, f := range r.Fields {
		text += f.Name + ": " + f.Value + "\n"
	}
	for _, want := range []string{
		"Uptime: 89.47% over 3 checks (▼5.53 pt).",
		"Worst: mail 50.00% (no runs before); web 90.00% (▼10.00 pt); db 100.00% (▲10.00 pt).",
		"Incidents: 3 opened (▲2). Mean time to acknowledge 15m (▼15m), to resolve 1h30m (▼30m).",
		"Tickets: 4 opened (▲3), 2 resolved (▲1), 2 open at the end.",
		"SLA met, by priority: urgent 1 of 2 (50%, none before); high none resolved (1 of 1 before).",
		"Access: 3 requested (▲2), 1 granted (= same), 1 denied (▲1), 1 expired undecided (▲1).",
		"Backups: 1 of 2 jobs fresh. Stale: db-dump (last success 55h ago, target 26h). Without a freshness target: logs (never succeeded).",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %q:\n%s", want, text)
		}
	}
	if len(r.Images) != 3 {
		t.Fatalf("%d images, want 3", len(r.Images))
	}
	titles := map[string]bool{}
	for i, img := range r.Images {
		if img.Name != Charts[i]+"-week.png" || img.Type != "image/png" || img.Alt == "" || titles[img.Title] {
			t.Errorf("image %d: name %q type %q alt %q title %q (titles must differ)", i, img.Name, img.Type, img.Alt, img.Title)
		}
		titles[img.Title] = true
		if _, err := png.Decode(bytes.NewReader(img.Data)); err != nil {
			t.Errorf("image %s: %v", img.Name, err)
		}
	}
	if !strings.Contains(r.Images[1].Alt, "Tue 3 2") {
		t.Errorf("incidents alt text %q does not give the days' counts", r.Images[1].Alt)
	}
}

func TestPeriods(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	must(t, err)
	// 00:30 on Monday 30 March in Paris is still Sunday in UTC; the week
	// before it crosses the change to summer time (29 March).
	n := time.Date(2026, 3, 29, 22, 30, 0, 0, time.UTC)
	p, err := NewPeriod(Week, n, paris)
	must(t, err)
	if p.Start.Format(time.RFC3339) != "2026-03-23T00:00:00+01:00" || p.End.Format(time.RFC3339) != "2026-03-30T00:00:00+02:00" {
		t.Errorf("week = %s – %s", p.Start, p.End)
	}
	if prev := p.Prev(); prev.End != p.Start || prev.Start.Format("2006-01-02") != "2026-03-16" {
		t.Errorf("prev = %+v", prev)
	}
	bounds, labels := p.slots()
	if len(bounds) != 29 || len(labels) != 28 || labels[0] != "Mon 23" || !bounds[28].Equal(p.End) {
		t.Errorf("week slots: %d bounds, labels %q", len(bounds), labels)
	}
	d, err := NewPeriod(Day, n, paris)
	must(t, err)
	if b, l := d.slots(); len(l) != 23 || len(b) != 24 { // 29 March had 23 hours in Paris
		t.Errorf("day slots: %d", len(l))
	}
	m, err := NewPeriod(Month, n, paris)
	must(t, err)
	if _, l := m.slots(); len(l) != 30 {
		t.Errorf("month slots: %d", len(l))
	}
	if _, err := NewPeriod("year", n, nil); err == nil {
		t.Error("year accepted")
	}
}

func TestSLAText(t *testing.T) {
	t.Parallel()
	d := &Digest{Tickets: Tickets{Backlog: []int64{3}, SLA: []SLA{
		{Priority: "urgent", Resolved: 4, Met: 3, PrevResolved: 2, PrevMet: 2},
		{Priority: "high", Resolved: 2, Met: 2, PrevResolved: 4, PrevMet: 2},
		{Priority: "normal"},
	}}}
	want := "SLA met, by priority: urgent 3 of 4 (75%, ▼25.00 pt); high 2 of 2 (100%, ▲50.00 pt)."
	if got := d.ticketText(); !strings.Contains(got, want) {
		t.Errorf("ticket text %q, want %q", got, want)
	}
}
