// Package report computes the ops digest: for a period and, optionally, one
// team, the uptime of each check (worst first), incidents with their mean
// times to acknowledge and resolve, tickets opened and resolved with SLA
// compliance by priority, access requests and grants, and backup freshness,
// each compared with the period before. The database does the counting
// (GROUP BY and CASE sums), so a digest over a hundred thousand tickets
// reads a few hundred rows. It also draws the digest's three charts (see
// chart) and words it as a bot.Reply, for /report, the scheduled reports
// and the status page alike.
package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The periods a digest covers. Each ends at the start of today (midnight
// in the report's time zone), so a digest does not change through the day
// and two replicas computing it agree.
const (
	Day   = "day"   // yesterday
	Week  = "week"  // the 7 days before today
	Month = "month" // the 30 days before today
)

// Periods lists the period names, shortest first.
var Periods = []string{Day, Week, Month}

// days is each period's length in days.
var days = map[string]int{Day: 1, Week: 7, Month: 30}

// Period is a span of whole local days, [Start, End).
type Period struct {
	Name       string
	Start, End time.Time
}

// NewPeriod is the period called name that ends at the start of the day of
// now in loc.
func NewPeriod(name string, now time.Time, loc *time.Location) (Period, error) {
	n, ok := days[name]
	if !ok {
		return Period{}, fmt.Errorf("unknown period %q (use %s)", name, strings.Join(Periods, ", "))
	}
	if loc == nil {
		loc = time.UTC
	}
	t := now.In(loc)
	end := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return Period{Name: name, Start: end.AddDate(0, 0, -n), End: end}, nil
}

// Prev is the period of the same number of days just before p.
func (p Period) Prev() Period {
	n := days[p.Name]
	return Period{Name: p.Name, Start: p.Start.AddDate(0, 0, -n), End: p.Start}
}

// Days returns the start of each day of p and, last, p.End: the
// boundaries of the daily buckets.
func (p Period) Days() []time.Time {
	var out []time.Time
	for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return append(out, p.End)
}

// Label names the period for people: "week 23 Feb – 1 Mar 2026".
func (p Period) Label() string {
	last := p.End.AddDate(0, 0, -1)
	if p.Name == Day {
		return "day " + last.Format("Mon 2 Jan 2006")
	}
	return fmt.Sprintf("%s %s – %s", p.Name, p.Start.Format("2 Jan"), last.Format("2 Jan 2006"))
}

// slots are the heat-strip's columns: their boundaries (one more than the
// labels) and labels, empty where no tick is drawn. A day has 24 hours, a
// week 28 quarters of a day, a month 30 days.
func (p Period) slots() (bounds []time.Time, labels []string) {
	ds := p.Days()
	for i, d := range ds[:len(ds)-1] {
		next := ds[i+1]
		switch p.Name {
		case Day:
			for h := d; h.Before(next); h = h.Add(time.Hour) {
				bounds = append(bounds, h)
				l := ""
				if h.Hour()%3 == 0 {
					l = h.Format("15:04")
				}
				labels = append(labels, l)
			}
		case Week:
			for k := 0; k < 4; k++ {
				bounds = append(bounds, d.Add(time.Duration(k)*6*time.Hour))
				l := ""
				if k == 0 {
					l = d.Format("Mon 2")
				}
				labels = append(labels, l)
			}
		default:
			bounds = append(bounds, d)
			labels = append(labels, d.Format("2 Jan"))
		}
	}
	return append(bounds, p.End), labels
}

// dayLabels names each day of p for the daily charts.
func (p Period) dayLabels() []string {
	ds := p.Days()
	out := make([]string, 0, len(ds)-1)
	for _, d := range ds[:len(ds)-1] {
		if p.Name == Month {
			out = append(out, d.Format("2 Jan"))
		} else {
			out = append(out, d.Format("Mon 2"))
		}
	}
	return out
}

// IsPeriod reports whether s names a period.
func IsPeriod(s string) bool { return slices.Contains(Periods, s) }
