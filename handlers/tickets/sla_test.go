package tickets_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/config"
	"opsbot/handlers/tickets"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

func breaches(t *testing.T, env *handlertest.Env, priority, target string) float64 {
	t.Helper()
	mfs, err := env.Deps.Reg.(*prometheus.Registry).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "opsbot_ticket_sla_breaches_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["priority"] == priority && labels["target"] == target {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// slaKeys lists the SLA notifications in the outbox.
func slaKeys(env *handlertest.Env) []string {
	var keys []string
	for _, m := range env.Outbox() {
		if strings.Contains(m.Key, ":sla:") {
			keys = append(keys, m.Key)
		}
	}
	return keys
}

func tick(t *testing.T, h *tickets.Handler) {
	t.Helper()
	if err := h.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSLAWarningsAndBreaches(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, h := newEnv(t, b, testConfig())
			// #1 high: first response 1h, resolve 1d; nobody answers.
			// #2 high: carol takes it at once, so only the resolve target runs.
			env.Run("dave", `/ticket new "VPN down" --priority high`)
			env.Run("dave", `/ticket new "Laptop slow" --priority high`)
			env.Run("carol", `/ticket take 2`)
			// #3 low has no SLA configured.
			env.Run("dave", `/ticket new "Wallpaper" --priority low`)

			steps := []struct {
				at   time.Duration
				want []string
			}{
				{44 * time.Minute, nil},
				{45 * time.Minute, []string{"ticket:1:sla:first_response:warn@log"}},
				{50 * time.Minute, []string{"ticket:1:sla:first_response:warn@log"}},
				{time.Hour, []string{"ticket:1:sla:first_response:warn@log", "ticket:1:sla:first_response:breach@log"}},
				{23*time.Hour + 45*time.Minute, []string{"ticket:1:sla:first_response:warn@log", "ticket:1:sla:first_response:breach@log",
					"ticket:1:sla:resolve:warn@log", "ticket:2:sla:resolve:warn@log", "ticket:2:sla:resolve:warn:assignee@log"}},
			}
			for _, s := range steps {
				env.Clock.Set(handlertest.Start.Add(s.at))
				tick(t, h)
				tick(t, h) // a second pass changes nothing
				if got := slaKeys(env); strings.Join(got, " ") != strings.Join(s.want, " ") {
					t.Fatalf("at +%s: SLA notifications\n got %v\nwant %v", s.at, got, s.want)
				}
			}
			if got := breaches(t, env, "high", "first_response"); got != 1 {
				t.Errorf("first response breaches = %v, want 1", got)
			}
			// The warning names the due time and sits in the queue post's thread.
			for _, m := range env.Outbox() {
				if m.Key == "ticket:1:sla:first_response:warn@log" &&
					(m.ThreadKey != "ticket:1:queue@log" || !strings.Contains(m.Body, "first response due at 2026-03-02 10:00 UTC")) {
					t.Errorf("warning: thread %q body %s", m.ThreadKey, m.Body)
				}
			}
			// #2 is resolved in time: no resolve breach for it; #1 breaches.
			env.Run("carol", `/ticket resolve 2 "new RAM"`)
			env.Clock.Set(handlertest.Start.Add(25 * time.Hour))
			tick(t, h)
			tick(t, h)
			if got := breaches(t, env, "high", "resolve"); got != 1 {
				t.Errorf("resolve breaches = %v, want 1", got)
			}
			tk, _ := storage.GetTicket(env.Deps.Store.DB, 1, false)
			if !tk.FirstResponseBreached || !tk.ResolveBreached || !tk.FirstResponseWarned || tk.ResolveBreachAt != nil {
				t.Errorf("ticket 1 SLA state: %+v", tk)
			}
			expect(t, env, "carol", "/ticket show 1", "First response due: 2026-03-02 10:00 UTC (breached)",
				"@opsbot warned: first response due at 2026-03-02 10:00 UTC",
				"@opsbot recorded an SLA breach: resolution was due at 2026-03-03 09:00 UTC")
			var audits int
			for _, a := range env.Audit() {
				if strings.HasPrefix(a.Action, "ticket.sla_") {
					audits++
				}
			}
			if audits != 5 { // #1: two warnings and two breaches; #2: one warning

				t.Errorf("SLA audit entries = %d, want 5", audits)
			}
			// Raising #3 to urgent starts its clock from when it was filed: late at once.
			env.Run("carol", `/ticket priority 3 urgent`)
			tick(t, h)
			if got := breaches(t, env, "urgent", "first_response"); got != 1 {
				t.Errorf("urgent first response breaches = %v, want 1", got)
			}
		})
	}
}

// TestSLATwoWorkers runs two handlers' passes on one database at once: each
// warning is sent and each breach counted once between them.
func TestSLATwoWorkers(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, h1 := newEnv(t, b, testConfig())
			deps := env.Deps
			deps.Reg = prometheus.NewRegistry()
			h2, err := tickets.New(deps)
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				env.Run("dave", `/ticket new "VPN down" --priority urgent`)
			}
			env.Clock.Advance(16 * time.Minute)
			var wg sync.WaitGroup
			for _, h := range []*tickets.Handler{h1, h2} {
				wg.Go(func() {
					if err := h.Tick(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if got := len(slaKeys(env)); got != 10 {
				t.Errorf("%d SLA notifications, want 10 breaches: %v", got, slaKeys(env))
			}
			total := sumCounters(t, env.Deps.Reg) + sumCounters(t, deps.Reg)
			if total != 10 {
				t.Errorf("breaches counted %v times, want 10", total)
			}
		})
	}
}

// sumCounters adds up every counter a registry holds.
func sumCounters(t *testing.T, reg prometheus.Registerer) float64 {
	t.Helper()
	mfs, err := reg.(*prometheus.Registry).Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestSLABusinessHours(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Tickets.BusinessHours = &config.BusinessHours{Start: "09:00", End: "17:00",
				Days: []string{"mon", "tue", "wed", "thu", "fri"}, Timezone: "Europe/Paris"}
			env, h := newEnv(t, b, cfg)
			paris, _ := time.LoadLocation("Europe/Paris")
			// Friday 16:30 in Paris; high: first response 1h → 30m on Friday, 30m on Monday.
			env.Clock.Set(time.Date(2026, 3, 6, 16, 30, 0, 0, paris))
			expect(t, env, "dave", `/ticket new "VPN down" --priority high`, "First response due: 2026-03-09 09:30 CET")
			steps := []struct {
				at   time.Time
				want int
			}{
				{time.Date(2026, 3, 6, 17, 45, 0, 0, paris), 0}, // after hours: the clock stands still
				{time.Date(2026, 3, 8, 12, 0, 0, 0, paris), 0},  // Sunday
				{time.Date(2026, 3, 9, 9, 14, 0, 0, paris), 0},
				{time.Date(2026, 3, 9, 9, 15, 0, 0, paris), 1}, // warning: 15m of working time left
				{time.Date(2026, 3, 9, 9, 29, 0, 0, paris), 1},
				{time.Date(2026, 3, 9, 9, 30, 0, 0, paris), 2}, // breach
			}
			for _, s := range steps {
				env.Clock.Set(s.at)
				tick(t, h)
				if got := len(slaKeys(env)); got != s.want {
					t.Fatalf("at %s: %d SLA notifications, want %d: %v", s.at, got, s.want, slaKeys(env))
				}
			}
			if got := breaches(t, env, "high", "first_response"); got != 1 {
				t.Errorf("breaches = %v", got)
			}
		})
	}
}

func TestHoursAdd(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	week, err := tickets.NewHours(&config.BusinessHours{Start: "09:00", End: "17:00",
		Days: []string{"mon", "tue", "wed", "thu", "fri"}, Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	sat, err := tickets.NewHours(&config.BusinessHours{Start: "08:30", End: "12:00", Days: []string{"sat"}, Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	p := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, paris) }
	for _, tc := range []struct {
		name  string
		hours *tickets.Hours
		from  time.Time
		add   time.Duration
		want  time.Time
	}{
		{"round the clock", nil, p(3, 6, 16, 30), 2 * time.Hour, p(3, 6, 18, 30)},
		{"inside a day", week, p(3, 2, 10, 0), 2 * time.Hour, p(3, 2, 12, 0)},
		{"ends at closing", week, p(3, 2, 15, 0), 2 * time.Hour, p(3, 2, 17, 0)},
		{"next morning", week, p(3, 2, 16, 0), 2 * time.Hour, p(3, 3, 10, 0)},
		{"before opening", week, p(3, 2, 6, 0), 30 * time.Minute, p(3, 2, 9, 30)},
		{"after closing", week, p(3, 2, 20, 0), 30 * time.Minute, p(3, 3, 9, 30)},
		{"over the weekend", week, p(3, 6, 16, 30), time.Hour, p(3, 9, 9, 30)},
		{"filed on Sunday", week, p(3, 8, 12, 0), time.Hour, p(3, 9, 10, 0)},
		{"a working week", week, p(3, 2, 9, 0), 40 * time.Hour, p(3, 6, 17, 0)},
		{"three days of hours", week, p(3, 2, 9, 0), 24 * time.Hour, p(3, 4, 17, 0)},
		{"across the DST change", week, p(3, 27, 16, 0), 2 * time.Hour, p(3, 30, 10, 0)},
		{"zero", week, p(3, 8, 12, 0), 0, p(3, 8, 12, 0)},
		{"saturday mornings only", sat, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), 4 * time.Hour,
			time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)},
	} {
		got := tc.hours.Add(tc.from, tc.add)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: %s + %s = %s, want %s", tc.name, tc.from, tc.add, got.In(paris), tc.want)
		}
	}
	if got := p(3, 30, 10, 0).UTC().Hour(); got != 8 {
		t.Errorf("CEST: 10:00 Paris is %d:00 UTC, want 8", got)
	}
	for _, bad := range []config.BusinessHours{
		{Start: "9am", End: "17:00", Days: []string{"mon"}},
		{Start: "17:00", End: "09:00", Days: []string{"mon"}},
		{Start: "09:00", End: "17:00", Days: []string{"monday"}},
		{Start: "09:00", End: "17:00"},
		{Start: "09:00", End: "17:00", Days: []string{"mon"}, Timezone: "Mars/Olympus"},
	} {
		if _, err := tickets.NewHours(&bad); err == nil {
			t.Errorf("NewHours(%+v) accepted", bad)
		}
	}
}
