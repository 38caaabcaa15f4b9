package tickets

import (
	"fmt"
	"slices"
	"time"

	"opsbot/config"
)

// Hours is a working week in one time zone, in which SLA clocks run. A nil
// *Hours is round the clock.
type Hours struct {
	start, end int // minutes after midnight, local time
	days       [7]bool
	loc        *time.Location
}

// NewHours builds the calendar of a business_hours config; nil config
// means round the clock.
func NewHours(c *config.BusinessHours) (*Hours, error) {
	if c == nil {
		return nil, nil
	}
	h := &Hours{}
	var err error
	if h.start, err = minutes(c.Start); err != nil {
		return nil, fmt.Errorf("tickets.business_hours.start: %w", err)
	}
	if h.end, err = minutes(c.End); err != nil {
		return nil, fmt.Errorf("tickets.business_hours.end: %w", err)
	}
	if h.end <= h.start {
		return nil, fmt.Errorf("tickets.business_hours.end must be after start")
	}
	tz := c.Timezone
	if tz == "" {
		tz = "UTC"
	}
	if h.loc, err = time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("tickets.business_hours.timezone: %w", err)
	}
	for _, d := range c.Days {
		i := slices.Index(config.Weekdays, d)
		if i < 0 {
			return nil, fmt.Errorf("tickets.business_hours.days: unknown day %q", d)
		}
		h.days[(i+1)%7] = true // config.Weekdays starts on Monday, time.Weekday on Sunday
	}
	if !slices.Contains(h.days[:], true) {
		return nil, fmt.Errorf("tickets.business_hours.days: no working day")
	}
	return h, nil
}

func minutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Add returns the moment d of working time after t, in UTC. Time outside
// working hours does not count; a d of zero or less returns t unchanged.
// Opening and closing are local wall-clock times, so days on which daylight
// saving time changes still open and close at the stated hours.
func (h *Hours) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t.UTC()
	}
	if h == nil {
		return t.Add(d).UTC()
	}
	cur := t.In(h.loc)
	for {
		y, m, day := cur.Date()
		if h.days[cur.Weekday()] {
			open := time.Date(y, m, day, h.start/60, h.start%60, 0, 0, h.loc)
			closing := time.Date(y, m, day, h.end/60, h.end%60, 0, 0, h.loc)
			if cur.Before(open) {
				cur = open
			}
			if cur.Before(closing) {
				left := closing.Sub(cur)
				if d <= left {
					return cur.Add(d).UTC()
				}
				d -= left
			}
		}
		cur = time.Date(y, m, day+1, 0, 0, 0, 0, h.loc)
	}
}

// Location is the zone times are shown in: the business hours' zone, or UTC.
func (h *Hours) Location() *time.Location {
	if h == nil {
		return time.UTC
	}
	return h.loc
}
