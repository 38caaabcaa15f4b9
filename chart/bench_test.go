package chart

import "testing"

// BenchmarkCharts times drawing each chart from the golden tests' data and
// reports its PNG size: go test ./chart -run '^$' -bench Charts.
func BenchmarkCharts(b *testing.B) {
	for _, c := range []struct {
		name string
		draw func() ([]byte, error)
	}{
		{"heat-20x42", func() ([]byte, error) { return HeatStrip(fixedHeat()) }},
		{"bars-7", func() ([]byte, error) { return Bars(fixedSeries("Incidents per day")) }},
		{"area-7", func() ([]byte, error) { return Area(fixedSeries("Open tickets at each day's end")) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				png, err := c.draw()
				if err != nil {
					b.Fatal(err)
				}
				n = len(png)
			}
			b.ReportMetric(float64(n), "png-bytes")
		})
	}
}
