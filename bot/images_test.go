package bot

import (
	"strings"
	"testing"
)

func TestFileNamesAreSafeAndUnique(t *testing.T) {
	t.Parallel()
	imgs := []Image{
		{Name: "uptime-week.png", Type: "image/png"},
		{Name: "../../etc/passwd", Type: "image/png"},
		{Name: `..\..\boot.ini`, Type: "image/png"},
		{Name: "/abs/chart.png", Type: "image/png"},
		{Name: "chart.png", Type: "image/png"},
		{Name: "", Type: "image/png"},
		{Name: "..", Type: "image/png"},
		{Name: ".hidden", Type: "image/png"},
		{Name: "résumé <b>&\x00.png", Type: "image/png"},
		{Name: "photo.jpeg", Type: "image/jpeg"},
		{Name: "evil.sh", Type: "image/png"},
		{Name: "CHART.PNG", Type: "image/png"},
		{Name: strings.Repeat("a", 300) + ".png", Type: "image/png"},
		{Name: "image-6.png", Type: "image/png"},
	}
	got := FileNames(imgs)
	want := []string{"uptime-week.png", "passwd.png", "boot-ini.png", "chart.png", "chart-2.png", "image-6.png",
		"image-7.png", "hidden.png", "rsum-b.png", "photo.jpeg", "evil-sh.png", "CHART-3.png"}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("FileNames[%d] (%q) = %q, want %q", i, imgs[i].Name, got[i], w)
		}
	}
	seen := map[string]bool{}
	for i, n := range got {
		if strings.ContainsAny(n, `/\`) || strings.HasPrefix(n, ".") || n == "" || len(n) > maxFileName {
			t.Errorf("FileNames[%d] = %q: not a safe name", i, n)
		}
		if seen[strings.ToLower(n)] {
			t.Errorf("FileNames[%d] = %q: used twice", i, n)
		}
		seen[strings.ToLower(n)] = true
	}
	if got[13] == "image-6.png" {
		t.Errorf("a chosen name clashing with a fallback name was not made unique: %v", got)
	}
}
