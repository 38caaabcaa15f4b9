package shell

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"opsbot/bot"
	"opsbot/notify"
	"opsbot/storage"
)

// outboxReader finds a queued message by its key: storage.Store.
type outboxReader interface {
	OutboxByKey(ctx context.Context, key string) (storage.OutboxMessage, error)
}

// QueuedPrinter tells the shell's user what a command left for serve to
// deliver: one line per platform message queued, once its transaction has
// committed ("→ queued for #helpdesk on Slack: card of #12 updated").
type QueuedPrinter struct {
	store outboxReader
	out   io.Writer
	// Person is the session's person: a direct message to anyone else is
	// named, not shown.
	Person string

	mu      sync.Mutex
	pending []notify.Queued
}

// NewQueuedPrinter prints to out the messages that store holds.
func NewQueuedPrinter(store outboxReader, out io.Writer) *QueuedPrinter {
	return &QueuedPrinter{store: store, out: out}
}

// Add notes a message an Enqueue wrote (notify.Outbox.OnQueued).
func (p *QueuedPrinter) Add(q notify.Queued) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, q)
}

// Flush prints a line for each noted message that was committed, and
// forgets them all: one whose transaction rolled back is not in the outbox.
func (p *QueuedPrinter) Flush(ctx context.Context) {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	seen := map[string]bool{}
	for _, q := range pending {
		if seen[q.Key] {
			continue
		}
		seen[q.Key] = true
		if _, err := p.store.OutboxByKey(ctx, q.Key); err != nil {
			continue
		}
		what := Summary(q.Reply)
		if strings.HasPrefix(q.To.Name, "@") && p.Person != "" && q.To.Name != "@"+p.Person {
			what = "a direct message, theirs to read"
		}
		fmt.Fprintf(p.out, "→ queued for %s on %s: %s\n", q.To.Name, platformName(q.To.Platform), what)
	}
}

// platformName is a platform as people write it.
func platformName(p bot.Platform) string {
	switch p {
	case bot.Slack:
		return "Slack"
	case bot.Discord:
		return "Discord"
	}
	return string(p)
}
