// Package notify is the one road every notification takes: handlers and
// checks write notifications into the outbox (storage) in the same
// transaction as the change that caused them, and the notifier delivers
// them, retrying until the platform has accepted each exactly once.
//
// Only a process that can deliver a platform's messages claims them: a
// notifier claims the platforms it has a sender for. A message for a
// platform that is not enabled goes to the log sink of the process that
// wrote it, and only that process's notifier claims it.
package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/storage"
)

// Destination names where a notification goes: a configured channel by its
// name, or a person (by direct message) by their name.
type Destination struct {
	Channel string
	Person  string
	// Target, when set, is one platform destination given by its ids: the
	// thread of a message a ticket was filed from, in whatever channel.
	Target *bot.Target
}

func (d Destination) String() string {
	if d.Target != nil {
		return string(d.Target.Platform) + ":" + d.Target.Channel
	}
	if d.Person != "" {
		return "@" + d.Person
	}
	return "#" + d.Channel
}

// Notification is one message to one destination.
type Notification struct {
	// Key identifies the message for its whole life, e.g. "ticket:12:queue";
	// enqueueing the same key twice sends it once.
	Key   string
	To    Destination
	Reply bot.Reply
	// Updates, when set, is the key of an earlier notification to the same
	// destination whose message this one edits instead of posting anew.
	Updates string
	// Thread, when set, is the key of an earlier notification to the same
	// destination under whose message this one replies.
	Thread string
}

// Outbox resolves destinations to platform targets and writes them.
type Outbox struct {
	channels  map[string]config.Channel
	dir       *bot.Directory
	platforms []bot.Platform
	clock     clock.Clock
	// origin names this process in the lanes of its log sink's messages,
	// which only its own notifier claims.
	origin string
	wake   func()

	mu     sync.Mutex
	queued func(Queued)
}

// Queued is one platform message an Enqueue wrote, for the shell to say
// what it left for serve to deliver.
type Queued struct {
	Key   string
	To    bot.Target
	Reply bot.Reply
}

// OnQueued sets a function that Enqueue calls for each platform message it
// writes (not for the log sink's). It is called inside the transaction: the
// message exists once that commits.
func (o *Outbox) OnQueued(f func(Queued)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queued = f
}

// Attach makes n this process's notifier: it claims the messages this
// outbox writes for the log sink, and Wake wakes it.
func (o *Outbox) Attach(n *Notifier) {
	o.wake = n.Wake
	n.setOrigin(o.origin)
}

// OnWake sets what Wake calls: the notifier's Wake, so enqueued messages go
// out without waiting for the next poll.
func (o *Outbox) OnWake(f func()) { o.wake = f }

// Wake tells the notifier, if one runs in this process, that messages were
// committed. Calling it is optional (the notifier polls) and must come after
// the transaction commits.
func (o *Outbox) Wake() {
	if o.wake != nil {
		o.wake()
	}
}

// New returns an outbox for the configured channels and people. Platforms
// that are enabled receive notifications; with none enabled (the embedded
// default) everything goes to the log sink.
func New(cfg *config.Config, dir *bot.Directory, clk clock.Clock) *Outbox {
	o := &Outbox{channels: cfg.Channels, dir: dir, clock: clk, origin: processID()}
	if cfg.Slack.Enabled {
		o.platforms = append(o.platforms, bot.Slack)
	}
	if cfg.Discord.Enabled {
		o.platforms = append(o.platforms, bot.Discord)
	}
	return o
}

// ForPlatform returns an outbox that reaches only explicit targets on
// platform p: for an adapter used on its own, without the configured
// channels and people.
func ForPlatform(p bot.Platform, clk clock.Clock) *Outbox {
	return &Outbox{platforms: []bot.Platform{p}, clock: clk, origin: processID()}
}

// Enqueue writes the notifications in the caller's transaction.
func (o *Outbox) Enqueue(tx *gorm.DB, ns ...Notification) error {
	var rows []storage.OutboxMessage
	var queued []Queued
	now := o.clock.Now()
	for _, n := range ns {
		targets, err := o.targets(n.To)
		if err != nil {
			return fmt.Errorf("notification %s: %w", n.Key, err)
		}
		body, err := json.Marshal(n.Reply)
		if err != nil {
			return fmt.Errorf("notification %s: %w", n.Key, err)
		}
		for _, t := range targets {
			tj, err := json.Marshal(t)
			if err != nil {
				return fmt.Errorf("notification %s: %w", n.Key, err)
			}
			lane := Lane(t)
			if t.Platform == bot.Log {
				lane = logLane(o.origin, t)
			} else {
				queued = append(queued, Queued{Key: RowKey(n.Key, t.Platform), To: t, Reply: n.Reply})
			}
			row := storage.OutboxMessage{
				Key:           RowKey(n.Key, t.Platform),
				Lane:          lane,
				Platform:      string(t.Platform),
				Target:        string(tj),
				Body:          string(body),
				State:         storage.OutboxPending,
				NextAttemptAt: now,
				CreatedAt:     now,
				QueuedAt:      now,
			}
			if n.Updates != "" {
				row.UpdatesKey = RowKey(n.Updates, t.Platform)
			}
			if n.Thread != "" {
				row.ThreadKey = RowKey(n.Thread, t.Platform)
			}
			rows = append(rows, row)
		}
	}
	if err := storage.EnqueueOutbox(tx, rows...); err != nil {
		return err
	}
	o.mu.Lock()
	f := o.queued
	o.mu.Unlock()
	if f != nil {
		for _, q := range queued {
			f(q)
		}
	}
	return nil
}

// enabled reports whether this process's config enables platform p.
func (o *Outbox) enabled(p bot.Platform) bool { return slices.Contains(o.platforms, p) }

// logLane is the lane of a log sink message: the writing process's own, so
// no other process claims it.
func logLane(origin string, t bot.Target) string {
	return LogLanePrefix(origin) + t.Name
}

// LogLanePrefix starts the lane of every log sink message that the process
// named origin writes.
func LogLanePrefix(origin string) string { return string(bot.Log) + "/" + origin + ":" }

// RowKey is the stored key of a notification on one platform.
func RowKey(key string, p bot.Platform) string { return key + "@" + string(p) }

// Lane is the ordering lane of a target: one platform destination.
func Lane(t bot.Target) string {
	if t.User != "" {
		return string(t.Platform) + ":@" + t.User
	}
	if t.Channel != "" {
		return string(t.Platform) + ":" + t.Channel
	}
	return string(t.Platform) + ":" + t.Name
}

// targets resolves a destination to one target per platform that can reach
// it, or to the log sink when none can, so nothing is silently dropped.
func (o *Outbox) targets(d Destination) ([]bot.Target, error) {
	var out []bot.Target
	switch {
	case d.Target != nil:
		if d.Target.Channel == "" && d.Target.User == "" {
			return nil, fmt.Errorf("notification target has no channel")
		}
		if d.Target.Platform != bot.Log && !o.enabled(d.Target.Platform) {
			// Nobody here can deliver it, and it is not another
			// process's to claim: the log sink shows it now.
			name := d.Target.Name
			if name == "" {
				name = d.String()
			}
			return []bot.Target{{Platform: bot.Log, Name: name, Thread: d.Target.Thread}}, nil
		}
		return []bot.Target{*d.Target}, nil
	case d.Person != "":
		p, ok := o.dir.ByName(d.Person)
		if !ok {
			return nil, fmt.Errorf("unknown person %q", d.Person)
		}
		for _, pl := range o.platforms {
			id := p.SlackID
			if pl == bot.Discord {
				id = p.DiscordID
			}
			if id != "" {
				// One direct message, on the first platform that knows them.
				out = append(out, bot.Target{Platform: pl, User: id, Name: "@" + p.Name})
				break
			}
		}
	case d.Channel != "":
		ch, ok := o.channels[d.Channel]
		if !ok {
			return nil, fmt.Errorf("unknown channel %q (add it under channels: in the config)", d.Channel)
		}
		for _, pl := range o.platforms {
			id := ch.Slack
			if pl == bot.Discord {
				id = ch.Discord
			}
			if id != "" {
				out = append(out, bot.Target{Platform: pl, Channel: id, Name: "#" + d.Channel})
			}
		}
	default:
		return nil, fmt.Errorf("notification has no destination")
	}
	if len(out) == 0 {
		out = append(out, bot.Target{Platform: bot.Log, Name: d.String()})
	}
	return out, nil
}
