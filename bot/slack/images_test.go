package slack

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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakeslack"
	"opsbot/notify"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testPNG is a small real PNG of w×h pixels in one colour.
func testPNG(t testing.TB, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func digest(t testing.TB) bot.Reply {
	return bot.Reply{Title: "Ops digest, week 48", Text: "Uptime 99.2%, 3 incidents", Severity: bot.SeverityInfo, InChannel: true,
		Images: []bot.Image{
			{Name: "uptime.png", Title: "Uptime, week 48", Alt: "Heat strip of the 20 worst checks", Type: "image/png", Data: testPNG(t, 8, 4, color.RGBA{R: 200, A: 255})},
			{Name: "../incidents.png", Title: "Incidents per day, week 48", Alt: "Bars: incidents per day", Type: "image/png", Data: testPNG(t, 6, 3, color.RGBA{B: 200, A: 255})},
		}}
}

// checkShared checks that the fake holds each picture of r exactly once,
// with its bytes, title and alt text, shared in channel.
func checkShared(t *testing.T, fake *fakeslack.Server, r bot.Reply, channel string) {
	t.Helper()
	files := fake.Files()
	if len(files) != len(r.Images) {
		t.Fatalf("Slack shows %d files, want %d: %+v", len(files), len(r.Images), files)
	}
	names := bot.FileNames(r.Images)
	for i, img := range r.Images {
		f := files[i]
		if f.Name != names[i] || f.Title != img.Title || f.Alt != img.Alt || !bytes.Equal(f.Data, img.Data) || f.Channel != channel {
			t.Errorf("file %d: %s %q %q %d bytes in %s; want %s %q in %s", i, f.Name, f.Title, f.Alt, len(f.Data), f.Channel, names[i], img.Title, channel)
		}
	}
}

func TestSenderPostsPicturesWithExternalUpload(t *testing.T) {
	t.Parallel()
	fake, api := newFakeSlack(t)
	s := testSender(t, api, testToken, &logBuffer{})
	r := digest(t)
	to := bot.Target{Platform: bot.Slack, Channel: "C0HELP", Name: "#helpdesk"}
	ref, err := s.Post(context.Background(), to, bot.Outgoing{Key: "report:week@slack", Reply: r})
	if err != nil {
		t.Fatal(err)
	}
	// Step 1 for each picture, then the words, then one share.
	want := []string{"files.getUploadURLExternal", "files.getUploadURLExternal", "conversations.join", "chat.postMessage", "files.completeUploadExternal"}
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	checkShared(t, fake, r, "C0HELP")
	msgs := fake.Messages("C0HELP")
	if len(msgs) != 2 || msgs[0]["ts"] != ref.ID || msgs[1]["files"] == nil {
		t.Fatalf("want the words (%s) then the pictures: %v", ref.ID, msgs)
	}
	if !strings.Contains(fake.Forms()[0]["blocks"], "Uptime 99.2%") {
		t.Errorf("words: %v", fake.Forms()[0])
	}
	// In a thread, the pictures follow the words into it.
	thread := bot.Target{Platform: bot.Slack, Channel: "C0HELP", Thread: ref.ID, Name: "#helpdesk"}
	if _, err := s.Post(context.Background(), thread, bot.Outgoing{Key: "report:week:2@slack", Reply: r}); err != nil {
		t.Fatal(err)
	}
	if files := fake.Files(); len(files) != 4 || files[3].Thread != ref.ID {
		t.Fatalf("thread share: %+v", files[2:])
	}
}

// notifierEnv is a store with one message in its outbox and a notifier that
// sends it to the fake Slack.
type notifierEnv struct {
	store *storage.Store
	clock *clock.Fake
	n     *notify.Notifier
	key   string
}

func newNotifierEnv(t *testing.T, b storagetest.Backend, fake *fakeslack.Server, r bot.Reply) *notifierEnv {
	t.Helper()
	cfg := &config.Config{Channels: map[string]config.Channel{"helpdesk": {Slack: "C0HELP"}}}
	cfg.Slack.Enabled = true
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := storagetest.Open(t, b)
	ob := notify.New(cfg, bot.NewDirectory(nil), clk)
	if err := store.Tx(context.Background(), func(tx *gorm.DB) error {
		return ob.Enqueue(tx, notify.Notification{Key: "report:week:48", To: notify.Destination{Channel: "helpdesk"}, Reply: r})
	}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sender := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake.URL()}, quiet)
	n, err := notify.NewNotifier(store, clk, quiet, nil, config.OutboxConfig{Workers: 1, MaxBackoff: config.Duration(time.Second)},
		map[bot.Platform]bot.Sender{bot.Slack: sender})
	if err != nil {
		t.Fatal(err)
	}
	return &notifierEnv{store: store, clock: clk, n: n, key: "report:week:48@slack"}
}

// sentOnce drains until the message is sent (when says at what point of
// the test) and checks that Slack has its words once.
func (e *notifierEnv) sentOnce(t *testing.T, fake *fakeslack.Server, when string) {
	t.Helper()
	if m := e.drain(t, 10); m.State != storage.OutboxSent {
		t.Fatalf("%s: state %s %q, want sent", when, m.State, m.LastError)
	}
	if got := fake.Posts()[e.key]; got != 1 {
		t.Errorf("%s: the words arrived %d times", when, got)
	}
}

// drain runs the notifier until the message is no longer pending (or
// rounds run out), a second of fake time apart, and returns its row.
func (e *notifierEnv) drain(t *testing.T, rounds int) storage.OutboxMessage {
	t.Helper()
	var m storage.OutboxMessage
	for range rounds {
		if _, err := e.n.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		var err error
		m, err = e.store.OutboxByKey(context.Background(), e.key)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != storage.OutboxPending {
			break
		}
		e.clock.Advance(time.Second)
	}
	return m
}

// TestPicturesSurviveAnOutage: Slack answers 503, then refuses connections;
// the outbox keeps the message with its pictures (as JSON in its body) and,
// once Slack is back, delivers the words and each picture exactly once.
func TestPicturesSurviveAnOutage(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fake, _ := newFakeSlack(t)
			r := digest(t)
			e := newNotifierEnv(t, b, fake, r)
			m, err := e.store.OutboxByKey(context.Background(), e.key)
			if err != nil {
				t.Fatal(err)
			}
			var stored bot.Reply
			if err := json.Unmarshal([]byte(m.Body), &stored); err != nil || len(stored.Images) != 2 ||
				!bytes.Equal(stored.Images[1].Data, r.Images[1].Data) || stored.Images[1].Title != r.Images[1].Title {
				t.Fatalf("the outbox body does not carry the pictures: %v", err)
			}
			fake.Set(t, fakeslack.Unavailable)
			if m := e.drain(t, 3); m.State != storage.OutboxPending || m.Attempts < 2 {
				t.Fatalf("during a 503 outage: %s after %d attempts", m.State, m.Attempts)
			}
			fake.Set(t, fakeslack.Refused)
			if m := e.drain(t, 3); m.State != storage.OutboxPending {
				t.Fatalf("while Slack is down: %s", m.State)
			}
			fake.Set(t, fakeslack.Up)
			e.sentOnce(t, fake, "after the outage")
			checkShared(t, fake, r, "C0HELP")
		})
	}
}

// TestLostShareIsLookedUpNotRepeated: Slack shares the pictures but the
// answer to files.completeUploadExternal is lost (a crash between the share
// and its record). The retry finds the message by key and the pictures by
// title: nothing is uploaded or posted again.
func TestLostShareIsLookedUpNotRepeated(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fake, _ := newFakeSlack(t)
			r := digest(t)
			e := newNotifierEnv(t, b, fake, r)
			fake.LoseComplete(1)
			e.sentOnce(t, fake, "after the retry")
			if n := fake.UploadURLs(); n != 2 {
				t.Errorf("%d uploads, want 2: the retry uploaded again", n)
			}
			checkShared(t, fake, r, "C0HELP")
			if !slices.Contains(fake.Calls(), "files.list") {
				t.Errorf("the retry did not look the pictures up: %v", fake.Calls())
			}
		})
	}
}

// TestFailedShareIsFinishedOnce: the share fails (Slack answers an error,
// or the bot is not in the channel); the message is posted, its pictures
// are not. The retry finds the words and shares the pictures, once.
func TestFailedShareIsFinishedOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"internal_error", "not_in_channel"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			b := storagetest.Backends(t)[0]
			fake, _ := newFakeSlack(t)
			r := digest(t)
			e := newNotifierEnv(t, b, fake, r)
			fake.Fail("files.completeUploadExternal", code)
			m := e.drain(t, 2)
			if len(fake.Files()) != 0 || fake.Posts()[e.key] != 1 || !m.Uncertain {
				t.Fatalf("with the share failing: %d files, %d posts, uncertain %v", len(fake.Files()), fake.Posts()[e.key], m.Uncertain)
			}
			if code == "not_in_channel" && (m.State != storage.OutboxFailed || !strings.Contains(m.LastError, "invite opsbot")) {
				t.Fatalf("not in the channel: %s %q, want failed saying to invite opsbot", m.State, m.LastError)
			}
			fake.Fail("files.completeUploadExternal", "")
			if m.State == storage.OutboxFailed {
				if _, err := e.store.RetryOutbox(context.Background(), m.ID, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			e.sentOnce(t, fake, "after the retry")
			checkShared(t, fake, r, "C0HELP")
		})
	}
}

// TestMissingFileScopes: without files:write nothing is posted and the
// message fails saying which scope to add; without files:read a message
// whose share was lost cannot be checked and fails, still uncertain, with
// the fix; once the scope is back, a retry finds it and uploads nothing.
func TestMissingFileScopes(t *testing.T) {
	t.Parallel()
	t.Run("files:write", func(t *testing.T) {
		t.Parallel()
		b := storagetest.Backends(t)[0]
		fake, _ := newFakeSlack(t)
		fake.RemoveScope("files:write")
		e := newNotifierEnv(t, b, fake, digest(t))
		m := e.drain(t, 3)
		if m.State != storage.OutboxFailed || !strings.Contains(m.LastError, "add the files:write scope") || m.Uncertain {
			t.Fatalf("state %s uncertain %v %q", m.State, m.Uncertain, m.LastError)
		}
		if len(fake.Posts()) != 0 || len(fake.Files()) != 0 {
			t.Fatalf("posted without the pictures: %v", fake.Calls())
		}
	})
	t.Run("files:read", func(t *testing.T) {
		t.Parallel()
		b := storagetest.Backends(t)[0]
		fake, _ := newFakeSlack(t)
		fake.RemoveScope("files:read")
		r := digest(t)
		e := newNotifierEnv(t, b, fake, r)
		fake.LoseComplete(1)
		m := e.drain(t, 5)
		if m.State != storage.OutboxFailed || !m.Uncertain || !strings.Contains(m.LastError, "add the files:read scope") {
			t.Fatalf("state %s uncertain %v %q", m.State, m.Uncertain, m.LastError)
		}
		fake.AddScope("files:read")
		if _, err := e.store.RetryOutbox(context.Background(), m.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if m := e.drain(t, 5); m.State != storage.OutboxSent {
			t.Fatalf("after the fix: %s %q", m.State, m.LastError)
		}
		if fake.Posts()[e.key] != 1 || fake.UploadURLs() != 2 {
			t.Fatalf("%d posts, %d uploads", fake.Posts()[e.key], fake.UploadURLs())
		}
		checkShared(t, fake, r, "C0HELP")
	})
}

// TestSlashCommandWithPictures: a response_url takes no files, so the
// answer says where the pictures go and the whole reply waits in the
// outbox: for the channel when public, else for the person's direct
// messages, or for them too when opsbot cannot be in the channel; a
// notifier then delivers it with its pictures.
func TestSlashCommandWithPictures(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, channel, text, target, where, sharedIn string
	}{
		{"public", "C0HELP", "--public", `"channel":"C0HELP"`, "in this channel", "C0HELP"},
		{"public, joined now", "C0NEW", "--public", `"channel":"C0NEW"`, "in this channel", "C0NEW"},
		{"personal", "C0HELP", "", `"user":"U0ALICE"`, "to you by direct message", "D0ALICE"},
		{"private channel without opsbot", "G0PRIV", "--public", `"user":"U0ALICE"`,
			"to you by direct message, because opsbot is not in this channel", "D0ALICE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, _ := newFakeSlack(t)
			h := newHarness(t, storagetest.Backends(t)[0])
			h.a.api = slack.New(testToken, slack.OptionAPIURL(fake.URL()))
			form := h.command("U0ALICE", "/chart", tt.text, "T1")
			form.Set("channel_id", tt.channel)
			got := decode(t, h.post("/slack/commands", form, nil))
			if got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "with its 2 pictures is on its way "+tt.where) {
				t.Fatalf("answer %+v", got)
			}
			var rows []storage.OutboxMessage
			if err := h.store.DB.Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || !strings.Contains(rows[0].Target, tt.target) {
				t.Fatalf("outbox %+v", rows)
			}
			var r bot.Reply
			if err := json.Unmarshal([]byte(rows[0].Body), &r); err != nil || len(r.Images) != 2 || r.Title != "Ops digest, week 48" {
				t.Fatalf("queued reply %+v %v", r, err)
			}
			// serve's notifier delivers it: the words and both pictures.
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			sender := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake.URL()}, quiet)
			n, err := notify.NewNotifier(h.store, h.clock, quiet, nil, config.OutboxConfig{Workers: 1}, map[bot.Platform]bot.Sender{bot.Slack: sender})
			if err != nil {
				t.Fatal(err)
			}
			if sent, err := n.Drain(context.Background()); err != nil || sent != 1 {
				t.Fatalf("drain: %d %v (calls %v)", sent, err, fake.Calls())
			}
			checkShared(t, fake, digest(t), tt.sharedIn)
		})
	}
}

// benchImages are three 64 KiB pictures, the size of a digest's charts.
func benchImages() []bot.Image {
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
	return imgs
}

// BenchmarkSlackPost posts a digest's words alone and with three 64 KiB
// pictures to the fake Slack on loopback: the cost of the upload flow's
// extra calls (go test -bench SlackPost -run ^$ ./bot/slack/).
func BenchmarkSlackPost(b *testing.B) {
	for _, tc := range []struct {
		name   string
		images []bot.Image
	}{{"words", nil}, {"3x64KiB", benchImages()}} {
		b.Run(tc.name, func(b *testing.B) {
			fake := fakeslack.New(b, testToken)
			fake.AddMember("C0HELP")
			s := NewSender(config.SlackConfig{BotToken: config.Secret(testToken), APIURL: fake.URL()}, slog.New(slog.DiscardHandler))
			to := bot.Target{Platform: bot.Slack, Channel: "C0HELP", Name: "#ops"}
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

// TestPicturesDocExample keeps docs/pictures/slack-calls.json, the calls
// that carry a digest with two pictures to Slack, true to the code (run
// go test ./bot/slack -run TestPicturesDocExample -update to rewrite it).
func TestPicturesDocExample(t *testing.T) {
	t.Parallel()
	fake, api := newFakeSlack(t)
	s := testSender(t, api, testToken, &logBuffer{})
	r := digest(t)
	r.Fields = []bot.Field{{Name: "Uptime", Value: "99.2%", Short: true}, {Name: "Incidents", Value: "3 (MTTR 42m)", Short: true}}
	if _, err := s.Post(context.Background(), bot.Target{Platform: bot.Slack, Channel: "C0HELP", Name: "#ops"},
		bot.Outgoing{Key: "report:week:48", Reply: r}); err != nil {
		t.Fatal(err)
	}
	calls := fake.Transcript()
	got, err := json.MarshalIndent(calls, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := "../../docs/pictures/slack-calls.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the code sends (run go test ./bot/slack -run TestPicturesDocExample -update): %v\n%s", path, err, got)
	}
}

// TestClickWithPicturesKeepsTheMessage: a button whose answer has pictures
// does not replace the clicked message with a note; the clicker reads where
// the answer went, and the answer waits in the outbox for the channel.
func TestClickWithPicturesKeepsTheMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storagetest.Backends(t)[0])
	fake, _ := newFakeSlack(t)
	h.a.api = slack.New(testToken, slack.OptionAPIURL(fake.URL()))
	if rec := h.post("/slack/interactions", clickForm(h, "U0BOB", "Month", "/chart --public", "TR1"), nil); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	got := h.hook()
	if got.ReplaceOriginal || got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "is on its way in this channel") {
		t.Fatalf("answer to the click %+v", got)
	}
	h.a.Wait()
	var rows []storage.OutboxMessage
	if err := h.store.DB.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.Contains(rows[0].Body, `"images"`) {
		t.Fatalf("outbox %+v", rows)
	}
}
