package checks

import (
	"reflect"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	okR, bad := &Result{OK: true}, &Result{Error: "boom"}
	pol := Policy{Failures: 2, Successes: 2, RemindEvery: 30 * time.Minute, FlapWindow: time.Hour,
		EscalateAfter: 10 * time.Minute, EscalateTo: []string{"alice", "channel:ops"}}
	steps := Policy{Failures: 2, Successes: 1, EscalateTo: []string{"oncall:it:secondary", "bob", "channel:mgmt"},
		EscalateAt: []time.Duration{15 * time.Minute, 45 * time.Minute, 45 * time.Minute}}
	open := func(id int64, posted time.Time) *Incident {
		return &Incident{ID: id, PostedAt: posted, LastUpdate: posted}
	}
	kinds := func(as []Action) []ActionKind {
		var out []ActionKind
		for _, a := range as {
			out = append(out, a.Kind)
		}
		return out
	}
	tests := []struct {
		name   string
		state  State
		res    *Result
		at     time.Duration
		want   []ActionKind
		check  func(t *testing.T, s State, acts []Action)
		policy *Policy
	}{
		{name: "first failure is quiet", res: bad, check: func(t *testing.T, s State, _ []Action) {
			if s.Failures != 1 || s.Open != nil || !s.FailingSince.Equal(t0) {
				t.Errorf("state %+v", s)
			}
		}},
		{name: "threshold opens", state: State{Failures: 1, FailingSince: t0.Add(-time.Minute)}, res: bad, want: []ActionKind{ActOpen},
			check: func(t *testing.T, s State, _ []Action) {
				if s.Open == nil || !s.FailingSince.Equal(t0.Add(-time.Minute)) {
					t.Errorf("state %+v", s)
				}
			}},
		{name: "failures beyond threshold stay quiet", state: State{Failures: 2, Open: open(7, t0)}, res: bad, at: time.Minute},
		{name: "silenced does not open", state: State{Failures: 5, Silenced: true}, res: bad},
		{name: "silenced open incident neither reminds nor escalates", state: State{Failures: 5, Open: open(7, t0), Silenced: true}, res: bad, at: 2 * time.Hour},
		// A silence lifted early (/incident unsilence) leaves the failures
		// counted while it lasted: the next failure opens at once.
		{name: "unsilenced past the threshold opens on the next failure", state: State{Failures: 5, FailingSince: t0.Add(-time.Hour)},
			res: bad, want: []ActionKind{ActOpen}, check: func(t *testing.T, s State, _ []Action) {
				if !s.FailingSince.Equal(t0.Add(-time.Hour)) || s.Failures != 6 {
					t.Errorf("state %+v", s)
				}
			}},
		{name: "unsilenced open incident escalates when overdue", state: State{Failures: 5, Open: open(7, t0)}, at: 2 * time.Hour,
			want: []ActionKind{ActEscalate, ActRemind}},
		{name: "one success of two resolves nothing", state: State{Failures: 3, Open: open(7, t0)}, res: okR},
		{name: "successes threshold resolves", state: State{Successes: 1, Open: open(7, t0)}, res: okR, at: time.Minute, want: []ActionKind{ActResolve},
			check: func(t *testing.T, s State, acts []Action) {
				if s.Open != nil || s.Last == nil || s.Last.ID != 7 || acts[0].IncidentID != 7 {
					t.Errorf("state %+v acts %+v", s, acts)
				}
			}},
		{name: "successes saturate", state: State{Successes: 2}, res: okR, check: func(t *testing.T, s State, _ []Action) {
			if s.Successes != 2 {
				t.Errorf("successes %d", s.Successes)
			}
		}},
		{name: "fail again within flap window reopens the same incident", at: 30 * time.Minute,
			state: State{Failures: 1, Last: &Incident{ID: 7, ResolvedAt: t0, EscalationStep: 2, Acked: true}}, res: bad, want: []ActionKind{ActReopen},
			check: func(t *testing.T, s State, acts []Action) {
				if s.Open == nil || s.Open.ID != 7 || s.Open.Acked || s.Open.EscalationStep != 0 || s.Last != nil || acts[0].IncidentID != 7 {
					t.Errorf("state %+v", s)
				}
			}},
		{name: "flapping still needs the normal threshold", at: time.Minute,
			state: State{Last: &Incident{ID: 7, ResolvedAt: t0}}, res: bad},
		{name: "fail after flap window opens a new incident", at: 2 * time.Hour,
			state: State{Failures: 1, Last: &Incident{ID: 7, ResolvedAt: t0}}, res: bad, want: []ActionKind{ActOpen}},
		{name: "reminder after remind_every", state: State{Failures: 9, Open: open(7, t0)}, res: bad, at: 30 * time.Minute,
			want: []ActionKind{ActEscalate, ActRemind}},
		{name: "acked: reminder, no escalation", state: State{Failures: 9, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, Acked: true}},
			at: 30 * time.Minute, want: []ActionKind{ActRemind}},
		{name: "time alone escalates step 1", state: State{Failures: 2, Open: open(7, t0)}, at: 10 * time.Minute, want: []ActionKind{ActEscalate},
			check: func(t *testing.T, s State, acts []Action) {
				if acts[0].Step != 1 || acts[0].Target != "alice" || s.Open.EscalationStep != 1 {
					t.Errorf("acts %+v", acts)
				}
			}},
		{name: "step 2 waits for twice after", state: State{Failures: 2, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, EscalationStep: 1}}, at: 15 * time.Minute},
		{name: "step 2", state: State{Failures: 2, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, EscalationStep: 1}}, at: 20 * time.Minute,
			want: []ActionKind{ActEscalate}, check: func(t *testing.T, s State, acts []Action) {
				if acts[0].Target != "channel:ops" || acts[0].Step != 2 {
					t.Errorf("acts %+v", acts)
				}
			}},
		{name: "no more targets", state: State{Failures: 2, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, EscalationStep: 2}}, at: 25 * time.Minute},
		{name: "zero thresholds act as 1", policy: &Policy{}, res: bad, want: []ActionKind{ActOpen}},
		// A team's escalation: each target at its own time; targets due
		// together go out together.
		{name: "steps: not yet", policy: &steps, state: State{Failures: 2, Open: open(7, t0)}, at: 14 * time.Minute},
		{name: "steps: the first", policy: &steps, state: State{Failures: 2, Open: open(7, t0)}, at: 15 * time.Minute,
			want: []ActionKind{ActEscalate}, check: func(t *testing.T, s State, acts []Action) {
				if acts[0].Target != "oncall:it:secondary" || s.Open.EscalationStep != 1 {
					t.Errorf("acts %+v", acts)
				}
			}},
		{name: "steps: two due together", policy: &steps, state: State{Failures: 2, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, EscalationStep: 1}},
			at: 45 * time.Minute, want: []ActionKind{ActEscalate, ActEscalate}, check: func(t *testing.T, s State, acts []Action) {
				if acts[0].Target != "bob" || acts[1].Target != "channel:mgmt" || acts[1].Step != 3 || s.Open.EscalationStep != 3 {
					t.Errorf("acts %+v", acts)
				}
			}},
		{name: "steps: acked", policy: &steps, state: State{Failures: 2, Open: &Incident{ID: 7, PostedAt: t0, LastUpdate: t0, Acked: true}}, at: 20 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := pol
			if tt.policy != nil {
				p = *tt.policy
			}
			before := tt.state.clone()
			s, acts := Step(tt.state, tt.res, t0.Add(tt.at), p)
			if got := kinds(acts); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("actions %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(before, tt.state) {
				t.Errorf("Step changed its input")
			}
			if tt.check != nil {
				tt.check(t, s, acts)
			}
		})
	}
}
