package statuspage

import (
	"fmt"
	"strings"
)

// Sparkline size in SVG user units; the page scales it with CSS.
const (
	sparkW = 120
	sparkH = 28
	sparkM = 2 // margin so the line's stroke is not clipped
)

// sparkline is a check's latency chart, drawn as SVG by the template.
type sparkline struct {
	// Path is the latency line; buckets without runs leave gaps.
	Path string
	// Fails marks the x positions of buckets with failed runs.
	Fails []float64
	// Label describes the chart for screen readers and as a tooltip.
	Label string
	// Empty is true without any run in the last 24 hours.
	Empty bool
}

// newSparkline scales the buckets' mean latencies to the chart: x by
// bucket, y from 0 ms at the bottom to the largest mean at the top.
func newSparkline(buckets []Bucket) sparkline {
	var maxMS, minMS int64 = 0, -1
	for _, b := range buckets {
		if b.AvgLatencyMS == nil {
			continue
		}
		maxMS = max(maxMS, *b.AvgLatencyMS)
		if minMS < 0 || *b.AvgLatencyMS < minMS {
			minMS = *b.AvgLatencyMS
		}
	}
	if minMS < 0 {
		return sparkline{Empty: true, Label: "no runs in the last 24 hours"}
	}
	n := len(buckets)
	x := func(i int) float64 {
		if n == 1 {
			return sparkW / 2
		}
		return sparkM + float64(i)*float64(sparkW-2*sparkM)/float64(n-1)
	}
	y := func(ms int64) float64 {
		if maxMS == 0 {
			return sparkH - sparkM
		}
		return sparkH - sparkM - float64(ms)*float64(sparkH-2*sparkM)/float64(maxMS)
	}
	var p strings.Builder
	var s sparkline
	pen := false
	for i, b := range buckets {
		if b.Failures > 0 {
			s.Fails = append(s.Fails, round(x(i)))
		}
		if b.AvgLatencyMS == nil {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
			// A lone point between gaps still shows as a short dash.
			if i+1 >= n || buckets[i+1].AvgLatencyMS == nil {
				fmt.Fprintf(&p, "M%g,%gh1", round(x(i))-0.5, round(y(*b.AvgLatencyMS)))
				continue
			}
		}
		fmt.Fprintf(&p, "%s%g,%g", cmd, round(x(i)), round(y(*b.AvgLatencyMS)))
		pen = true
	}
	s.Path = p.String()
	s.Label = fmt.Sprintf("latency over 24 hours: %d to %d ms", minMS, maxMS)
	return s
}

// round keeps one decimal, so the SVG stays short and golden files stable.
func round(f float64) float64 {
	if f < 0 {
		return -round(-f)
	}
	return float64(int64(f*10+0.5)) / 10
}
