package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakediscord"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testPNG is a small real PNG of w×h pixels in one colour.
func testPNG(t testing.TB, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func chartReply(t testing.TB) bot.Reply {
	return bot.Reply{Title: "Ops digest, week 48", Text: "Uptime 99.2%", Severity: bot.SeverityInfo, InChannel: true,
		Images: []bot.Image{
			{Name: "uptime.png", Title: "Uptime, week 48", Alt: "Heat strip of the 20 worst checks", Type: "image/png", Data: testPNG(t, 8, 4, color.RGBA{R: 200, A: 255})},
			{Name: "../../incidents.png", Title: "Incidents per day", Alt: "Bars: incidents per day", Type: "image/png", Data: testPNG(t, 6, 3, color.RGBA{B: 200, A: 255})},
		}}
}

// checkUpload checks a multipart call against the reply: one files[n] per
// picture with its bytes, the attachments list naming them, and embeds
// showing them by attachment://.
func checkUpload(t *testing.T, c fakediscord.Call, r bot.Reply) {
	t.Helper()
	if len(c.Files) != len(r.Images) {
		t.Fatalf("%s %s carried %d files, want %d", c.Method, c.Path, len(c.Files), len(r.Images))
	}
	names := bot.FileNames(r.Images)
	for i, f := range c.Files {
		if f.Index != i || f.Name != names[i] || !bytes.Equal(f.Data, r.Images[i].Data) || f.Type != "image/png" || f.Description != r.Images[i].Alt {
			t.Errorf("file %d: %+v (want %s)", i, f, names[i])
		}
	}
	var refs []string
	embeds, _ := c.Body["embeds"].([]any)
	for _, e := range embeds {
		if img, ok := e.(map[string]any)["image"].(map[string]any); ok {
			refs = append(refs, img["url"].(string))
		}
	}
	if strings.Join(refs, ",") != "attachment://uptime.png,attachment://incidents.png" {
		t.Errorf("embeds show %v", refs)
	}
}

func TestSenderPostsPicturesAsAttachments(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s := newSender(t, f.URL())
	ctx := context.Background()
	r := chartReply(t)
	msg := bot.Outgoing{Key: "report:week:48@discord", Reply: r}
	to := bot.Target{Platform: bot.Discord, Channel: channelID, Name: "#ops"}
	ref, err := s.Post(ctx, to, msg)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Wait(t)
	if c.Method != http.MethodPost || c.Path != "/channels/"+channelID+"/messages" || c.Body["nonce"] != Nonce(msg.Key) {
		t.Fatalf("post %s %s %s", c.Method, c.Path, c.Body)
	}
	checkUpload(t, c, r)
	// The marker is in the message with the pictures: a lost answer is
	// found, and nothing is uploaded twice.
	got, found, err := s.Find(ctx, to, msg.Key)
	if err != nil || !found || got != ref {
		t.Fatalf("Find: %+v %v %v", got, found, err)
	}
	msgs := f.Messages(channelID)
	if atts, _ := msgs[len(msgs)-1]["attachments"].([]any); len(atts) != 2 {
		t.Fatalf("stored message attachments %v", msgs[len(msgs)-1]["attachments"])
	}
	// An edit with pictures replaces the attachments.
	if err := s.Update(ctx, ref, bot.Outgoing{Key: "k2", Reply: r}); err != nil {
		t.Fatal(err)
	}
	f.Wait(t) // the Find
	if c := f.Wait(t); c.Method != http.MethodPatch {
		t.Fatalf("edit %s %s", c.Method, c.Path)
	} else {
		checkUpload(t, c, r)
	}
	if n := len(f.Files()); n != 4 {
		t.Fatalf("fake took %d files, want 4", n)
	}
}

func TestSenderRefusesWhatDiscordWould(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s := newSender(t, f.URL())
	to := bot.Target{Platform: bot.Discord, Channel: channelID, Name: "#ops"}
	many := bot.Reply{Title: "many"}
	for range MaxFiles + 1 {
		many.Images = append(many.Images, bot.Image{Name: "a.png", Title: "a", Type: "image/png", Data: []byte{1}})
	}
	big := bot.Reply{Title: "big", Images: []bot.Image{{Name: "big.png", Title: "big", Type: "image/png", Data: make([]byte, MaxUpload+1)}}}
	for _, r := range []bot.Reply{many, big} {
		_, err := s.Post(context.Background(), to, bot.Outgoing{Key: r.Title, Reply: r})
		if retry, _ := bot.RetryInfo(err); err == nil || retry {
			t.Errorf("%s: want a permanent error, got %v", r.Title, err)
		}
	}
	if calls := f.All(); len(calls) != 0 {
		t.Fatalf("a refused upload reached Discord: %d calls", len(calls))
	}
}

func TestFakeDiscordRefusesMalformedMultipart(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	png1 := testPNG(t, 2, 2, color.Black)
	cases := []struct {
		name    string
		payload any
		files   []upload
		want    int
	}{
		{"no payload_json", nil, []upload{{Name: "a.png", Type: "image/png", Data: png1}}, http.StatusBadRequest},
		{"attachment without its file", map[string]any{"content": "x", "attachments": []Attachment{{ID: "1", Filename: "a.png"}}},
			[]upload{{Name: "a.png", Type: "image/png", Data: png1}}, http.StatusBadRequest},
		{"file without attachment", map[string]any{"content": "x"}, []upload{{Name: "a.png", Type: "image/png", Data: png1}}, http.StatusBadRequest},
		{"name mismatch", map[string]any{"content": "x", "attachments": []Attachment{{ID: "0", Filename: "b.png"}}},
			[]upload{{Name: "a.png", Type: "image/png", Data: png1}}, http.StatusBadRequest},
		{"too large", map[string]any{"content": "x", "attachments": []Attachment{{ID: "0", Filename: "a.png"}}},
			[]upload{{Name: "a.png", Type: "image/png", Data: make([]byte, fakediscord.MaxUpload+1)}}, http.StatusRequestEntityTooLarge},
		{"well formed", map[string]any{"content": "x", "attachments": []Attachment{{ID: "0", Filename: "a.png", Description: "alt"}}},
			[]upload{{Name: "a.png", Type: "image/png", Data: png1}}, http.StatusOK},
	}
	for _, tc := range cases {
		var body []byte
		var ct string
		var err error
		if tc.payload == nil {
			// A body of files alone.
			body, ct, err = multipartBody(map[string]any{}, tc.files)
			body = bytes.Replace(body, []byte(`name="payload_json"`), []byte(`name="payload"`), 1)
		} else {
			body, ct, err = multipartBody(tc.payload, tc.files)
		}
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, f.URL()+"/channels/"+channelID+"/messages", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bot "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d %v, want %d", tc.name, resp.StatusCode, answer, tc.want)
		}
	}
	if n := len(f.Files()); n != 1 {
		t.Fatalf("fake took %d files, want only the well-formed one", n)
	}
}

func TestInteractionAnswerShowsPictures(t *testing.T) {
	t.Parallel()
	for _, public := range []bool{false, true} {
		r := chartReply(t)
		r.InChannel = public
		chart := bot.Command{Name: "chart", Summary: "Charts", Subs: []bot.Sub{{Run: func(context.Context, *bot.Request) (bot.Reply, error) {
			return r, nil
		}}}}
		e := newEnv(t, storagetest.Backends(t)[0], chart)
		// Quick as it is, an answer with pictures is deferred: the JSON
		// answer cannot carry files; the edit (or follow-up) does.
		resp := response(t, e.post(t, slashID("900000000000000001", aliceID, "chart"), e.Clock.Now(), e.priv))
		if resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource {
			t.Fatalf("want deferred type 5, got %+v", resp)
		}
		c := e.fake.Wait(t)
		hook := "/webhooks/" + testApp + "/itoken-abc"
		if public {
			if c.Method != http.MethodPost || c.Path != hook {
				t.Fatalf("public answer: %s %s", c.Method, c.Path)
			}
			checkUpload(t, c, r)
			if o := e.fake.Wait(t); o.Method != http.MethodPatch || len(o.Files) != 0 {
				t.Fatalf("then the original: %s %s with %d files", o.Method, o.Path, len(o.Files))
			}
		} else {
			if c.Method != http.MethodPatch || c.Path != hook+"/messages/@original" {
				t.Fatalf("personal answer: %s %s", c.Method, c.Path)
			}
			checkUpload(t, c, r)
		}
		e.adapter.wg.Wait()
	}
}

// TestPicturesSurviveOutageAndLostAnswer: the outbox carries a reply's
// pictures through a Discord outage (HTTP 503, then a lost answer after
// Discord took the message, past its nonce window); once Discord answers,
// the message and its two files are there exactly once.
func TestPicturesSurviveOutageAndLostAnswer(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			fake := fakediscord.New(t, testToken)
			fake.SetClock(clk.Now)
			cfg := &config.Config{Channels: map[string]config.Channel{"ops": {Discord: channelID}}}
			cfg.Discord.Enabled = true
			store := storagetest.Open(t, b)
			ob := notify.New(cfg, bot.NewDirectory(nil), clk)
			r := chartReply(t)
			if err := store.Tx(context.Background(), func(tx *gorm.DB) error {
				return ob.Enqueue(tx, notify.Notification{Key: "report:week:48", To: notify.Destination{Channel: "ops"}, Reply: r})
			}); err != nil {
				t.Fatal(err)
			}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			sender := NewSender(config.DiscordConfig{Token: config.Secret(testToken), APIURL: fake.URL()}, store, clk, quiet, Options{})
			n, err := notify.NewNotifier(store, clk, quiet, nil, config.OutboxConfig{Workers: 1, MaxBackoff: config.Duration(time.Second)},
				map[bot.Platform]bot.Sender{bot.Discord: sender})
			if err != nil {
				t.Fatal(err)
			}
			drain := func(rounds int, step time.Duration) storage.OutboxMessage {
				var m storage.OutboxMessage
				for range rounds {
					if _, err := n.Drain(context.Background()); err != nil {
						t.Fatal(err)
					}
					if m, err = store.OutboxByKey(context.Background(), "report:week:48@discord"); err != nil {
						t.Fatal(err)
					}
					if m.State != storage.OutboxPending {
						break
					}
					clk.Advance(step)
				}
				return m
			}
			fake.Status(http.StatusServiceUnavailable)
			if m := drain(3, time.Second); m.State != storage.OutboxPending || m.Attempts < 2 {
				t.Fatalf("during the outage: %s after %d attempts", m.State, m.Attempts)
			}
			fake.Status(0)
			fake.Lose(1)
			// Each retry comes after Discord forgot the nonce: only the
			// marker can tell the message is there.
			if m := drain(10, 3*fakediscord.DefaultNonceWindow); m.State != storage.OutboxSent {
				t.Fatalf("after the outage: %s %q", m.State, m.LastError)
			}
			if got := fake.Posts()[Nonce("report:week:48@discord")]; got != 1 {
				t.Errorf("Discord has the message %d times", got)
			}
			files := fake.Files()
			if len(files) != 2 || !bytes.Equal(files[0].Data, r.Images[0].Data) || !bytes.Equal(files[1].Data, r.Images[1].Data) {
				t.Fatalf("Discord has %d files, want the 2 pictures once", len(files))
			}
		})
	}
}

// BenchmarkDiscordPost posts a digest's words alone and with three 64 KiB
// pictures (multipart) to the fake Discord on loopback
// (go test -bench DiscordPost -run ^$ ./bot/discord/).
func BenchmarkDiscordPost(b *testing.B) {
	var imgs []bot.Image
	for i, name := range []string{"uptime.png", "incidents.png", "backlog.png"} {
		data := make([]byte, 64<<10)
		x := uint32(i + 1)
		for j := range data {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			data[j] = byte(x)
		}
		imgs = append(imgs, bot.Image{Name: name, Title: name, Alt: "a chart", Type: "image/png", Data: data})
	}
	for _, tc := range []struct {
		name   string
		images []bot.Image
	}{{"words", nil}, {"3x64KiB", imgs}} {
		b.Run(tc.name, func(b *testing.B) {
			fake := fakediscord.New(b, testToken)
			store := storagetest.Open(b, storagetest.Backends(b)[0])
			s := NewSender(config.DiscordConfig{Token: config.Secret(testToken), APIURL: fake.URL()}, store,
				clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), slog.New(slog.DiscardHandler), Options{})
			to := bot.Target{Platform: bot.Discord, Channel: channelID, Name: "#ops"}
			r := bot.Reply{Title: "Ops digest", Text: "Uptime 99.2%", Images: tc.images}
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Post(context.Background(), to, bot.Outgoing{Key: "k" + strconv.Itoa(i), Reply: r}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPicturesDocExample keeps docs/pictures/discord-request.json, the
// multipart request that carries a digest with two pictures to Discord,
// true to the code (go test ./bot/discord -run TestPicturesDocExample -update).
func TestPicturesDocExample(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	s := newSender(t, f.URL())
	r := chartReply(t)
	r.Fields = []bot.Field{{Name: "Uptime", Value: "99.2%", Short: true}, {Name: "Incidents", Value: "3 (MTTR 42m)", Short: true}}
	if _, err := s.Post(context.Background(), bot.Target{Platform: bot.Discord, Channel: channelID, Name: "#ops"},
		bot.Outgoing{Key: "report:week:48", Reply: r}); err != nil {
		t.Fatal(err)
	}
	c := f.Wait(t)
	var parts []map[string]any
	for _, fl := range c.Files {
		parts = append(parts, map[string]any{"part": "files[" + strconv.Itoa(fl.Index) + "]", "filename": fl.Name,
			"content_type": fl.Type, "bytes": len(fl.Data)})
	}
	doc := map[string]any{"request": c.Method + " /api/v10" + c.Path, "content_type": "multipart/form-data",
		"payload_json": c.Body, "file_parts": parts}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := "../../docs/pictures/discord-request.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the code sends (run go test ./bot/discord -run TestPicturesDocExample -update): %v\n%s", path, err, got)
	}
}
