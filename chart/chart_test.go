package chart

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata")

// Golden comparison: font rasterisation may differ by a shade at glyph
// edges across platforms and library versions, so a pixel counts as
// different only beyond tolerance (per channel, of 255), and the image
// passes while at most maxDiff of its pixels differ.
const (
	tolerance = 48
	maxDiff   = 0.005
)

// fixedHeat is a week of 4-hour columns for 22 checks (two more than drawn).
func fixedHeat() Heat {
	h := Heat{Title: "Uptime, 20 worst checks — week to Mon 2 Mar"}
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	for d := 0; d < 7; d++ {
		for k := 0; k < 6; k++ {
			l := ""
			if k == 0 {
				l = days[d]
			}
			h.Columns = append(h.Columns, l)
		}
	}
	for i := 0; i < 22; i++ {
		r := HeatRow{Name: fmt.Sprintf("check-%02d.example.internal", i)}
		if i == 3 {
			r.Name = "a-very-long-check-name-that-does-not-fit-on-one-label"
		}
		for j := range h.Columns {
			u := 1 - float64((i*7+j*3)%11)*float64(20-min(i, 20))/2000
			if i == 5 && j < 6 {
				u = math.NaN()
			}
			r.Cells = append(r.Cells, u)
		}
		h.Rows = append(h.Rows, r)
	}
	return h
}

func fixedSeries(title string) Series {
	s := Series{Title: title, YLabel: "count"}
	for i, v := range []float64{3, 0, 7, 12, 5, 1, 2} {
		s.Labels = append(s.Labels, fmt.Sprintf("%d Mar", 23+i))
		s.Values = append(s.Values, v)
	}
	return s
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		draw func() ([]byte, error)
	}{
		{"heat", func() ([]byte, error) { return HeatStrip(fixedHeat()) }},
		{"heat-empty", func() ([]byte, error) { return HeatStrip(Heat{Title: "Uptime, 20 worst checks"}) }},
		{"bars", func() ([]byte, error) { return Bars(fixedSeries("Incidents per day")) }},
		{"area", func() ([]byte, error) { return Area(fixedSeries("Open tickets at each day's end")) }},
		{"area-empty", func() ([]byte, error) { return Area(Series{Title: "Open tickets at each day's end"}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.draw()
			if err != nil {
				t.Fatal(err)
			}
			again, err := c.draw()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Error("two renderings of the same data differ")
			}
			path := filepath.Join("testdata", c.name+".png")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./chart -update to write it)", err)
			}
			if err := Similar(got, want, tolerance, maxDiff); err != nil {
				_ = os.WriteFile(filepath.Join(t.TempDir(), c.name+".png"), got, 0o644)
				t.Errorf("%s differs from its golden image: %v (rerun with -update if the change is meant)", c.name, err)
			}
		})
	}
}

// Similar reports whether two PNGs have the same size and differ in at
// most maxFrac of their pixels by more than tol in some channel.
func Similar(a, b []byte, tol int, maxFrac float64) error {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		return fmt.Errorf("decode got: %w", err)
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("decode want: %w", err)
	}
	if ia.Bounds() != ib.Bounds() {
		return fmt.Errorf("size %v, want %v", ia.Bounds().Size(), ib.Bounds().Size())
	}
	diff := 0
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if far(ia, ib, x, y, tol) {
				diff++
			}
		}
	}
	if frac := float64(diff) / float64(r.Dx()*r.Dy()); frac > maxFrac {
		return fmt.Errorf("%d pixels (%.2f%%) differ by more than %d, at most %.2f%% may", diff, 100*frac, tol, 100*maxFrac)
	}
	return nil
}

func far(a, b image.Image, x, y, tol int) bool {
	r1, g1, b1, a1 := a.At(x, y).RGBA()
	r2, g2, b2, a2 := b.At(x, y).RGBA()
	for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8), int(a1>>8) - int(a2>>8)} {
		if d > tol || -d > tol {
			return true
		}
	}
	return false
}

// TestSimilarFails proves the comparison catches a real change: the bars
// with one value changed are not similar to the original.
func TestSimilarFails(t *testing.T) {
	t.Parallel()
	a, err := Bars(fixedSeries("Incidents per day"))
	if err != nil {
		t.Fatal(err)
	}
	s := fixedSeries("Incidents per day")
	s.Values[3] = 2
	b, err := Bars(s)
	if err != nil {
		t.Fatal(err)
	}
	if Similar(a, b, tolerance, maxDiff) == nil {
		t.Error("a chart with a different bar passes as similar")
	}
	if err := Similar(a, a, tolerance, maxDiff); err != nil {
		t.Error(err)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	if _, err := Bars(Series{Labels: []string{"a"}, Values: []float64{math.NaN()}}); err == nil {
		t.Error("NaN value accepted")
	}
	if _, err := Area(Series{Labels: []string{"a"}, Values: []float64{1, 2}}); err == nil {
		t.Error("labels and values of different lengths accepted")
	}
	if _, err := HeatStrip(Heat{Columns: []string{"a"}, Rows: []HeatRow{{Name: "x", Cells: []float64{1, 1}}}}); err == nil {
		t.Error("row with too many cells accepted")
	}
}

func TestUptimeColor(t *testing.T) {
	t.Parallel()
	if UptimeColor(1) == UptimeColor(0.5) || UptimeColor(math.NaN()) != noData {
		t.Error("uptime colours do not tell good from bad, or no data from data")
	}
}
