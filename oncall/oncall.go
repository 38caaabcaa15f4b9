// Package oncall works out who is on call: a team's rotation hands each
// layer's shift from member to member daily or weekly at a local time in a
// time zone, stored overrides win over the rotation, and people who are not
// active drop out. It is pure: callers pass the time, the overrides and who
// is active.
package oncall

import (
	"fmt"
	"time"

	"opsbot/config"
)

// Rotation is a team's parsed rotation.
type Rotation struct {
	weekly bool
	day    time.Weekday
	hour   int
	minute int
	loc    *time.Location
	// anchor is the local date (at UTC midnight) of the first shift.
	anchor time.Time
	layers []config.Layer
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// New parses a validated rotation.
func New(r config.Rotation) (*Rotation, error) {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return nil, fmt.Errorf("rotation timezone: %w", err)
	}
	at, err := time.Parse("15:04", r.At)
	if err != nil {
		return nil, fmt.Errorf("rotation at %q: %w", r.At, err)
	}
	start, err := time.Parse(time.DateOnly, r.Start)
	if err != nil {
		return nil, fmt.Errorf("rotation start %q: %w", r.Start, err)
	}
	rot := &Rotation{weekly: r.Handoff == config.HandoffWeekly, hour: at.Hour(), minute: at.Minute(), loc: loc,
		anchor: start, layers: r.Layers}
	if rot.weekly {
		d, ok := weekdays[r.Day]
		if !ok {
			return nil, fmt.Errorf("rotation day %q: not a day", r.Day)
		}
		rot.day = d
		// The first shift starts at the first hand-off day on or after start.
		for rot.anchor.Weekday() != d {
			rot.anchor = rot.anchor.AddDate(0, 0, 1)
		}
	} else if r.Handoff != config.HandoffDaily {
		return nil, fmt.Errorf("rotation handoff %q: want daily or weekly", r.Handoff)
	}
	if len(r.Layers) == 0 {
		return nil, fmt.Errorf("rotation has no layers")
	}
	return rot, nil
}

// Location is the rotation's time zone.
func (r *Rotation) Location() *time.Location { return r.loc }

// Layers names the rotation's layers in order; the first is the primary.
func (r *Rotation) Layers() []string {
	out := make([]string, len(r.layers))
	for i, l := range r.layers {
		out[i] = l.Name
	}
	return out
}

// Handoff is the instant of the hand-off on the local date of day (its
// year, month and day are read, the rest ignored). A local time that does
// not exist on that date (clocks jump forward over it) hands off at the
// first valid instant after it; one that happens twice (clocks go back)
// hands off at its first occurrence.
func (r *Rotation) Handoff(day time.Time) time.Time {
	return LocalInstant(day.Year(), day.Month(), day.Day(), r.hour, r.minute, r.loc)
}

// LocalInstant is the instant the wall clock in loc first shows the given
// date and time, or, if it never does (a DST gap), the first instant after.
func LocalInstant(y int, m time.Month, d, hour, minute int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, hour, minute, 0, 0, loc)
	if t.Hour() != hour || t.Minute() != minute || t.Day() != d {
		// A gap: Go picked a wall time on either side of it; the first
		// valid instant after the missing time is the transition itself.
		start, end := t.ZoneBounds()
		if !start.IsZero() && t.Sub(start) <= 24*time.Hour {
			return start
		}
		return end
	}
	// An overlap: Go may have picked the second occurrence; the first is
	// an offset difference earlier, in the zone before the transition.
	start, _ := t.ZoneBounds()
	if start.IsZero() || t.Sub(start) > 24*time.Hour {
		return t
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, now := t.Zone()
	if before > now {
		first := t.Add(-time.Duration(before-now) * time.Second)
		if f := first.In(loc); f.Hour() == hour && f.Minute() == minute && f.Day() == d {
			return first
		}
	}
	return t
}

// date is t's local date in the rotation's zone, at UTC midnight, so that
// dates differ by whole days of 24 hours.
func (r *Rotation) date(t time.Time) time.Time {
	l := t.In(r.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// Shift is who holds one layer's shift and when it starts and ends.
type Shift struct {
	Layer  string
	Person string // "" when nobody is on call: a gap
	Start  time.Time
	End    time.Time
	// Override is set when a stored override, not the rotation, put
	// Person on call.
	Override bool
}

// slot returns the number of the rotation's shift that holds t (0 is the
// first shift at start; earlier shifts are negative) and its bounds.
func (r *Rotation) slot(t time.Time) (n int, start, end time.Time) {
	period := 1
	if r.weekly {
		period = 7
	}
	d := r.date(t)
	if r.weekly {
		d = d.AddDate(0, 0, -((int(d.Weekday()) - int(r.day) + 7) % 7))
	}
	if r.Handoff(d).After(t) {
		d = d.AddDate(0, 0, -period)
	}
	days := int(d.Sub(r.anchor).Hours() / 24)
	return floorDiv(days, period), r.Handoff(d), r.Handoff(d.AddDate(0, 0, period))
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Override puts Person on call for Layer from From until To.
type Override struct {
	Layer    string
	Person   string
	From, To time.Time
}

// Active reports whether a person may be on call; nil means everyone is.
// (People offboarded in the database drop out of every rotation here.)
type Active func(person string) bool

// At returns who holds the layer's shift at t: the last of overrides that
// covers t, else the rotation's member for the shift, skipping people who
// are not active in favour of the next in the layer's order. Person is ""
// when the layer does not exist or nobody in it is active.
func (r *Rotation) At(layer string, t time.Time, overrides []Override, active Active) Shift {
	n, start, end := r.slot(t)
	s := Shift{Layer: layer, Start: start, End: end}
	for i := len(overrides) - 1; i >= 0; i-- {
		o := overrides[i]
		if o.Layer == layer && !t.Before(o.From) && t.Before(o.To) && (active == nil || active(o.Person)) {
			s.Person, s.Override = o.Person, true
			s.Start, s.End = maxTime(start, o.From), minTime(end, o.To)
			return s
		}
	}
	var members []string
	for _, l := range r.layers {
		if l.Name == layer {
			members = l.Members
		}
	}
	for i := range members {
		m := members[((n+i)%len(members)+len(members))%len(members)]
		if active == nil || active(m) {
			s.Person = m
			break
		}
	}
	return s
}

// NextHandoff is the first hand-off after t.
func (r *Rotation) NextHandoff(t time.Time) time.Time {
	_, _, end := r.slot(t)
	return end
}

// ShiftStart is the start of the rotation's shift that holds t.
func (r *Rotation) ShiftStart(t time.Time) time.Time {
	_, start, _ := r.slot(t)
	return start
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
