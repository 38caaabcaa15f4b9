// Package runbooks serves /run: configured commands that people run from
// chat with typed parameters, after the approvals they need. Parameters are
// checked by type before anything runs and become whole argv elements
// (never a shell); the output streams into the request's thread; each run
// runs once across replicas because the database claim says so.
package runbooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/proc"
	"opsbot/storage"
)

// Timing of running runs: output is edited into the thread at most once
// every EditEvery (by the injected clock); a run whose owner has not
// written a heartbeat for LostAfter is marked lost, never run again.
const (
	EditEvery      = 2 * time.Second
	HeartbeatEvery = 5 * time.Second
	LostAfter      = 60 * time.Second
	// chatBytes caps the output shown in chat (the tail).
	chatBytes = 3000
)

// Handler serves /run and runs the approved runs.
type Handler struct {
	cfg    *config.Config
	store  *storage.Store
	outbox *notify.Outbox
	clock  clock.Clock
	log    *slog.Logger
	books  map[string]*book
	names  []string
	mask   *proc.Masker
	owner  string

	mu     sync.Mutex
	active map[int64]*active
}

type book struct {
	config.Runbook
}

// active is a run this process is running.
type active struct {
	run      storage.RunbookRun
	proc     *proc.Process
	posted   bool      // the output message exists
	shown    string    // output last sent to chat
	editedAt time.Time // when it was sent, by the injected clock
	cancelBy string
	done     chan struct{}
}

// New builds the handler from the configured runbooks.
func New(d handlers.Deps) (*Handler, error) {
	host, _ := os.Hostname()
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	h := &Handler{cfg: d.Config, store: d.Store, outbox: d.Outbox, clock: d.Clock, log: d.Log,
		books: map[string]*book{}, mask: proc.NewMasker(d.Config.SecretValues()...),
		owner:  fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(nonce[:])),
		active: map[int64]*active{}}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, r := range d.Config.Runbooks {
		h.books[r.Name] = &book{Runbook: r}
		h.names = append(h.names, r.Name)
	}
	return h, nil
}

// Stream runs every replica's share of the work until ctx ends: the
// output of this process's runs into their threads.
func (h *Handler) Stream(ctx context.Context) error {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		h.Pump(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Run is the leader's share: it starts approved runs that wait for a free
// slot and marks lost the runs whose owner died, every second until ctx
// ends.
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, time.Second, h.log, "runbook tick", h.Tick)
}

// Tick marks lost the running runs whose owner stopped heartbeating and
// starts the approved runs that fit their runbook's concurrency.
func (h *Handler) Tick(ctx context.Context) error {
	runs, err := storage.ListRunbookRuns(ctx, h.store.DB, 1000, storage.RunbookRunning, storage.RunbookApproved)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	var errs []error
	slices.Reverse(runs) // oldest first
	for _, r := range runs {
		switch {
		case r.State == storage.RunbookApproved:
			errs = append(errs, h.start(ctx, r))
		case r.Owner != h.owner && r.HeartbeatAt != nil && r.HeartbeatAt.Before(now.Add(-LostAfter)):
			why := fmt.Sprintf("the opsbot process running it (%s) stopped; it is not run again", r.Owner)
			errs = append(errs, h.store.Tx(ctx, func(tx *gorm.DB) error {
				ok, err := storage.UpdateRunbookRun(tx, r.ID, storage.RunbookRunning,
					map[string]any{"state": storage.RunbookLost, "finished_at": &now, "error": why})
				if err != nil || !ok {
					return err
				}
				r.State, r.Error = storage.RunbookLost, why
				if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "opsbot", Platform: "schedule",
					Action: "runbook.lost", Subject: subject(r), Detail: why}); err != nil {
					return err
				}
				return h.outbox.Enqueue(tx, h.cardUpdate(r, "lost"))
			}))
		}
	}
	return errors.Join(errs...)
}

// start claims an approved run for this process and launches it, if its
// runbook has a free slot; another replica's claim wins silently.
func (h *Handler) start(ctx context.Context, r storage.RunbookRun) error {
	b := h.books[r.Runbook]
	if b == nil {
		return nil // the runbook left the config; the run waits for it
	}
	var won bool
	now := h.clock.Now()
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if won, err = storage.ClaimRunbookRun(tx, r, b.Concurrency, h.owner, now); err != nil || !won {
			return err
		}
		if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "opsbot", Platform: "schedule",
			Action: "runbook.start", Subject: subject(r), Detail: strings.Join(argv(b, params(r)), " ")}); err != nil {
			return err
		}
		started := r
		started.State = storage.RunbookRunning
		return h.outbox.Enqueue(tx, h.cardUpdate(started, "start"))
	})
	if err != nil || !won {
		return err
	}
	r.State, r.Owner, r.StartedAt = storage.RunbookRunning, h.owner, &now
	p := proc.Start(proc.Spec{Argv: argv(b, params(r)), Timeout: time.Duration(b.Timeout),
		KillGrace: time.Duration(h.cfg.Backups.KillGrace), OutputLimit: h.cfg.Backups.OutputLimit, Mask: h.mask})
	a := &active{run: r, proc: p, done: make(chan struct{})}
	h.mu.Lock()
	h.active[r.ID] = a
	h.mu.Unlock()
	go h.follow(b, a)
	return nil
}

// argv is the runbook's command with each {{.param}} replaced by its value
// inside the one element that holds it: a value never becomes more
// elements, and no shell ever reads it.
func argv(b *book, values map[string]string) []string {
	out := make([]string, len(b.Command))
	for i, arg := range b.Command {
		out[i] = config.RunbookRef.ReplaceAllStringFunc(arg, func(m string) string {
			return values[config.RunbookRef.FindStringSubmatch(m)[1]]
		})
	}
	return out
}

func params(r storage.RunbookRun) map[string]string {
	var m map[string]string
	_ = json.Unmarshal([]byte(r.Params), &m)
	return m
}

func subject(r storage.RunbookRun) string { return fmt.Sprintf("runbook:%s:%d", r.Runbook, r.ID) }

// follow waits for a run to end and records the end.
func (h *Handler) follow(b *book, a *active) {
	defer func() {
		h.mu.Lock()
		delete(h.active, a.run.ID)
		h.mu.Unlock()
		close(a.done)
	}()
	// The heartbeat keeps the run from being marked lost, wherever it runs
	// (serve or the shell), and picks up cancels made on other replicas.
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-a.proc.Done():
			done = true
		case <-t.C:
			out, total := a.proc.Output()
			hctx, cancel := context.WithTimeout(context.Background(), HeartbeatEvery)
			by, err := storage.RunbookHeartbeat(hctx, h.store.DB, a.run.ID, h.owner, h.clock.Now(), out, total)
			cancel()
			if err != nil {
				h.log.Error("runbook heartbeat", "run", a.run.ID, "err", err)
			} else if by != "" {
				h.cancel(a, by)
			}
		}
	}
	res := a.proc.Result()
	h.mu.Lock()
	cancelBy := a.cancelBy
	h.mu.Unlock()
	now := h.clock.Now()
	state, why := storage.RunbookSucceeded, ""
	switch {
	case res.StartErr != nil:
		state, why = storage.RunbookFailed, h.mask.String(fmt.Sprintf("start %s: %v", b.Command[0], res.StartErr))
	case res.Stopped == proc.TimedOut:
		state, why = storage.RunbookTimedOut, "timed out after "+b.Timeout.String()
	case res.Stopped == proc.Cancelled:
		state, why = storage.RunbookCancelled, "cancelled by "+cancelBy
	case res.ExitCode != 0:
		state, why = storage.RunbookFailed, fmt.Sprintf("exit code %d", res.ExitCode)
		if res.Signal != "" {
			why = "killed by signal: " + res.Signal
		}
	}
	cols := map[string]any{"state": state, "finished_at": &now, "error": why, "output": res.Output, "output_bytes": res.Total}
	if res.StartErr == nil && res.ExitCode >= 0 {
		code := res.ExitCode
		cols["exit_code"] = &code
	}
	r := a.run
	r.State, r.Error, r.Output, r.FinishedAt = state, why, res.Output, &now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		if _, err := storage.UpdateRunbookRun(tx, r.ID, storage.RunbookRunning, cols); err != nil {
			return err
		}
		if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "opsbot", Platform: "schedule",
			Action: "runbook.end", Subject: subject(r), Detail: describe(r)}); err != nil {
			return err
		}
		return h.outbox.Enqueue(tx, h.outputNote(a, r.Output, now), h.cardUpdate(r, "end"))
	})
	if err != nil {
		h.log.Error("record runbook end", "run", r.ID, "err", err)
		return
	}
	// A slot is free: the next approved run of this runbook may start.
	if err := h.Tick(ctx); err != nil {
		h.log.Error("runbook tick", "err", err)
	}
}

// Pump is one pass over this process's running runs: output that changed
// is posted into the request's thread, then edited, at most once every
// EditEvery of the injected clock.
func (h *Handler) Pump(ctx context.Context) {
	h.mu.Lock()
	var runs []*active
	for _, a := range h.active {
		runs = append(runs, a)
	}
	h.mu.Unlock()
	now := h.clock.Now()
	for _, a := range runs {
		out, _ := a.proc.Output()
		if out != a.shown && (!a.posted || now.Sub(a.editedAt) >= EditEvery) {
			if err := h.store.Tx(ctx, func(tx *gorm.DB) error {
				return h.outbox.Enqueue(tx, h.outputNote(a, out, now))
			}); err != nil {
				h.log.Error("stream runbook output", "run", a.run.ID, "err", err)
			}
		}
	}
}

// outputNote posts the output under the request's message the first time,
// and edits that one message afterwards.
func (h *Handler) outputNote(a *active, out string, now time.Time) notify.Notification {
	text := tail(out)
	if text == "" {
		text = "(no output yet)"
	}
	n := notify.Notification{To: h.dest(a.run), Reply: bot.Reply{Title: fmt.Sprintf("Output of #%d", a.run.ID), Code: text, InChannel: true}}
	if !a.posted {
		n.Key, n.Thread = outputKey(a.run.ID), requestKey(a.run.ID)
	} else {
		n.Key, n.Updates = fmt.Sprintf("%s:%d", outputKey(a.run.ID), now.UnixNano()), outputKey(a.run.ID)
	}
	a.posted, a.shown, a.editedAt = true, out, now
	return n
}

// tail is the last chatBytes of s, from a line start.
func tail(s string) string {
	if len(s) <= chatBytes {
		return s
	}
	s = s[len(s)-chatBytes:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

func requestKey(id int64) string { return fmt.Sprintf("runbook:%d:request", id) }
func outputKey(id int64) string  { return fmt.Sprintf("runbook:%d:output", id) }

// dest is where a run's messages go: its runbook's channel, or the
// requester by direct message.
func (h *Handler) dest(r storage.RunbookRun) notify.Destination {
	if b := h.books[r.Runbook]; b != nil && b.Channel != "" {
		return notify.Destination{Channel: b.Channel}
	}
	return notify.Destination{Person: r.RequestedBy}
}

// cardUpdate edits the request's message to show where the run stands.
func (h *Handler) cardUpdate(r storage.RunbookRun, why string) notify.Notification {
	return notify.Notification{Key: fmt.Sprintf("%s:%s:%d", requestKey(r.ID), why, h.clock.Now().UnixNano()),
		Updates: requestKey(r.ID), To: h.dest(r), Reply: h.card(r)}
}

// cancel stops a local run on behalf of person.
func (h *Handler) cancel(a *active, person string) {
	h.mu.Lock()
	if a.cancelBy == "" {
		a.cancelBy = person
	}
	h.mu.Unlock()
	a.proc.Cancel()
}

// local returns this process's run id, if it is running here.
func (h *Handler) local(id int64) *active {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active[id]
}

// Drain waits for this process's runs; when ctx ends first it cancels them.
func (h *Handler) Drain(ctx context.Context) {
	for {
		h.mu.Lock()
		var waits []*active
		for _, a := range h.active {
			waits = append(waits, a)
		}
		h.mu.Unlock()
		if len(waits) == 0 {
			return
		}
		for _, a := range waits {
			select {
			case <-a.done:
			case <-ctx.Done():
				for _, b := range waits {
					h.cancel(b, "opsbot (shutting down)")
				}
				<-a.done
			}
		}
	}
}
