package backups

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/checks"
	"opsbot/clock"
	"opsbot/handlers"
	"opsbot/storage"
)

// Limits of what chat replies show.
const (
	tailLines    = 10   // lines of output in run messages
	tailBytes    = 1000 // bytes of output in run messages
	logBytes     = 3000 // bytes of output /backup log shows
	historyLimit = 10   // runs /backup history shows by default
	historyMax   = 100
)

// Command is the /backup command table.
func (h *Handler) Command() bot.Command {
	jobArg := bot.Param{Name: "job", Kind: bot.KindString, Required: true, Placeholder: "JOB", Help: "a job name from /backup list"}
	runArg := bot.Param{Name: "run", Kind: bot.KindID, Required: true, Placeholder: "RUN", Help: "a run number such as 7 or #7"}
	return bot.Command{Name: "backup", Summary: "Run and follow backup jobs", Subs: []bot.Sub{
		{Name: "list", Summary: "Jobs with their last result, last success, next scheduled run and freshness", Run: h.list},
		{Name: "run", Summary: "Start a job now; its channel hears when it starts and ends", Args: []bot.Param{jobArg},
			Slow: true, Ack: func(req *bot.Request) string { return "Starting " + req.String("job") + "…" }, Run: h.run},
		{Name: "status", Summary: "What is running, or how a job or run stands",
			Args: []bot.Param{{Name: "target", Kind: bot.KindString, Placeholder: "JOB|RUN", Help: "a job name, or a run number such as #7"}},
			Run:  h.status},
		{Name: "history", Summary: "A job's recent runs", Args: []bot.Param{jobArg},
			Flags: []bot.Param{{Name: "limit", Kind: bot.KindInt, Help: fmt.Sprintf("how many runs, 1 to %d (default %d)", historyMax, historyLimit)}},
			Run:   h.history},
		{Name: "cancel", Summary: "Stop a running run (SIGTERM, then SIGKILL after the grace period)", Args: []bot.Param{runArg}, Run: h.cancelCmd},
		{Name: "log", Summary: "The stored tail of a run's output", Args: []bot.Param{runArg}, Run: h.logCmd},
	}}
}

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	if len(h.names) == 0 {
		return bot.Text("No backup jobs are configured (add them under backups.jobs in the config)."), nil
	}
	now := h.clock.Now()
	var b strings.Builder
	severity := bot.SeverityNone
	for i, name := range h.names {
		j := h.jobs[name]
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(j.Name)
		if j.Description != "" {
			b.WriteString(" — " + j.Description)
		}
		b.WriteString("\n")
		last, err := storage.LatestBackupRun(ctx, h.store.DB, j.Name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			b.WriteString("  last run: never\n")
		case err != nil:
			return bot.Reply{}, err
		case last.State == storage.BackupRunning:
			fmt.Fprintf(&b, "  running: #%d, started %s by %s\n", last.ID, clock.Ago(now, last.StartedAt), last.RequestedBy)
			if prev, err := storage.LatestBackupRun(ctx, h.store.DB, j.Name, storage.BackupSucceeded, storage.BackupFailed,
				storage.BackupTimedOut, storage.BackupCancelled, storage.BackupLost); err == nil {
				fmt.Fprintf(&b, "  last result: %s (#%d, %s)\n", describe(prev), prev.ID, clock.Ago(now, finished(prev)))
			}
		default:
			fmt.Fprintf(&b, "  last result: %s (#%d, %s)\n", describe(last), last.ID, clock.Ago(now, finished(last)))
		}
		f, err := checks.BackupFreshness(ctx, h.store.DB, j.BackupJob, now)
		if err != nil {
			return bot.Reply{}, err
		}
		fmt.Fprintf(&b, "  %s\n", f.Text)
		if f.Stale {
			severity = bot.SeverityWarning
		}
		if j.sched != nil {
			fmt.Fprintf(&b, "  next scheduled run: %s (%s)\n", h.nextRun(ctx, j, now), j.Schedule)
		} else {
			b.WriteString("  not scheduled (run it with /backup run " + j.Name + ")\n")
		}
	}
	return bot.Reply{Title: "Backup jobs", Text: strings.TrimRight(b.String(), "\n"), Severity: severity}, nil
}

// nextRun is when the schedule fires next, from where it stands in the
// database.
func (h *Handler) nextRun(ctx context.Context, j *job, now time.Time) string {
	from := now
	if sc, err := storage.GetBackupSchedule(ctx, h.store.DB, j.Name); err == nil {
		from = sc.LastAt
	}
	next := j.sched.Next(from)
	switch {
	case next.IsZero():
		return "never"
	case !next.After(now):
		return "due now"
	}
	return next.Format("2006-01-02 15:04 MST") + " (in " + clock.Span(next.Sub(now)) + ")"
}

func (h *Handler) run(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	j, err := h.job(req.String("job"))
	if err != nil {
		return bot.Reply{}, err
	}
	if !mayRun(req.Person, j) {
		return bot.Reply{}, refuse(req.Person, "run", j)
	}
	run := storage.BackupRun{Job: j.Name, Trigger: "manual", RequestedBy: req.Person.Name}
	var started bool
	var running storage.BackupRun
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if started, running, err = h.begin(tx, j, &run); err != nil || !started {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "backup.run", "backup:"+j.Name, fmt.Sprintf("#%d", run.ID)))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if !started {
		return bot.Reply{Severity: bot.SeverityWarning, Text: fmt.Sprintf(
			"Backup %s is already running as #%d (started %s by %s). Follow it with /backup status %d.",
			j.Name, running.ID, clock.Ago(h.clock.Now(), running.StartedAt), running.RequestedBy, running.ID)}, nil
	}
	h.launch(j, run)
	text := fmt.Sprintf("Started backup %s as #%d. Follow it with /backup status %d; stop it with /backup cancel %d.",
		j.Name, run.ID, run.ID, run.ID)
	if j.Channel != "" {
		text += fmt.Sprintf(" #%s hears when it ends.", j.Channel)
	}
	return bot.Reply{Text: text, Severity: bot.SeverityInfo}, nil
}

func (h *Handler) status(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	target := strings.TrimSpace(req.String("target"))
	if target == "" {
		runs, err := storage.RunningBackupRuns(ctx, h.store.DB)
		if err != nil {
			return bot.Reply{}, err
		}
		if len(runs) == 0 {
			return bot.Text("No backups are running. Type /backup list for every job, or /backup status JOB for one."), nil
		}
		var b strings.Builder
		now := h.clock.Now()
		for _, r := range runs {
			fmt.Fprintf(&b, "#%d %s: started %s by %s\n", r.ID, r.Job, clock.Ago(now, r.StartedAt), r.RequestedBy)
		}
		return bot.Reply{Title: "Running backups", Text: strings.TrimRight(b.String(), "\n")}, nil
	}
	id, ok := runID(target)
	if !ok && strings.HasPrefix(target, "#") {
		return bot.Reply{}, bot.Errorf("%q is not a run number; use one such as #7 (see /backup history JOB), or a job name.", clip(target, 32))
	}
	if ok && (strings.HasPrefix(target, "#") || h.jobs[strings.ToLower(target)] == nil) {
		r, err := h.getRun(ctx, id)
		if err != nil {
			return bot.Reply{}, err
		}
		return h.runReply(r.Job, r, false), nil
	}
	j, err := h.job(target)
	if err != nil {
		return bot.Reply{}, err
	}
	r, err := storage.LatestBackupRun(ctx, h.store.DB, j.Name)
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Text(fmt.Sprintf("Backup %s has never run. Start it with /backup run %s.", j.Name, j.Name)), nil
	}
	if err != nil {
		return bot.Reply{}, err
	}
	r, err = h.getRun(ctx, r.ID)
	if err != nil {
		return bot.Reply{}, err
	}
	reply := h.runReply(j.Name, r, false)
	f, err := checks.BackupFreshness(ctx, h.store.DB, j.BackupJob, h.clock.Now())
	if err != nil {
		return bot.Reply{}, err
	}
	reply.Fields = append(reply.Fields, bot.Field{Name: "Freshness", Value: f.Text})
	return reply, nil
}

// runID reads "7" or "#7" as a run number.
func runID(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	return n, err == nil && n > 0
}

// getRun loads a run with its output, or says how to find run numbers.
func (h *Handler) getRun(ctx context.Context, id int64) (storage.BackupRun, error) {
	r, err := storage.GetBackupRun(ctx, h.store.DB, id)
	if errors.Is(err, storage.ErrNotFound) {
		return r, bot.Errorf("There is no backup run #%d. Type /backup history JOB to find run numbers.", id)
	}
	return r, err
}

func (h *Handler) history(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	j, err := h.job(req.String("job"))
	if err != nil {
		return bot.Reply{}, err
	}
	limit := historyLimit
	if req.Has("limit") {
		n := req.Int("limit")
		if n < 1 || n > historyMax {
			return bot.Reply{}, bot.Errorf("--limit must be between 1 and %d, e.g. /backup history %s --limit 20.", historyMax, j.Name)
		}
		limit = int(n)
	}
	runs, err := storage.ListBackupRuns(ctx, h.store.DB, j.Name, limit)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(runs) == 0 {
		return bot.Text(fmt.Sprintf("Backup %s has never run. Start it with /backup run %s.", j.Name, j.Name)), nil
	}
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "#%d  %s  %s  %s  by %s\n", r.ID, r.StartedAt.Format("2006-01-02 15:04 MST"), describe(r),
			runDuration(r, h.clock.Now()), r.RequestedBy)
	}
	return bot.Reply{Title: fmt.Sprintf("Backup %s: last %d run(s)", j.Name, len(runs)),
		Text: strings.TrimRight(b.String(), "\n"), Footer: "Details: /backup status RUN · output: /backup log RUN"}, nil
}

// allowedRun loads run id and its job, which p must be allowed to verb.
func (h *Handler) allowedRun(ctx context.Context, p bot.Person, id int64, verb string) (storage.BackupRun, *job, error) {
	r, err := h.getRun(ctx, id)
	if err != nil {
		return r, nil, err
	}
	j := h.jobs[r.Job]
	if j == nil {
		// A job removed from the config: only admins touch its runs.
		j = &job{}
		j.Name = r.Job
	}
	if !mayRun(p, j) {
		return r, nil, refuse(p, verb, j)
	}
	return r, j, nil
}

func (h *Handler) cancelCmd(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, _, err := h.allowedRun(ctx, req.Person, req.Int("run"), "cancel")
	if err != nil {
		return bot.Reply{}, err
	}
	if r.State != storage.BackupRunning {
		return bot.Reply{}, bot.Errorf("Backup run #%d is not running (%s); there is nothing to cancel.", r.ID, describe(r))
	}
	var ok bool
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if ok, err = storage.RequestBackupCancel(tx, r.ID, req.Person.Name); err != nil || !ok {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "backup.cancel", "backup:"+r.Job, fmt.Sprintf("#%d", r.ID)))
	})
	if err != nil {
		return bot.Reply{}, err
	}
	if !ok {
		return bot.Reply{}, bot.Errorf("Backup run #%d has just ended; there is nothing to cancel. See /backup status %d.", r.ID, r.ID)
	}
	h.mu.Lock()
	a := h.active[r.ID]
	h.mu.Unlock()
	if a != nil {
		h.cancel(a, req.Person.Name)
		return bot.Reply{Severity: bot.SeverityInfo, Text: fmt.Sprintf(
			"Cancelling backup %s #%d: SIGTERM sent to its processes, SIGKILL in %s if they do not stop.",
			r.Job, r.ID, clock.Span(h.killGrace))}, nil
	}
	return bot.Reply{Severity: bot.SeverityInfo, Text: fmt.Sprintf(
		"Asked the opsbot process running backup %s #%d to stop it; it checks every %s. See /backup status %d.",
		r.Job, r.ID, clock.Span(h.heartbeatEvery), r.ID)}, nil
}

func (h *Handler) logCmd(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, _, err := h.allowedRun(ctx, req.Person, req.Int("run"), "read the output of")
	if err != nil {
		return bot.Reply{}, err
	}
	out := r.Output
	if a := h.localRun(r.ID); a != nil {
		out, _ = a.proc.Output()
	}
	title := fmt.Sprintf("Backup %s #%d output", r.Job, r.ID)
	if out == "" {
		return bot.Reply{Title: title, Text: "(no output)"}, nil
	}
	shown := cutHead(out, logBytes)
	if len(shown) < len(out) || r.OutputBytes > int64(len(out)) {
		title += fmt.Sprintf(" (last %d of %d bytes)", len(shown), max(r.OutputBytes, int64(len(out))))
	}
	return bot.Reply{Title: title, Code: strings.TrimRight(shown, "\n")}, nil
}

func (h *Handler) localRun(id int64) *active {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active[id]
}

// runReply describes one run: in a channel message when it ends, or as
// the answer to /backup status.
func (h *Handler) runReply(jobName string, r storage.BackupRun, inChannel bool) bot.Reply {
	now := h.clock.Now()
	reply := bot.Reply{Title: fmt.Sprintf("Backup %s #%d %s", jobName, r.ID, describe(r)), InChannel: inChannel}
	switch r.State {
	case storage.BackupSucceeded:
		reply.Severity = bot.SeveritySuccess
	case storage.BackupRunning:
		reply.Severity = bot.SeverityInfo
	case storage.BackupCancelled:
		reply.Severity = bot.SeverityWarning
	default:
		reply.Severity = bot.SeverityDanger
	}
	by := r.RequestedBy
	if r.Trigger == "schedule" {
		by = "the schedule"
	}
	reply.Fields = append(reply.Fields,
		bot.Field{Name: "Started", Value: r.StartedAt.Format("2006-01-02 15:04:05 MST") + " by " + by, Short: true},
		bot.Field{Name: "Duration", Value: runDuration(r, now), Short: true})
	if r.ExitCode != nil {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Exit code", Value: strconv.Itoa(*r.ExitCode), Short: true})
	}
	if r.Error != "" {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Why", Value: r.Error})
	}
	out := r.Output
	if a := h.localRun(r.ID); a != nil && r.State == storage.BackupRunning {
		out, _ = a.proc.Output()
	}
	if t := lastLines(out, tailLines, tailBytes); t != "" {
		reply.Code = t
	}
	if r.State == storage.BackupRunning {
		reply.Footer = fmt.Sprintf("Stop it with /backup cancel %d · output: /backup log %d", r.ID, r.ID)
	} else if r.Output != "" {
		reply.Footer = fmt.Sprintf("Full tail: /backup log %d", r.ID)
	}
	return reply
}

// describe says how a run stands in a few words.
func describe(r storage.BackupRun) string {
	switch r.State {
	case storage.BackupFailed:
		if r.ExitCode != nil && *r.ExitCode > 0 {
			return fmt.Sprintf("failed (exit %d)", *r.ExitCode)
		}
		return "failed"
	case storage.BackupTimedOut:
		return "timed out"
	case storage.BackupCancelled:
		if by, ok := strings.CutPrefix(r.Error, "cancelled by "); ok {
			return "cancelled by " + by
		}
		return "cancelled"
	}
	return r.State
}

func finished(r storage.BackupRun) time.Time {
	if r.FinishedAt != nil {
		return *r.FinishedAt
	}
	return r.StartedAt
}

// runDuration is the run's measured wall time, or how long it has run.
func runDuration(r storage.BackupRun, now time.Time) string {
	switch {
	case r.State == storage.BackupRunning:
		return clock.Span(now.Sub(r.StartedAt)) + " so far"
	case r.DurationMS > 0 || r.State != storage.BackupLost:
		return fmtElapsed(time.Duration(r.DurationMS) * time.Millisecond)
	default:
		return "unknown"
	}
}

// lastLines is the end of s: at most n lines and max bytes, cut at a line.
func lastLines(s string, n, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return cutHead(strings.Join(lines, "\n"), maxBytes)
}

// cutHead keeps the last max bytes of s, starting at a line (or at a rune
// when a line alone is longer).
func cutHead(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	s = s[len(s)-maxBytes:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	return strings.ToValidUTF8(s, "")
}

func (h *Handler) ago(t time.Time) string { return clock.Ago(h.clock.Now(), t) }

// fmtElapsed is a run's duration: 350ms, 4.2s, 1m05s, 1h02m03s.
func fmtElapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
}

// clip shortens s to n runes for echoing untrusted input.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
