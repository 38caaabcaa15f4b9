package checks

import "time"

// Policy is what the incident state machine needs to know about a check.
type Policy struct {
	// Failures in a row open an incident; Successes in a row resolve it.
	Failures  int
	Successes int
	// RemindEvery is how often an open, unacknowledged or acknowledged
	// incident's post is edited to say it is still failing.
	RemindEvery time.Duration
	// FlapWindow: failing again within this time of a resolution reopens
	// the resolved incident (one post edited, at most one "reopened" reply
	// per window) instead of posting a new incident.
	FlapWindow time.Duration
	// EscalateAfter and EscalateTo: every EscalateAfter that an incident
	// stays unacknowledged notifies the next target, once each.
	EscalateAfter time.Duration
	EscalateTo    []string
	// EscalateAt, when set, holds for each of EscalateTo how long after the
	// incident was posted it is due (a team's escalation steps), instead of
	// EscalateAfter times its position; every target due is notified at
	// once.
	EscalateAt []time.Duration
}

// due is how long after posting the i-th (from 0) escalation target is
// notified, and whether it ever is.
func (p Policy) due(i int) (time.Duration, bool) {
	if i >= len(p.EscalateTo) {
		return 0, false
	}
	if p.EscalateAt != nil {
		if i >= len(p.EscalateAt) {
			return 0, false
		}
		return p.EscalateAt[i], true
	}
	return time.Duration(i+1) * p.EscalateAfter, p.EscalateAfter > 0
}

// Incident is the state machine's view of one incident.
type Incident struct {
	ID int64
	// PostedAt is when it was opened or last reopened: escalation counts
	// from here.
	PostedAt time.Time
	// LastUpdate is when its post last said something new (opened,
	// reopened, reminder).
	LastUpdate time.Time
	Acked      bool
	// EscalationStep is how many of EscalateTo were notified.
	EscalationStep int
	// ResolvedAt is set once it is resolved.
	ResolvedAt time.Time
}

// State is what the machine remembers about one check between steps.
type State struct {
	Failures     int
	Successes    int
	FailingSince time.Time
	// Open is the unresolved incident, nil when none.
	Open *Incident
	// Last is the most recently resolved incident, for flap damping.
	Last *Incident
	// Silenced is true while the check is silenced or in a maintenance
	// window: no incident opens, nothing reminds or escalates.
	Silenced bool
}

// ActionKind names what the caller must do after a step.
type ActionKind string

// The actions the state machine asks for.
const (
	// ActOpen: create an incident and post it.
	ActOpen ActionKind = "open"
	// ActReopen: reopen State.Open (the incident that resolved within the
	// flap window) and edit its post.
	ActReopen ActionKind = "reopen"
	// ActResolve: resolve the incident and edit its post.
	ActResolve ActionKind = "resolve"
	// ActRemind: edit the post to say it is still failing.
	ActRemind ActionKind = "remind"
	// ActEscalate: notify Target, the Step-th escalation target.
	ActEscalate ActionKind = "escalate"
)

// Action is one thing to do; the caller does all of them in the same
// transaction as the new state.
type Action struct {
	Kind ActionKind
	// IncidentID is the incident acted on (0 for ActOpen: it is new).
	IncidentID int64
	// Step and Target are set for ActEscalate (Step counts from 1).
	Step   int
	Target string
}

// Step is the incident state machine: given the state, the result of a run
// (nil when only time has passed), the time and the policy, it returns the
// new state and the actions to take. It is pure: no I/O, no clock.
func Step(s State, r *Result, now time.Time, p Policy) (State, []Action) {
	s = s.clone()
	var acts []Action
	if p.Failures < 1 {
		p.Failures = 1
	}
	if p.Successes < 1 {
		p.Successes = 1
	}
	fresh := false
	if r != nil {
		if r.OK {
			s.Failures = 0
			s.FailingSince = time.Time{}
			// Saturate, so a healthy check's state stops changing.
			s.Successes = min(s.Successes+1, p.Successes)
			if s.Open != nil && s.Successes >= p.Successes {
				acts = append(acts, Action{Kind: ActResolve, IncidentID: s.Open.ID})
				s.Open.ResolvedAt = now
				s.Last, s.Open = s.Open, nil
			}
		} else {
			s.Successes = 0
			if s.Failures == 0 || s.FailingSince.IsZero() {
				s.FailingSince = now
			}
			s.Failures++
			if s.Open == nil && s.Failures >= p.Failures && !s.Silenced {
				fresh = true
				if s.Last != nil && !s.Last.ResolvedAt.IsZero() && now.Sub(s.Last.ResolvedAt) < p.FlapWindow {
					in := *s.Last
					in.ResolvedAt, in.Acked, in.EscalationStep = time.Time{}, false, 0
					in.PostedAt, in.LastUpdate = now, now
					s.Open, s.Last = &in, nil
					acts = append(acts, Action{Kind: ActReopen, IncidentID: in.ID})
				} else {
					s.Open = &Incident{PostedAt: now, LastUpdate: now}
					acts = append(acts, Action{Kind: ActOpen})
				}
			}
		}
	}
	if s.Open == nil || s.Silenced || fresh {
		return s, acts
	}
	in := s.Open
	for !in.Acked {
		after, ok := p.due(in.EscalationStep)
		if !ok || now.Sub(in.PostedAt) < after {
			break
		}
		in.EscalationStep++
		acts = append(acts, Action{Kind: ActEscalate, IncidentID: in.ID, Step: in.EscalationStep,
			Target: p.EscalateTo[in.EscalationStep-1]})
		if p.EscalateAt == nil {
			break // one step per pass, EscalateAfter apart
		}
	}
	if p.RemindEvery > 0 && now.Sub(in.LastUpdate) >= p.RemindEvery {
		in.LastUpdate = now
		acts = append(acts, Action{Kind: ActRemind, IncidentID: in.ID})
	}
	return s, acts
}

// clone copies the incidents so a step never changes its input.
func (s State) clone() State {
	if s.Open != nil {
		o := *s.Open
		s.Open = &o
	}
	if s.Last != nil {
		l := *s.Last
		s.Last = &l
	}
	return s
}
