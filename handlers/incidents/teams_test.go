package incidents

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/storage/storagetest"
)

// teamRig is a rig whose check belongs to team it and names no channel or
// escalation of its own: team it posts into #itops, carol is its primary
// and dave its secondary this week (neither holds a role), and its
// escalation pages the secondary after 10 minutes.
func teamRig(t *testing.T, b storagetest.Backend, tweak func(*config.Config)) *rig {
	return newRigWith(t, b, func(cfg *config.Config) {
		cfg.People[2].Teams = []string{"it"}
		cfg.People = append(cfg.People, config.Person{Name: "dave", Teams: []string{"it"}})
		cfg.Channels["itops"] = config.Channel{}
		cfg.Checks[0].Channel, cfg.Checks[0].Escalate, cfg.Checks[0].Team = "", nil, "it"
		cfg.Teams = map[string]config.Team{"it": {Channel: "itops",
			Rotation: &config.Rotation{Handoff: "weekly", Day: "mon", At: "09:00", Timezone: "Europe/Berlin", Start: "2026-03-02",
				Layers: []config.Layer{{Name: "primary", Members: []string{"carol", "dave"}}, {Name: "secondary", Members: []string{"dave", "carol"}}}},
			Escalation: []config.EscalationStep{{After: config.Duration(10 * time.Minute), To: []string{"oncall:it:secondary"}}}}}
		if tweak != nil {
			tweak(cfg)
		}
	})
}

// sent lists the outbox as "key -> destination", edits left out.
func (r *rig) sent() []string {
	r.t.Helper()
	var out []string
	for _, m := range r.env.Outbox() {
		if m.UpdatesKey != "" {
			continue
		}
		var to struct{ Name string }
		if err := json.Unmarshal([]byte(m.Target), &to); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m.Key+" -> "+to.Name)
	}
	return out
}

func (r *rig) wantSent(want ...string) {
	r.t.Helper()
	if got := r.sent(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		r.t.Fatalf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTeamPaging: a failing check of team it posts into the team's channel
// once, pages the primary on call at once, escalates to the secondary after
// the team's step, and the people paged may acknowledge it.
func TestTeamPaging(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := teamRig(t, b, nil)
			r.svc.failing.Store(true)
			r.run()
			r.run()
			r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @carol")
			if got := r.dm("incident:1:page:0@log", "carol").Title; got != "Paged: web is failing (incident #1); you are primary on call for it" {
				t.Errorf("page: %s", got)
			}
			r.tick(9 * time.Minute)
			r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @carol")
			r.tick(time.Minute)
			r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @carol", "incident:1:escalate:0:1@log -> @dave")
			for range 5 {
				r.tick(20 * time.Minute) // reminders edit the one post
				r.run()
			}
			r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @carol", "incident:1:escalate:0:1@log -> @dave")
			if txt := r.env.Text("carol", "/incident ack 1"); !strings.Contains(txt, "Acknowledged incident #1") {
				t.Errorf("carol, paged, acks: %s", txt)
			}
			show := r.env.Text("dave", "/incident show 1")
			for _, w := range []string{"paged: to carol (primary on call for it)", "escalated: to dave (secondary on call for it)"} {
				if !strings.Contains(show, w) {
					t.Errorf("timeline lacks %q:\n%s", w, show)
				}
			}
		})
	}
}

// TestCheckEscalationWins: a check's own escalate wins over its team's
// escalation; its team's primary is still paged at once.
func TestCheckEscalationWins(t *testing.T) {
	t.Parallel()
	r := teamRig(t, storagetest.Backends(t)[0], func(cfg *config.Config) {
		cfg.Checks[0].Escalate = &config.Escalation{After: config.Duration(5 * time.Minute), To: []string{"bob"}}
	})
	r.svc.failing.Store(true)
	r.run()
	r.run()
	r.tick(10 * time.Minute)
	r.tick(10 * time.Minute)
	r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @carol", "incident:1:escalate:0:1@log -> @bob")
}

// TestGapPagesSecondary: when nobody can hold the primary shift (here the
// only member is not active), the secondary is paged and the team channel
// is told, once.
func TestGapPagesSecondary(t *testing.T) {
	t.Parallel()
	r := teamRig(t, storagetest.Backends(t)[0], func(cfg *config.Config) {
		cfg.Teams["it"].Rotation.Layers[0].Members = []string{"carol"}
	})
	r.h.roster.Active = func(p string) bool { return p != "carol" }
	r.svc.failing.Store(true)
	r.run()
	r.run()
	r.tick(time.Minute)
	r.wantSent("incident:1:open@log -> #itops", "incident:1:page:0@log -> @dave", "incident:1:page:0:gap@log -> #itops")
	if got := r.dm("incident:1:page:0@log", "dave").Title; !strings.HasSuffix(got, "nobody is on call as primary for it, so you are paged") {
		t.Errorf("dave's page: %s", got)
	}
	for _, m := range r.env.Outbox() {
		if m.Key == "incident:1:page:0:gap@log" && !strings.Contains(m.Body, "Incident #1 (web): nobody is on call as primary for it; paged @dave instead.") {
			t.Errorf("gap post: %s", m.Body)
		}
	}
}
