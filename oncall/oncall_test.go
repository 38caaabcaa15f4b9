package oncall

import (
	"testing"
	"time"

	"opsbot/clock"
	"opsbot/config"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestLocalInstant: a hand-off at a local time that does not exist (clocks
// jump forward over it) happens at the first valid instant after it; one
// that happens twice (clocks go back) at its first occurrence. Go's
// time.Date picks either side in both cases, differently per zone.
func TestLocalInstant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone string
		y          int
		m          time.Month
		d, h, min  int
		want       string
	}{
		{"berlin plain", "Europe/Berlin", 2026, 3, 28, 2, 30, "2026-03-28T01:30:00Z"},
		{"berlin gap 02:30 -> 03:00 CEST", "Europe/Berlin", 2026, 3, 29, 2, 30, "2026-03-29T01:00:00Z"},
		{"berlin gap start 02:00", "Europe/Berlin", 2026, 3, 29, 2, 0, "2026-03-29T01:00:00Z"},
		{"berlin after the gap", "Europe/Berlin", 2026, 3, 29, 3, 30, "2026-03-29T01:30:00Z"},
		{"berlin overlap: first, CEST", "Europe/Berlin", 2026, 10, 25, 2, 30, "2026-10-25T00:30:00Z"},
		{"berlin day after", "Europe/Berlin", 2026, 10, 26, 2, 30, "2026-10-26T01:30:00Z"},
		{"new york gap 02:30 -> 03:00 EDT", "America/New_York", 2026, 3, 8, 2, 30, "2026-03-08T07:00:00Z"},
		{"new york overlap: first, EDT", "America/New_York", 2026, 11, 1, 1, 30, "2026-11-01T05:30:00Z"},
		{"new york plain", "America/New_York", 2026, 11, 2, 1, 30, "2026-11-02T06:30:00Z"},
		{"utc", "UTC", 2026, 3, 29, 2, 30, "2026-03-29T02:30:00Z"},
	}
	for _, tt := range tests {
		got := LocalInstant(tt.y, tt.m, tt.d, tt.h, tt.min, zone(t, tt.zone))
		if !got.Equal(utc(tt.want)) {
			t.Errorf("%s: %s", tt.name, got.UTC().Format(time.RFC3339))
		}
	}
}

func rotation(t *testing.T, r config.Rotation) *Rotation {
	t.Helper()
	rot, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	return rot
}

var abc = []config.Layer{{Name: "primary", Members: []string{"a", "b", "c"}}, {Name: "secondary", Members: []string{"c", "a", "b"}}}

// TestAt: who is on call at an instant, across DST changes, with
// overrides and inactive people.
func TestAt(t *testing.T) {
	t.Parallel()
	// Daily at 02:30 in Berlin from 1 March: the 29th of March has no
	// 02:30 (hand-off at 03:00 CEST), the 25th of October two (the first).
	berlin := rotation(t, config.Rotation{Handoff: "daily", At: "02:30", Timezone: "Europe/Berlin", Start: "2026-03-01", Layers: abc})
	// Weekly on Sunday at 02:30 in New York from Sunday 1 March: the 8th
	// of March has no 02:30 (hand-off at 03:00 EDT).
	ny := rotation(t, config.Rotation{Handoff: "weekly", Day: "sun", At: "02:30", Timezone: "America/New_York", Start: "2026-03-01", Layers: abc})
	// Weekly on Monday at 09:00 from Wednesday 7 January: the first shift
	// starts on Monday the 12th.
	mon := rotation(t, config.Rotation{Handoff: "weekly", Day: "mon", At: "09:00", Timezone: "UTC", Start: "2026-01-07", Layers: abc})
	ov := []Override{
		{Layer: "primary", Person: "x", From: utc("2026-03-10T00:00:00Z"), To: utc("2026-03-12T00:00:00Z")},
		{Layer: "primary", Person: "y", From: utc("2026-03-11T00:00:00Z"), To: utc("2026-03-11T12:00:00Z")},
	}
	noA := func(p string) bool { return p != "a" }
	nobody := func(string) bool { return false }
	tests := []struct {
		name       string
		rot        *Rotation
		layer      string
		at         string
		ov         []Override
		active     Active
		want       string
		start, end string
	}{
		{"first shift", berlin, "primary", "2026-03-01T12:00:00Z", nil, nil, "a", "2026-03-01T01:30:00Z", "2026-03-02T01:30:00Z"},
		{"secondary", berlin, "secondary", "2026-03-01T12:00:00Z", nil, nil, "c", "", ""},
		{"before the gap day's hand-off", berlin, "primary", "2026-03-29T00:59:59Z", nil, nil, "a", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z"},
		{"gap day: hand-off at 03:00 CEST", berlin, "primary", "2026-03-29T01:00:00Z", nil, nil, "b", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		{"overlap day: before the first 02:30", berlin, "primary", "2026-10-25T00:29:00Z", nil, nil, "a", "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z"},
		{"overlap day: at the first 02:30", berlin, "primary", "2026-10-25T00:30:00Z", nil, nil, "b", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"overlap day: the second 02:30 hands off nothing", berlin, "primary", "2026-10-25T01:31:00Z", nil, nil, "b", "", ""},
		{"before the first shift", berlin, "primary", "2026-02-28T12:00:00Z", nil, nil, "c", "", ""},
		{"ny week 0 at its end", ny, "primary", "2026-03-08T06:59:59Z", nil, nil, "a", "2026-03-01T07:30:00Z", "2026-03-08T07:00:00Z"},
		{"ny week 1 from 03:00 EDT", ny, "primary", "2026-03-08T07:00:00Z", nil, nil, "b", "2026-03-08T07:00:00Z", "2026-03-15T06:30:00Z"},
		{"ny week 2, midweek", ny, "primary", "2026-03-18T12:00:00Z", nil, nil, "c", "2026-03-15T06:30:00Z", "2026-03-22T06:30:00Z"},
		{"ny week 3 wraps round", ny, "primary", "2026-03-22T06:30:00Z", nil, nil, "a", "", ""},
		{"start moves to the hand-off day", mon, "primary", "2026-01-12T09:00:00Z", nil, nil, "a", "2026-01-12T09:00:00Z", "2026-01-19T09:00:00Z"},
		{"start: before it", mon, "primary", "2026-01-12T08:59:00Z", nil, nil, "c", "", ""},
		{"override", ny, "primary", "2026-03-10T06:00:00Z", ov, nil, "x", "2026-03-10T00:00:00Z", "2026-03-12T00:00:00Z"},
		{"the later override wins", ny, "primary", "2026-03-11T06:00:00Z", ov, nil, "y", "2026-03-11T00:00:00Z", "2026-03-11T12:00:00Z"},
		{"override ended", ny, "primary", "2026-03-12T00:00:00Z", ov, nil, "b", "", ""},
		{"override of another layer", ny, "secondary", "2026-03-11T06:00:00Z", ov, nil, "a", "", ""},
		{"inactive skipped for the next", ny, "primary", "2026-03-01T12:00:00Z", nil, noA, "b", "", ""},
		{"inactive override ignored", ny, "primary", "2026-03-10T06:00:00Z", ov, func(p string) bool { return p != "x" }, "b", "", ""},
		{"nobody active: a gap", ny, "primary", "2026-03-01T12:00:00Z", nil, nobody, "", "", ""},
		{"unknown layer: a gap", ny, "tertiary", "2026-03-01T12:00:00Z", nil, nil, "", "", ""},
	}
	for _, tt := range tests {
		s := tt.rot.At(tt.layer, utc(tt.at), tt.ov, tt.active)
		if s.Person != tt.want {
			t.Errorf("%s: %q on call, want %q", tt.name, s.Person, tt.want)
		}
		if tt.start != "" && (!s.Start.Equal(utc(tt.start)) || !s.End.Equal(utc(tt.end))) {
			t.Errorf("%s: shift %s to %s, want %s to %s", tt.name, s.Start.UTC().Format(time.RFC3339), s.End.UTC().Format(time.RFC3339), tt.start, tt.end)
		}
	}
}

// TestHandoffsAcrossAutumn walks a fake clock from hand-off to hand-off
// over the end of summer time: the shifts are 24 hours but the one that
// holds the extra hour, and every hand-off is at 09:00 local time.
func TestHandoffsAcrossAutumn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		zone string
		long string // the local date of the 25-hour shift's start
	}{{"Europe/Berlin", "2026-10-24"}, {"America/New_York", "2026-10-31"}} {
		rot := rotation(t, config.Rotation{Handoff: "daily", At: "09:00", Timezone: tt.zone, Start: "2026-10-01", Layers: abc})
		loc := zone(t, tt.zone)
		fc := clock.NewFake(LocalInstant(2026, 10, 20, 9, 0, loc))
		var who []string
		for range 14 {
			now := fc.Now()
			next := rot.NextHandoff(now)
			if l := next.In(loc); l.Hour() != 9 || l.Minute() != 0 {
				t.Errorf("%s: hand-off at %s", tt.zone, l)
			}
			want := 24 * time.Hour
			if now.In(loc).Format(time.DateOnly) == tt.long {
				want = 25 * time.Hour
			}
			if got := next.Sub(now); got != want {
				t.Errorf("%s: shift from %s lasts %s, want %s", tt.zone, now.In(loc), got, want)
			}
			who = append(who, rot.At("primary", now, nil, nil).Person)
			fc.Set(next)
		}
		// 20 October is day 19 of the rotation: 19 % 3 = 1, b.
		if got := concat(who); got != "bcabcabcabcabc" {
			t.Errorf("%s: %s", tt.zone, got)
		}
	}
}

func concat(s []string) string {
	out := ""
	for _, p := range s {
		out += p
	}
	return out
}
