package shell

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
)

func testPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{G: 180, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWriteImagesStaysInItsFolder: hostile names land inside the folder
// under safe names, and nothing already there is overwritten.
func TestWriteImagesStaysInItsFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "pictures")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Someone's file, with the name a picture will ask for.
	mine := filepath.Join(dir, "uptime.png")
	if err := os.WriteFile(mine, []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := testPNG(t)
	imgs := []bot.Image{
		{Name: "uptime.png", Title: "Uptime", Type: "image/png", Data: data},
		{Name: "../escape.png", Title: "Escape", Type: "image/png", Data: data},
		{Name: "/etc/cron.d/evil", Title: "Absolute", Type: "image/png", Data: data},
		{Name: "..", Title: "Dots", Type: "image/png", Data: data},
		{Name: ".bashrc", Title: "Hidden", Type: "image/png", Data: data},
	}
	paths, err := WriteImages(dir, imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"uptime-2.png", "escape.png", "evil.png", "image-4.png", "bashrc.png"}
	for i, p := range paths {
		if filepath.Dir(p) != dir || filepath.Base(p) != want[i] {
			t.Errorf("picture %d (%q) written to %s, want %s in %s", i, imgs[i].Name, p, want[i], dir)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("picture %d: %v", i, err)
		}
	}
	if b, _ := os.ReadFile(mine); string(b) != "not yours" {
		t.Fatalf("an existing file was overwritten: %q", b)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Fatalf("something was written outside the folder: %v", entries)
	}
	// The same pictures again: new numbered files.
	again, err := WriteImages(dir, imgs[:1])
	if err != nil || filepath.Base(again[0]) != "uptime-3.png" {
		t.Fatalf("second run: %v %v", again, err)
	}
}

// TestWriteImagesRefusesALinkedFolder: a folder that is a link (as someone
// else could plant in a shared temporary directory) is refused.
func TestWriteImagesRefusesALinkedFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	target := filepath.Join(root, "elsewhere")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "opsbot-images")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if _, err := WriteImages(link, []bot.Image{{Name: "a.png", Type: "image/png", Data: testPNG(t)}}); err == nil || !strings.Contains(err.Error(), "--images DIR") {
		t.Fatalf("a linked folder was used: %v", err)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Fatalf("written through the link: %v", entries)
	}
}

// TestShellPrintsPicturePaths: a reply with pictures prints where each one
// was written, and a notification with pictures too.
func TestShellPrintsPicturePaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	data := testPNG(t)
	r, err := bot.NewRouter(bot.NewDirectory(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now, bot.Command{
		Name: "chart", Summary: "a chart",
		Subs: []bot.Sub{{Run: func(context.Context, *bot.Request) (bot.Reply, error) {
			return bot.Reply{Title: "Digest", Images: []bot.Image{{Name: "uptime.png", Title: "Uptime, week 48", Type: "image/png", Data: data}}}, nil
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a := &Adapter{Router: r, Out: &out, Images: dir}
	if err := a.Run(context.Background(), strings.NewReader("/chart\n")); err != nil {
		t.Fatal(err)
	}
	want := "Digest\n  picture: " + filepath.Join(dir, "uptime.png") + " (Uptime, week 48)\n"
	if out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
	out.Reset()
	s := &Sender{Out: &out, Images: dir}
	if _, err := s.Post(context.Background(), bot.Target{Name: "#ops"}, bot.Outgoing{Reply: bot.Reply{Title: "Weekly digest",
		Images: []bot.Image{{Name: "uptime.png", Title: "Uptime", Type: "image/png", Data: data}}}}); err != nil {
		t.Fatal(err)
	}
	if want := "→ #ops: Weekly digest\n  picture: " + filepath.Join(dir, "uptime-2.png") + " (Uptime)\n"; out.String() != want {
		t.Fatalf("notification printed %q, want %q", out.String(), want)
	}
	// An unwritable folder says so and the shell carries on.
	out.Reset()
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a.Images = filepath.Join(blocker, "sub")
	if err := a.Run(context.Background(), strings.NewReader("/chart\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "✖ 1 of 1 pictures not saved") {
		t.Fatalf("printed %q", out.String())
	}
}
