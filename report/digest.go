package report

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/chart"
	"opsbot/clock"
	"opsbot/config"
)

// Digest is one period's figures for one scope.
type Digest struct {
	Period Period
	Team   string
	// At is when it was computed: backup freshness is as of then.
	At        time.Time
	Checks    []CheckUptime
	Incidents Incidents
	Tickets   Tickets
	Access    Access
	Backups   []Backup
	// heat is the heat-strip's slots and the worst checks' cells.
	heatLabels []string
	heatCells  [][]float64
}

// Compute reads the digest of period p for team (empty: everything) from
// db, as of now.
func Compute(ctx context.Context, db *gorm.DB, cfg *config.Config, p Period, team string, now time.Time) (*Digest, error) {
	s := ScopeOf(cfg, team)
	d := &Digest{Period: p, Team: team, At: now}
	var err error
	if d.Checks, err = uptimes(ctx, db, s, p); err != nil {
		return nil, err
	}
	bounds, labels := p.slots()
	worst := make([]string, 0, chart.MaxHeatRows)
	for _, c := range d.Checks[:min(len(d.Checks), chart.MaxHeatRows)] {
		worst = append(worst, c.Name)
	}
	d.heatLabels = labels
	if d.heatCells, err = heat(ctx, db, worst, bounds); err != nil {
		return nil, err
	}
	if d.Incidents, err = incidents(ctx, db, s, p); err != nil {
		return nil, err
	}
	if d.Tickets, err = tickets(ctx, db, cfg, s, p); err != nil {
		return nil, err
	}
	if d.Access, err = access(ctx, db, s, p); err != nil {
		return nil, err
	}
	if d.Backups, err = backups(ctx, db, s, now); err != nil {
		return nil, err
	}
	return d, nil
}

// Overall is the uptime of all the digest's checks' runs together.
func (d *Digest) Overall() (cur, prev Ratio) {
	for _, c := range d.Checks {
		cur.Runs += c.Cur.Runs
		cur.OK += c.Cur.OK
		prev.Runs += c.Prev.Runs
		prev.OK += c.Prev.OK
	}
	return cur, prev
}

// Charts are the digest's names: each picture's kind, as in
// /report/week.png?chart=uptime.
var Charts = []string{"uptime", "incidents", "backlog"}

// scopeLabel is " (team it)" or "".
func (d *Digest) scopeLabel() string {
	if d.Team == "" {
		return ""
	}
	return " (team " + d.Team + ")"
}

// Chart draws one of Charts as PNG.
func (d *Digest) Chart(name string) (bot.Image, error) {
	when := d.Period.Label() + d.scopeLabel()
	img := bot.Image{Name: name + "-" + d.Period.Name + ".png", Type: "image/png"}
	var err error
	switch name {
	case "uptime":
		h := chart.Heat{Title: "Uptime of the worst checks — " + when, Columns: d.heatLabels}
		for i, c := range d.Checks[:len(d.heatCells)] {
			h.Rows = append(h.Rows, chart.HeatRow{Name: c.Name, Cells: d.heatCells[i]})
		}
		img.Title = "Uptime — " + when
		img.Alt = d.uptimeAlt()
		img.Data, err = chart.HeatStrip(h)
	case "incidents":
		s := chart.Series{Title: "Incidents opened per day — " + when, YLabel: "incidents", Labels: d.Period.dayLabels()}
		for _, n := range d.Incidents.PerDay {
			s.Values = append(s.Values, float64(n))
		}
		img.Title = "Incidents per day — " + when
		img.Alt = "Bar chart of incidents opened per day: " + perDay(s.Labels, d.Incidents.PerDay) + "."
		img.Data, err = chart.Bars(s)
	case "backlog":
		s := chart.Series{Title: "Open tickets at each day's end — " + when, YLabel: "open tickets", Labels: d.Period.dayLabels()}
		for _, n := range d.Tickets.Backlog {
			s.Values = append(s.Values, float64(n))
		}
		img.Title = "Ticket backlog — " + when
		img.Alt = "Line chart of open tickets at the end of each day: " + perDay(s.Labels, d.Tickets.Backlog) + "."
		img.Data, err = chart.Area(s)
	default:
		return bot.Image{}, fmt.Errorf("unknown chart %q (use %s)", name, strings.Join(Charts, ", "))
	}
	if err != nil {
		return bot.Image{}, err
	}
	return img, nil
}

func perDay(labels []string, ns []int64) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprintf("%s %d", labels[i], n)
	}
	return strings.Join(parts, ", ")
}

func (d *Digest) uptimeAlt() string {
	if len(d.heatCells) == 0 {
		return "Heat-strip of check uptime: no check ran in this period."
	}
	var worst []string
	for _, c := range d.Checks[:min(5, len(d.Checks))] {
		worst = append(worst, fmt.Sprintf("%s %s", c.Name, pct(c.Cur.Uptime())))
	}
	return fmt.Sprintf("Heat-strip of uptime for the %d worst of %d checks, one row each, one column per %s, blue for 99.9%% or more through red for under 90%%. Worst: %s.",
		len(d.heatCells), len(d.Checks), map[string]string{Day: "hour", Week: "6 hours", Month: "day"}[d.Period.Name], strings.Join(worst, ", "))
}

// Images draws the three charts.
func (d *Digest) Images() ([]bot.Image, error) {
	out := make([]bot.Image, 0, len(Charts))
	for _, c := range Charts {
		img, err := d.Chart(c)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// Reply words the digest (it reads without the pictures) and carries the
// three charts.
func (d *Digest) Reply() (bot.Reply, error) {
	r := bot.Reply{Title: "Ops digest — " + d.Period.Label() + d.scopeLabel(), Severity: bot.SeverityInfo,
		Text: "Compared with the " + d.Period.Name + " before. Times in " + d.Period.End.Location().String() + "."}
	r.Fields = []bot.Field{
		{Name: "Uptime", Value: d.uptimeText()},
		{Name: "Incidents", Value: d.incidentText()},
		{Name: "Tickets", Value: d.ticketText()},
		{Name: "Access", Value: d.accessText()},
		{Name: "Backups", Value: d.backupText()},
	}
	imgs, err := d.Images()
	if err != nil {
		return bot.Reply{}, err
	}
	r.Images = imgs
	r.Footer = "Charts: uptime heat-strip of the worst checks, incidents per day, ticket backlog."
	return r, nil
}

func pct(u float64) string {
	if math.IsNaN(u) {
		return "no runs"
	}
	// Floor, not round: 99.96% is not 100%.
	return fmt.Sprintf("%.2f%%", math.Floor(u*10000)/100)
}

// ptDelta is " (▲0.30 pt)" between two uptimes.
func ptDelta(cur, prev float64) string { return " (" + ptChange(cur, prev) + ")" }

// ptChange is "▲0.30 pt": the change between two ratios in percentage
// points.
func ptChange(cur, prev float64) string {
	if math.IsNaN(prev) || math.IsNaN(cur) {
		return "no runs before"
	}
	d := (cur - prev) * 100
	switch {
	case math.Abs(d) < 0.005:
		return "= same"
	case d > 0:
		return fmt.Sprintf("▲%.2f pt", d)
	default:
		return fmt.Sprintf("▼%.2f pt", -d)
	}
}

// delta is " (▲3)" between two counts.
func delta(c Count) string {
	switch {
	case c.Cur == c.Prev:
		return " (= same)"
	case c.Cur > c.Prev:
		return fmt.Sprintf(" (▲%d)", c.Cur-c.Prev)
	default:
		return fmt.Sprintf(" (▼%d)", c.Prev-c.Cur)
	}
}

func (d *Digest) uptimeText() string {
	if len(d.Checks) == 0 {
		return "No check ran in this period."
	}
	cur, prev := d.Overall()
	s := fmt.Sprintf("%s over %d checks%s.", pct(cur.Uptime()), len(d.Checks), ptDelta(cur.Uptime(), prev.Uptime()))
	var worst []string
	for _, c := range d.Checks[:min(5, len(d.Checks))] {
		worst = append(worst, fmt.Sprintf("%s %s%s", c.Name, pct(c.Cur.Uptime()), ptDelta(c.Cur.Uptime(), c.Prev.Uptime())))
	}
	return s + "\nWorst: " + strings.Join(worst, "; ") + "."
}

func meanText(m Mean) string {
	if m.N == 0 {
		return "none"
	}
	s := clock.Span(m.Cur)
	switch {
	case m.PrevN == 0:
		return s + " (none before)"
	case m.Cur == m.Prev:
		return s + " (= same)"
	case m.Cur > m.Prev:
		return s + " (▲" + clock.Span(m.Cur-m.Prev) + ")"
	default:
		return s + " (▼" + clock.Span(m.Prev-m.Cur) + ")"
	}
}

func (d *Digest) incidentText() string {
	in := d.Incidents
	return fmt.Sprintf("%d opened%s. Mean time to acknowledge %s, to resolve %s.",
		in.Opened.Cur, delta(in.Opened), meanText(in.MTTA), meanText(in.MTTR))
}

func (d *Digest) ticketText() string {
	t := d.Tickets
	s := fmt.Sprintf("%d opened%s, %d resolved%s", t.Opened.Cur, delta(t.Opened), t.Resolved.Cur, delta(t.Resolved))
	if n := len(t.Backlog); n > 0 {
		s += fmt.Sprintf(", %d open at the end", t.Backlog[n-1])
	}
	s += "."
	var sla []string
	for _, x := range t.SLA {
		if x.Resolved == 0 && x.PrevResolved == 0 {
			continue
		}
		var line string
		switch {
		case x.Resolved == 0:
			line = fmt.Sprintf("%s none resolved (%d of %d before)", x.Priority, x.PrevMet, x.PrevResolved)
		case x.PrevResolved == 0:
			line = fmt.Sprintf("%s %d of %d (%.0f%%, none before)", x.Priority, x.Met, x.Resolved, math.Floor(100*float64(x.Met)/float64(x.Resolved)))
		default:
			c := float64(x.Met) / float64(x.Resolved)
			line = fmt.Sprintf("%s %d of %d (%.0f%%, %s)", x.Priority, x.Met, x.Resolved, math.Floor(c*100),
				ptChange(c, float64(x.PrevMet)/float64(x.PrevResolved)))
		}
		sla = append(sla, line)
	}
	if len(sla) > 0 {
		s += "\nSLA met, by priority: " + strings.Join(sla, "; ") + "."
	} else if len(t.SLA) > 0 {
		s += "\nNo ticket with an SLA was resolved."
	}
	return s
}

func (d *Digest) accessText() string {
	a := d.Access
	return fmt.Sprintf("%d requested%s, %d granted%s, %d denied%s, %d expired undecided%s.",
		a.Requested.Cur, delta(a.Requested), a.Granted.Cur, delta(a.Granted), a.Denied.Cur, delta(a.Denied), a.Expired.Cur, delta(a.Expired))
}

func (d *Digest) backupText() string {
	if len(d.Backups) == 0 {
		return "No backup job."
	}
	var stale, untargeted []string
	targeted := 0
	for _, b := range d.Backups {
		last := "never succeeded"
		if !b.LastSuccess.IsZero() {
			last = "last success " + clock.Ago(d.At, b.LastSuccess)
		}
		switch {
		case b.Target == 0:
			untargeted = append(untargeted, b.Job+" ("+last+")")
		case b.Stale:
			targeted++
			stale = append(stale, fmt.Sprintf("%s (%s, target %s)", b.Job, last, config.Duration(b.Target)))
		default:
			targeted++
		}
	}
	var parts []string
	if targeted > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d jobs fresh.", targeted-len(stale), targeted))
	}
	if len(stale) > 0 {
		parts = append(parts, "Stale: "+strings.Join(stale, "; ")+".")
	}
	if len(untargeted) > 0 {
		parts = append(parts, "Without a freshness target: "+strings.Join(untargeted, "; ")+".")
	}
	return strings.Join(parts, " ")
}
