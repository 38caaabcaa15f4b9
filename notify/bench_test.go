package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/notify"
	"opsbot/storage/storagetest"
)

// stopwatch is a sender that only notes when each message arrived.
type stopwatch struct {
	mu   sync.Mutex
	at   map[string]time.Time
	want int
	done chan struct{}
}

func (s *stopwatch) Post(_ context.Context, to bot.Target, msg bot.Outgoing) (bot.MessageRef, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at[msg.Key] = now
	if len(s.at) == s.want {
		close(s.done)
	}
	return bot.MessageRef{Channel: to.Channel, ID: msg.Key}, nil
}

func (s *stopwatch) Update(context.Context, bot.MessageRef, bot.Outgoing) error { return nil }

// BenchmarkDrain enqueues 10,000 notifications over 50 channels, in
// transactions of 100 as a busy bot would, while a notifier with the default
// 4 workers delivers them to a local sender; it reports messages per second
// and the 99th percentile time from enqueue (commit) to delivery.
func BenchmarkDrain(b *testing.B) {
	const total, lanes, batch = 10000, 50, 100
	for _, be := range storagetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				store := storagetest.Open(b, be)
				cfg := &config.Config{Channels: map[string]config.Channel{}}
				cfg.Slack.Enabled = true
				for i := range lanes {
					cfg.Channels[fmt.Sprintf("c%d", i)] = config.Channel{Slack: fmt.Sprintf("C%d", i)}
				}
				ob := notify.New(cfg, bot.NewDirectory(nil), clock.Real{})
				sw := &stopwatch{at: map[string]time.Time{}, want: total, done: make(chan struct{})}
				n, err := notify.NewNotifier(store, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
					config.OutboxConfig{Workers: 4, Poll: config.Duration(time.Second), MaxAge: config.Duration(time.Hour),
						MaxBackoff: config.Duration(time.Minute)}, map[bot.Platform]bot.Sender{bot.Slack: sw})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				go func() { _ = n.Run(ctx); close(stopped) }()
				enq := make(map[string]time.Time, total)
				b.StartTimer()
				begin := time.Now()
				for i := 0; i < total; i += batch {
					ns := make([]notify.Notification, 0, batch)
					for j := i; j < i+batch; j++ {
						ns = append(ns, notify.Notification{Key: fmt.Sprintf("b-%d", j),
							To: notify.Destination{Channel: fmt.Sprintf("c%d", j%lanes)}, Reply: bot.Text("bench")})
					}
					if err := store.Tx(ctx, func(tx *gorm.DB) error { return ob.Enqueue(tx, ns...) }); err != nil {
						b.Fatal(err)
					}
					now := time.Now()
					for _, x := range ns {
						enq[notify.RowKey(x.Key, bot.Slack)] = now
					}
					n.Wake()
				}
				select {
				case <-sw.done:
				case <-time.After(5 * time.Minute):
					b.Fatal("not all delivered in 5 minutes")
				}
				elapsed := time.Since(begin)
				b.StopTimer()
				cancel()
				<-stopped
				lat := make([]time.Duration, 0, total)
				sw.mu.Lock()
				for k, at := range sw.at {
					lat = append(lat, at.Sub(enq[k]))
				}
				sw.mu.Unlock()
				slices.Sort(lat)
				b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
				b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
				b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
				b.StartTimer()
			}
		})
	}
}
