// Package backups runs the configured backup jobs from chat and on their
// schedules: /backup list, run, status, history, cancel and log. Each run is
// a real child process (see proc) recorded in storage; at most one run per
// job is running, across replicas, because the database says so.
package backups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/proc"
	"opsbot/storage"
)

// Heartbeats: the process running a backup refreshes the run's heartbeat
// every HeartbeatEvery (and picks up cancel requests made on other
// replicas); a run whose heartbeat is older than LostAfter is marked lost by
// whichever replica looks next.
const (
	HeartbeatEvery = 5 * time.Second
	LostAfter      = 60 * time.Second
)

// Handler serves /backup and runs the jobs.
type Handler struct {
	cfg    *config.Config
	store  *storage.Store
	outbox *notify.Outbox
	clock  clock.Clock
	log    *slog.Logger
	jobs   map[string]*job
	names  []string
	global []string // config secrets, masked in every job's output

	// owner names this process in the runs it starts.
	owner    string
	hostname string
	pid      int

	heartbeatEvery time.Duration
	lostAfter      time.Duration
	killGrace      time.Duration
	outputLimit    int

	mu       sync.Mutex
	active   map[int64]*active
	stopping bool

	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// job is a configured job with its parsed schedule and masker.
type job struct {
	config.BackupJob
	sched cron.Schedule // nil when run on demand only
	mask  *proc.Masker
}

// active is a run this process is running.
type active struct {
	run      storage.BackupRun
	proc     *proc.Process
	cancelBy string // set under Handler.mu
	done     chan struct{}
}

// New builds the handler from the configured jobs and marks runs left
// running by dead processes as lost.
func New(d handlers.Deps) (*Handler, error) {
	host, _ := os.Hostname()
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	h := &Handler{
		cfg: d.Config, store: d.Store, outbox: d.Outbox, clock: d.Clock, log: d.Log,
		jobs: map[string]*job{}, global: d.Config.SecretValues(),
		hostname: host, pid: os.Getpid(),
		heartbeatEvery: HeartbeatEvery, lostAfter: LostAfter,
		killGrace: time.Duration(d.Config.Backups.KillGrace), outputLimit: d.Config.Backups.OutputLimit,
		active: map[int64]*active{},
	}
	h.owner = fmt.Sprintf("%s:%d:%s", host, h.pid, hex.EncodeToString(nonce[:]))
	if h.log == nil {
		h.log = slog.Default()
	}
	for i, jc := range d.Config.Backups.Jobs {
		jc.Channel = d.Config.RouteChannel(jc.Channel, jc.Team)
		j := &job{BackupJob: jc, mask: proc.NewMasker(append(proc.EnvSecrets(jc.Env), h.global...)...)}
		if jc.Schedule != "" {
			s, err := config.ParseSchedule(jc.Schedule, jc.Timezone)
			if err != nil {
				return nil, fmt.Errorf("backups.jobs[%d].schedule: %w", i, err)
			}
			j.sched = s
		}
		h.jobs[jc.Name] = j
		h.names = append(h.names, jc.Name)
	}
	h.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_backup_runs_total",
		Help: "Backup runs that ended, by job and result (succeeded, failed, timed_out, cancelled, lost, skipped).",
	}, []string{"job", "result"})
	h.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "opsbot_backup_run_duration_seconds",
		Help:    "Wall time of backup runs, by job.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
	}, []string{"job"})
	if d.Reg != nil {
		for _, c := range []prometheus.Collector{h.runs, h.duration} {
			if err := d.Reg.Register(c); err != nil {
				return nil, fmt.Errorf("register backup metrics: %w", err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Recover(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// Run marks lost runs and starts scheduled runs every second until ctx
// ends. Runs in flight are not this loop's: they belong to the process,
// which drains them at shutdown (Drain).
func (h *Handler) Run(ctx context.Context) error {
	return handlers.Every(ctx, time.Second, h.log, "backup schedules", h.Tick)
}

// Tick is one pass at the clock's time: runs whose owner is gone are marked
// lost, and each scheduled job that is due starts once. Safe to call from
// several processes at once: the database decides who fires.
func (h *Handler) Tick(ctx context.Context) error {
	errs := []error{h.Recover(ctx)}
	for _, name := range h.names {
		if j := h.jobs[name]; j.sched != nil {
			errs = append(errs, h.tickJob(ctx, j))
		}
	}
	return errors.Join(errs...)
}

func (h *Handler) tickJob(ctx context.Context, j *job) error {
	now := h.clock.Now()
	sc, err := storage.GetBackupSchedule(ctx, h.store.DB, j.Name)
	if errors.Is(err, storage.ErrNotFound) {
		// First sight of the schedule: it starts counting now.
		return storage.InitBackupSchedule(ctx, h.store.DB, j.Name, now)
	}
	if err != nil {
		return err
	}
	due := j.sched.Next(sc.LastAt)
	if due.IsZero() || due.After(now) {
		return nil
	}
	// Several fire times may have passed while no replica ran: run once,
	// for the latest, and say how many were missed.
	missed := 0
	for i := 0; ; i++ {
		n := j.sched.Next(due)
		if n.IsZero() || n.After(now) {
			break
		}
		if i == 100000 {
			due = now
			break
		}
		due, missed = n, missed+1
	}
	run := storage.BackupRun{Job: j.Name, Trigger: "schedule", RequestedBy: "schedule", Missed: missed}
	var started bool
	var running storage.BackupRun
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		ok, err := storage.AdvanceBackupSchedule(tx, sc, due)
		if err != nil || !ok {
			return err // another replica handled this fire time
		}
		if started, running, err = h.begin(tx, j, &run); err != nil {
			return err
		}
		if !started {
			return h.outbox.Enqueue(tx, notification{
				Key: fmt.Sprintf("backup:%s:skipped:%d", j.Name, due.Unix()), To: notify.Destination{Channel: j.Channel},
				Reply: bot.Reply{Title: fmt.Sprintf("Scheduled backup %s skipped", j.Name), Severity: bot.SeverityWarning,
					Text: fmt.Sprintf("Run #%d, started %s, is still running.", running.ID, h.ago(running.StartedAt)), InChannel: true},
			}.orNone(j)...)
		}
		return storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: "schedule", Platform: "schedule",
			Action: "backup.run", Subject: "backup:" + j.Name, Detail: fmt.Sprintf("#%d", run.ID)})
	})
	if err != nil {
		return fmt.Errorf("scheduled backup %s: %w", j.Name, err)
	}
	if started {
		h.launch(j, run)
	} else if running.ID != 0 {
		h.runs.WithLabelValues(j.Name, "skipped").Inc()
		h.log.Warn("scheduled backup skipped: still running", "job", j.Name, "run", running.ID)
	}
	return nil
}

// begin inserts a run as running and queues its start notification, in tx;
// started is false when the job was already running (then running is that
// run).
func (h *Handler) begin(tx *gorm.DB, j *job, run *storage.BackupRun) (started bool, running storage.BackupRun, err error) {
	h.mu.Lock()
	stopping := h.stopping
	h.mu.Unlock()
	if stopping {
		return false, storage.BackupRun{}, bot.Errorf("opsbot is shutting down; run the backup again once it is back.")
	}
	now := h.clock.Now()
	run.Owner, run.StartedAt, run.HeartbeatAt = h.owner, now, now
	started, running, err = storage.StartBackupRun(tx, run)
	if err != nil || !started {
		return started, running, err
	}
	text := fmt.Sprintf("Started by @%s.", run.RequestedBy)
	if run.Trigger == "schedule" {
		text = fmt.Sprintf("Scheduled run (%s).", j.Schedule)
		if run.Missed > 0 {
			text += fmt.Sprintf(" %d earlier scheduled run(s) were missed while opsbot was down; this one stands in for them.", run.Missed)
		}
	}
	err = h.outbox.Enqueue(tx, notification{
		Key: startKey(run.ID), To: notify.Destination{Channel: j.Channel},
		Reply: bot.Reply{Title: fmt.Sprintf("Backup %s #%d started", j.Name, run.ID), Text: text,
			Severity: bot.SeverityInfo, InChannel: true},
	}.orNone(j)...)
	return true, storage.BackupRun{}, err
}

func startKey(id int64) string { return fmt.Sprintf("backup:%d:start", id) }

// notification wraps notify.Notification so a job without a channel
// queues nothing.
type notification notify.Notification

func (n notification) orNone(j *job) []notify.Notification {
	if j.Channel == "" {
		return nil
	}
	return []notify.Notification{notify.Notification(n)}
}

// launch starts the process of a run recorded as running and follows it in
// the background.
func (h *Handler) launch(j *job, run storage.BackupRun) {
	p := proc.Start(proc.Spec{Argv: j.Command, Dir: j.Dir, Env: j.Env, Timeout: time.Duration(j.Timeout),
		KillGrace: h.killGrace, OutputLimit: h.outputLimit, Mask: j.mask})
	a := &active{run: run, proc: p, done: make(chan struct{})}
	h.mu.Lock()
	h.active[run.ID] = a
	h.mu.Unlock()
	go h.follow(j, a)
}

// follow heartbeats a run until it ends, then records the end.
func (h *Handler) follow(j *job, a *active) {
	defer func() {
		// Only once the end is recorded: waiters then read the final row.
		h.mu.Lock()
		delete(h.active, a.run.ID)
		h.mu.Unlock()
		close(a.done)
	}()
	ctx := context.Background()
	if a.proc.Pid() != 0 {
		if err := h.store.DB.WithContext(ctx).Model(&storage.BackupRun{}).Where("id = ?", a.run.ID).
			Update("pid", a.proc.Pid()).Error; err != nil {
			h.log.Error("record backup pid", "job", j.Name, "run", a.run.ID, "err", err)
		}
	}
	t := time.NewTicker(h.heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-a.proc.Done():
			h.finish(ctx, j, a)
			return
		case <-t.C:
			out, total := a.proc.Output()
			hctx, cancel := context.WithTimeout(ctx, h.heartbeatEvery)
			by, err := storage.BackupHeartbeat(hctx, h.store.DB, a.run.ID, h.owner, h.clock.Now(), out, total)
			cancel()
			if err != nil {
				h.log.Error("backup heartbeat", "job", j.Name, "run", a.run.ID, "err", err)
				continue
			}
			if by != "" {
				h.cancel(a, by)
			}
		}
	}
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

// finish records how a run ended and tells its channel, editing the start
// message.
func (h *Handler) finish(ctx context.Context, j *job, a *active) {
	res := a.proc.Result()
	h.mu.Lock()
	cancelBy := a.cancelBy
	h.mu.Unlock()
	run := a.run
	now := h.clock.Now()
	run.FinishedAt, run.HeartbeatAt = &now, now
	run.DurationMS = res.Elapsed.Milliseconds()
	run.Output = res.Output
	run.OutputBytes = res.Total
	// A process killed by a signal has no exit code; Why says what stopped it.
	if res.StartErr == nil && res.ExitCode >= 0 {
		code := res.ExitCode
		run.ExitCode = &code
	}
	switch {
	case res.StartErr != nil:
		run.State, run.Error = storage.BackupFailed, j.mask.String(startError(j.Command, a.proc, res.StartErr))
	case res.Stopped == proc.TimedOut:
		run.State, run.Error = storage.BackupTimedOut, "timed out after "+j.Timeout.String()
	case res.Stopped == proc.Cancelled:
		run.State, run.Error = storage.BackupCancelled, "cancelled by "+cancelBy
	case res.ExitCode == 0:
		run.State = storage.BackupSucceeded
	case res.Signal != "":
		run.State, run.Error = storage.BackupFailed, "killed by signal: "+res.Signal
	default:
		run.State, run.Error = storage.BackupFailed, fmt.Sprintf("exit code %d", res.ExitCode)
	}
	// A finish that cannot be written is retried: the run must not stay
	// running, or its job could never run again until marked lost.
	for attempt := 1; ; attempt++ {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := h.store.Tx(fctx, func(tx *gorm.DB) error {
			if _, err := storage.FinishBackupRun(tx, run); err != nil {
				return err
			}
			return h.outbox.Enqueue(tx, notification(h.finishNote(j, run)).orNone(j)...)
		})
		cancel()
		if err == nil {
			break
		}
		h.log.Error("record backup end", "job", j.Name, "run", run.ID, "attempt", attempt, "err", err)
		if attempt == 5 {
			return
		}
		time.Sleep(time.Duration(attempt) * time.Second)
	}
	h.runs.WithLabelValues(j.Name, run.State).Inc()
	h.duration.WithLabelValues(j.Name).Observe(res.Elapsed.Seconds())
	h.log.Info("backup ended", "job", j.Name, "run", run.ID, "state", run.State, "exit_code", res.ExitCode,
		"duration", res.Elapsed.Round(time.Millisecond))
}

// startError says why a command did not run, or, rarely, could not be
// reaped.
func startError(argv []string, p *proc.Process, err error) string {
	switch {
	case len(argv) == 0:
		return err.Error()
	case p.Pid() == 0:
		return fmt.Sprintf("start %s: %v", argv[0], err)
	}
	return fmt.Sprintf("wait for %s: %v", argv[0], err)
}

// finishNote is the message that replaces a run's start message.
func (h *Handler) finishNote(j *job, run storage.BackupRun) notify.Notification {
	return notify.Notification{Key: fmt.Sprintf("backup:%d:finish", run.ID), Updates: startKey(run.ID),
		To: notify.Destination{Channel: j.Channel}, Reply: h.runReply(j.Name, run, true)}
}

// Drain waits for this process's runs to end. When ctx ends first, it
// cancels them (SIGTERM, SIGKILL after kill_grace) and waits for their ends
// to be recorded; no run is started after that.
func (h *Handler) Drain(ctx context.Context) {
	for {
		h.mu.Lock()
		if ctx.Err() != nil {
			h.stopping = true
		}
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

// Recover marks lost the runs left running by processes that are gone: the
// heartbeat is older than LostAfter (any backend; on PostgreSQL a run owned
// by a live replica keeps its heartbeat fresh), or, on SQLite, the owner was
// on this host and its process no longer exists. New calls it at start-up
// and Tick calls it every pass.
func (h *Handler) Recover(ctx context.Context) error {
	runs, err := storage.RunningBackupRuns(ctx, h.store.DB)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	var errs []error
	for _, r := range runs {
		if r.Owner == h.owner {
			continue
		}
		staleBefore := now.Add(-h.lostAfter)
		why := fmt.Sprintf("the opsbot process running it (%s) stopped: no heartbeat since %s", r.Owner, h.ago(r.HeartbeatAt))
		switch {
		case r.HeartbeatAt.Before(staleBefore):
		case h.store.Driver() == "sqlite" && h.deadHere(r.Owner):
			staleBefore = time.Time{}
			why = fmt.Sprintf("the opsbot process running it (%s) is gone", r.Owner)
		default:
			continue
		}
		j := h.jobs[r.Job]
		err := h.store.Tx(ctx, func(tx *gorm.DB) error {
			ok, err := storage.MarkBackupLost(tx, r, staleBefore, now, why)
			if err != nil || !ok {
				return err
			}
			r.State, r.Error, r.FinishedAt = storage.BackupLost, why, &now
			if j == nil {
				return nil
			}
			h.runs.WithLabelValues(r.Job, storage.BackupLost).Inc()
			return h.outbox.Enqueue(tx, notification(h.finishNote(j, r)).orNone(j)...)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("mark backup run %d lost: %w", r.ID, err))
			continue
		}
		if r.State == storage.BackupLost {
			h.log.Warn("backup run lost", "job", r.Job, "run", r.ID, "owner", r.Owner)
		}
	}
	return errors.Join(errs...)
}

// deadHere reports whether owner (hostname:pid:nonce) was a process on this
// host that no longer exists.
func (h *Handler) deadHere(owner string) bool {
	parts := strings.Split(owner, ":")
	if len(parts) != 3 || parts[0] != h.hostname {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if pid == h.pid {
		return true // this pid with another nonce: an earlier life of ours
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// job finds a job by name, or says which jobs there are.
func (h *Handler) job(name string) (*job, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if j, ok := h.jobs[name]; ok {
		return j, nil
	}
	if len(h.names) == 0 {
		return nil, bot.Errorf("No backup jobs are configured (add them under backups.jobs in the config).")
	}
	msg := fmt.Sprintf("No backup job called %q.", clip(name, 64))
	if c := bot.Closest(name, h.names); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	}
	return nil, bot.Errorf("%s Jobs: %s. Type /backup list to see them.", msg, strings.Join(h.names, ", "))
}

// mayRun says whether p may run and cancel the job: one of its roles, or
// admin (HasRole counts admin as every role). A job without roles is for
// admins only.
func mayRun(p bot.Person, j *job) bool {
	return p.HasRole("admin") || slices.ContainsFunc(j.Roles, p.HasRole)
}

func refuse(p bot.Person, verb string, j *job) error {
	need := "the admin role"
	if len(j.Roles) > 0 {
		need = "the " + strings.Join(j.Roles, " or ") + " role (or admin)"
	}
	return bot.Forbiddenf("You may not %s backup %s: it needs %s. Ask someone who has it.", verb, j.Name, need)
}
