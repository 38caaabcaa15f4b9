package notify_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"opsbot/bot"
	"opsbot/notify"
	"opsbot/storage/storagetest"
)

// partsPlatform is a fakePlatform that delivers a message in two parts, as
// Slack does a message and its pictures, and counts what Complete is asked
// to finish.
type partsPlatform struct {
	*fakePlatform
	mu        sync.Mutex
	posted    []bot.Outgoing
	completed []bot.Outgoing
	refs      []bot.MessageRef
}

func (p *partsPlatform) Post(ctx context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	p.mu.Lock()
	p.posted = append(p.posted, msg)
	p.mu.Unlock()
	return p.fakePlatform.Post(ctx, to, msg)
}

func (p *partsPlatform) Complete(_ context.Context, _ bot.Target, ref bot.MessageRef, msg bot.Outgoing) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completed = append(p.completed, msg)
	p.refs = append(p.refs, ref)
	return nil
}

var _ bot.Completer = (*partsPlatform)(nil)

// TestPicturesTravelWhole: a reply's pictures, one of them 4 MiB, come out
// of the outbox byte for byte on every backend; when the send's outcome
// was lost, the notifier finds the message and asks the sender to complete
// it (with the pictures) instead of posting it again.
func TestPicturesTravelWhole(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			big := make([]byte, 4<<20)
			for i := range big {
				big[i] = byte(i*7 + i>>9)
			}
			r := bot.Reply{Title: "Ops digest", Images: []bot.Image{
				{Name: "uptime.png", Title: "Uptime", Alt: "heat strip", Type: "image/png", Data: big},
				{Name: "incidents.png", Title: "Incidents", Type: "image/png", Data: []byte{0x89, 'P', 'N', 'G', 0, 1, 2}},
			}}
			e.enqueue(t, notify.Notification{Key: "report:week", To: notify.Destination{Channel: "c1"}, Reply: r})
			fake := newFake(e.clock, nil)
			lost := errors.New("connection reset after the request was sent")
			first := true
			fake.block = func(context.Context, string) error {
				if first {
					first = false
					return lost // accepted, but the answer is lost
				}
				return nil
			}
			p := &partsPlatform{fakePlatform: fake}
			n := e.notifier(t, e.store, p, nil, nil)
			e.until(t, n, e.allSent(t))
			fake.check(t, []string{"report:week@slack"})
			if len(p.posted) != 1 || len(p.completed) != 1 {
				t.Fatalf("posted %d times, completed %d times; want once each", len(p.posted), len(p.completed))
			}
			for _, got := range []bot.Outgoing{p.posted[0], p.completed[0]} {
				if len(got.Reply.Images) != 2 || !bytes.Equal(got.Reply.Images[0].Data, big) ||
					!bytes.Equal(got.Reply.Images[1].Data, r.Images[1].Data) || got.Reply.Images[0].Alt != "heat strip" {
					t.Fatalf("the pictures did not come out of the outbox whole")
				}
			}
			if p.refs[0].ID != "found-report:week@slack" {
				t.Errorf("Complete got ref %+v, want the one Find found", p.refs[0])
			}
		})
	}
}
