// Package chart draws the ops digest's pictures as PNG: an uptime heat-strip,
// bars (incidents per day) and an area line (ticket backlog). It is pure: data
// in, bytes out, no I/O. The fonts are the Liberation fonts that gonum/plot
// embeds, so the same data gives the same pixels on any machine without
// system fonts.
//
// Every chart is a light card (its own white background with a thin
// border), 1200 pixels wide with large type, so it reads on a phone and
// stands out on a dark chat theme as well as a light one. Colours come from
// colour-blind-safe palettes (ColorBrewer's RdBu, Okabe–Ito).
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Width is every chart's width in pixels.
const Width = 1200

// dpi makes one point 4/3 pixels: 1200 px is 900 pt.
const dpi = 96

// MaxHeatRows is how many checks the heat-strip shows at most.
const MaxHeatRows = 20

// Colours. The card is white with a grey border; text is near black.
var (
	cardColor   = color.RGBA{0xff, 0xff, 0xff, 0xff}
	borderColor = color.RGBA{0xc8, 0xcd, 0xd3, 0xff}
	inkColor    = color.RGBA{0x1f, 0x23, 0x28, 0xff}
	mutedColor  = color.RGBA{0x57, 0x60, 0x6a, 0xff}
	gridColor   = color.RGBA{0xe4, 0xe7, 0xeb, 0xff}
	// barColor and lineColor are Okabe–Ito blue and vermillion.
	barColor  = color.RGBA{0x00, 0x72, 0xb2, 0xff}
	lineColor = color.RGBA{0xd5, 0x5e, 0x00, 0xff}
	areaColor = color.NRGBA{0xd5, 0x5e, 0x00, 0x48}
	noData    = color.RGBA{0xd9, 0xd9, 0xd9, 0xff}
)

// uptimeSteps colour an uptime, best first: ColorBrewer RdBu, which reads
// for every common kind of colour blindness.
var uptimeSteps = []struct {
	min   float64
	label string
	c     color.RGBA
}{
	{0.999, "≥ 99.9%", color.RGBA{0x21, 0x66, 0xac, 0xff}},
	{0.99, "≥ 99%", color.RGBA{0x67, 0xa9, 0xcf, 0xff}},
	{0.95, "≥ 95%", color.RGBA{0xf4, 0xa5, 0x82, 0xff}},
	{0.90, "≥ 90%", color.RGBA{0xd6, 0x60, 0x4d, 0xff}},
	{0, "< 90%", color.RGBA{0xb2, 0x18, 0x2b, 0xff}},
}

// UptimeColor is the colour of an uptime between 0 and 1 (NaN: no runs).
func UptimeColor(u float64) color.RGBA {
	if math.IsNaN(u) {
		return noData
	}
	for _, s := range uptimeSteps {
		if u >= s.min {
			return s.c
		}
	}
	return uptimeSteps[len(uptimeSteps)-1].c
}

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func style(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sans, size), XAlign: draw.XLeft, YAlign: draw.YBottom,
		Handler: plot.DefaultTextHandler}
}

// HeatRow is one check's row: its uptime in each column, 0 to 1, NaN where
// it did not run.
type HeatRow struct {
	Name  string
	Cells []float64
}

// Heat is the data of the uptime heat-strip.
type Heat struct {
	Title string
	// Columns label the cells (an hour, a day); an empty label draws no
	// tick.
	Columns []string
	// Rows are the checks, top first (worst first); at most MaxHeatRows
	// are drawn.
	Rows []HeatRow
}

// Series is the data of a bar or area chart: one value per label.
type Series struct {
	Title  string
	YLabel string
	Labels []string
	Values []float64
}

// card is a canvas with the card's background and border drawn.
func card(hpx int) (*vgimg.Canvas, draw.Canvas) {
	w := vg.Length(Width) * vg.Inch / dpi
	h := vg.Length(hpx) * vg.Inch / dpi
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(cardColor))
	dc := draw.New(c)
	dc.SetColor(borderColor)
	dc.SetLineWidth(3)
	var p vg.Path
	p.Move(vg.Point{X: 1.5, Y: 1.5})
	p.Line(vg.Point{X: w - 1.5, Y: 1.5})
	p.Line(vg.Point{X: w - 1.5, Y: h - 1.5})
	p.Line(vg.Point{X: 1.5, Y: h - 1.5})
	p.Close()
	dc.Stroke(p)
	return c, draw.Crop(dc, 18, -18, 12, -12)
}

func encode(c *vgimg.Canvas) ([]byte, error) {
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	return b.Bytes(), nil
}

// newPlot is a plot with the house style: large type, muted axes, light
// grid lines.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = color.Transparent
	p.Title.Text = title
	p.Title.TextStyle = style(24, inkColor)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = 14
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle = style(16, mutedColor)
		a.Tick.Label = style(15, inkColor)
		a.Tick.Label.XAlign, a.Tick.Label.YAlign = draw.XCenter, draw.YTop
		a.Color = mutedColor
		a.Tick.Color = mutedColor
		a.LineStyle.Width = 1.5
	}
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	return p
}

// message draws a centred line where a chart has nothing to show.
func message(dc draw.Canvas, s string) {
	st := style(20, mutedColor)
	st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
	dc.FillText(st, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: (dc.Min.Y + dc.Max.Y) / 2}, s)
}

// short cuts a name to n runes for a label.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// labelTicks puts labels[i] at x = i+offset, skipping empty labels and
// thinning them to at most max.
func labelTicks(labels []string, offset float64, max int) plot.ConstantTicks {
	step := 1
	n := 0
	for _, l := range labels {
		if l != "" {
			n++
		}
	}
	if n > max {
		step = (n + max - 1) / max
	}
	var ts []plot.Tick
	k := 0
	for i, l := range labels {
		if l == "" {
			continue
		}
		if k%step == 0 {
			ts = append(ts, plot.Tick{Value: float64(i) + offset, Label: l})
		}
		k++
	}
	return ts
}

// HeatStrip draws the uptime heat-strip: one row per check (the first
// MaxHeatRows), one cell per column, coloured by uptime, with a legend.
func HeatStrip(h Heat) ([]byte, error) {
	rows := h.Rows
	if len(rows) > MaxHeatRows {
		rows = rows[:MaxHeatRows]
	}
	for _, r := range rows {
		if len(r.Cells) != len(h.Columns) {
			return nil, fmt.Errorf("heat-strip row %q has %d cells for %d columns", r.Name, len(r.Cells), len(h.Columns))
		}
	}
	hpx := 260 + 38*max(len(rows), 4)
	c, dc := card(hpx)
	legendH := vg.Length(40)
	area := draw.Crop(dc, 0, 0, legendH, 0)
	p := newPlot(h.Title)
	if len(rows) == 0 || len(h.Columns) == 0 {
		st := p.Title.TextStyle
		st.YAlign = draw.YTop
		dc.FillText(st, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, h.Title)
		message(area, "No check ran in this period.")
		return encode(c)
	}
	n := len(rows)
	names := make([]plot.Tick, n)
	for i, r := range rows {
		names[i] = plot.Tick{Value: float64(n-1-i) + 0.5, Label: short(r.Name, 26)}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(names)
	p.Y.Tick.Length, p.Y.Width = 0, 0
	p.Y.Tick.Label = style(15, inkColor)
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	// A label marks where its slot starts: midnight, 03:00.
	p.X.Tick.Marker = labelTicks(h.Columns, 0, 12)
	p.X.Padding, p.Y.Padding = 0, 0
	p.Add(heatPlotter{rows: rows, m: len(h.Columns)})
	p.Draw(area)
	heatLegend(dc, dc.Min.Y+4)
	return encode(c)
}

type heatPlotter struct {
	rows []HeatRow
	m    int
}

func (hp heatPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, float64(hp.m), 0, float64(len(hp.rows))
}

func (hp heatPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(hp.rows)
	gap := vg.Length(1.5)
	if hp.m > 60 {
		gap = 0.5
	}
	for i, r := range hp.rows {
		y0, y1 := trY(float64(n-1-i))+2, trY(float64(n-i))-2
		for j, u := range r.Cells {
			x0, x1 := trX(float64(j))+gap/2, trX(float64(j+1))-gap/2
			c.FillPolygon(UptimeColor(u), []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		}
	}
}

// heatLegend draws the colour steps on one line at y.
func heatLegend(dc draw.Canvas, y vg.Length) {
	st := style(14, inkColor)
	st.YAlign = draw.YCenter
	x := dc.Min.X + 8
	box := vg.Length(16)
	item := func(c color.Color, label string) {
		dc.FillPolygon(c, []vg.Point{{X: x, Y: y}, {X: x + box, Y: y}, {X: x + box, Y: y + box}, {X: x, Y: y + box}})
		dc.FillText(st, vg.Point{X: x + box + 6, Y: y + box/2}, label)
		x += box + 6 + st.Width(label) + 22
	}
	for _, s := range uptimeSteps {
		item(s.c, s.label)
	}
	item(noData, "no runs")
}

// Bars draws one bar per label (incidents per day), with its value above
// it.
func Bars(s Series) ([]byte, error) {
	if err := check(s); err != nil {
		return nil, err
	}
	c, dc := card(600)
	p := newPlot(s.Title)
	p.Y.Label.Text = s.YLabel
	if len(s.Values) == 0 {
		p.HideAxes()
		p.Draw(dc)
		message(dc, "Nothing in this period.")
		return encode(c)
	}
	vals := plotter.Values(s.Values)
	w := vg.Length(760) / vg.Length(len(vals)) * 0.7
	b, err := plotter.NewBarChart(vals, w)
	if err != nil {
		return nil, fmt.Errorf("bars: %w", err)
	}
	b.Color = barColor
	b.LineStyle.Width = 0
	p.Add(grid())
	p.Add(b)
	p.X.Tick.Marker = labelTicks(s.Labels, 0, 12)
	p.X.Tick.Length = 0
	p.X.Padding = 0
	p.X.Min, p.X.Max = -0.5, float64(len(vals))-0.5
	p.Y.Min = 0
	p.Y.Max = niceMax(s.Values)
	p.Y.Tick.Marker = intTicks{}
	if len(vals) <= 31 {
		lbl, err := valueLabels(s.Values)
		if err != nil {
			return nil, err
		}
		p.Add(lbl)
	}
	p.Draw(dc)
	return encode(c)
}

// Area draws a line with the area below it filled (the ticket backlog at
// each day's end).
func Area(s Series) ([]byte, error) {
	if err := check(s); err != nil {
		return nil, err
	}
	c, dc := card(600)
	p := newPlot(s.Title)
	p.Y.Label.Text = s.YLabel
	if len(s.Values) == 0 {
		p.HideAxes()
		p.Draw(dc)
		message(dc, "Nothing in this period.")
		return encode(c)
	}
	pts := make(plotter.XYs, len(s.Values))
	for i, v := range s.Values {
		pts[i] = plotter.XY{X: float64(i), Y: v}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, fmt.Errorf("area: %w", err)
	}
	l.Color = lineColor
	l.Width = 4
	l.FillColor = areaColor
	dots, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, fmt.Errorf("area: %w", err)
	}
	dots.Color = lineColor
	dots.Shape = draw.CircleGlyph{}
	dots.Radius = 5
	p.Add(grid())
	p.Add(l, dots)
	p.X.Tick.Marker = labelTicks(s.Labels, 0, 12)
	p.X.Padding = 14
	p.Y.Min = 0
	p.Y.Max = niceMax(s.Values)
	p.Y.Tick.Marker = intTicks{}
	p.Draw(dc)
	return encode(c)
}

// grid is a light grid of horizontal lines only.
func grid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = gridColor
	g.Horizontal.Width = 1.5
	g.Horizontal.Dashes = nil
	return g
}

func check(s Series) error {
	if len(s.Labels) != len(s.Values) {
		return fmt.Errorf("chart %q has %d labels for %d values", s.Title, len(s.Labels), len(s.Values))
	}
	for _, v := range s.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return errors.New("chart values must be finite and not negative")
		}
	}
	return nil
}

// niceMax is the top of a count axis: a little above the largest value,
// at least 4 so a quiet week does not look dramatic.
func niceMax(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		m = math.Max(m, v)
	}
	if m < 4 {
		return 4
	}
	return math.Ceil(m * 1.15)
}

// intTicks labels a count axis with about five whole numbers.
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000} {
		step = s
		if span/s <= 6 {
			break
		}
	}
	if span/step > 6 {
		step = math.Ceil(span / 6)
	}
	var ts []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
	}
	return ts
}

// valueLabels writes each bar's value above it.
func valueLabels(vs []float64) (*plotter.Labels, error) {
	xys := make(plotter.XYs, len(vs))
	labels := make([]string, len(vs))
	for i, v := range vs {
		xys[i] = plotter.XY{X: float64(i), Y: v}
		labels[i] = fmt.Sprintf("%.0f", v)
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("bar labels: %w", err)
	}
	for i := range l.TextStyle {
		l.TextStyle[i] = style(15, inkColor)
		l.TextStyle[i].XAlign = draw.XCenter
	}
	l.Offset = vg.Point{Y: 4}
	return l, nil
}
