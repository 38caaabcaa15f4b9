// Package statuspage serves opsbot's read-only status page: the state of
// every check with its last 24 hours, open incidents, the last run of each
// backup job, the ticket queue's SLA risk and pending access requests, as
// HTML at / and as JSON at /api/v1/status.
//
// Each section reads its data through one small interface ([CheckSource],
// [IncidentSource], [BackupSource], [TicketSource], [AccessSource]), so the
// page is tested with fixed data and each area fills its own section.
package statuspage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
	"unicode/utf8"
)

// Check is one configured check as the page shows it.
type Check struct {
	// Name is the check's name from the config.
	Name string `json:"name"`
	// Kind is http, tcp, dns, tls, snmp, command or backup-freshness.
	Kind string `json:"kind"`
	// State is up, down or unknown (never ran).
	State string `json:"state"`
	// LastAt is when it last ran; nil if never.
	LastAt *time.Time `json:"last_at"`
	// LastOK says whether the last run passed; nil if never ran.
	LastOK *bool `json:"last_ok"`
	// LastError is the last failure's message, with URL credentials and
	// query strings removed.
	LastError string `json:"last_error,omitempty"`
	// LastLatencyMS is the last run's latency; nil if never ran.
	LastLatencyMS *int64 `json:"last_latency_ms"`
	// UptimePercent is the share of passing runs in the last 24 hours;
	// nil without runs.
	UptimePercent *float64 `json:"uptime_24h_percent"`
	// Latency is the last 24 hours in buckets, oldest first.
	Latency []Bucket `json:"latency_24h"`
	// IncidentID is the check's open incident, 0 when none.
	IncidentID int64 `json:"incident_id,omitempty"`
}

// Bucket is one slice of a check's last 24 hours.
type Bucket struct {
	// Start is when the bucket begins.
	Start time.Time `json:"start"`
	// Runs and Failures count the runs in the bucket.
	Runs     int64 `json:"runs"`
	Failures int64 `json:"failures"`
	// AvgLatencyMS is the mean latency of the runs; nil without runs.
	AvgLatencyMS *int64 `json:"avg_latency_ms"`
}

// Incident is an incident as the page lists it.
type Incident struct {
	ID    int64  `json:"id"`
	Check string `json:"check"`
	// State is open, acknowledged or resolved.
	State    string    `json:"state"`
	OpenedAt time.Time `json:"opened_at"`
	// AgeSeconds is how long it has been open (until resolved, if it is).
	AgeSeconds int64 `json:"age_seconds"`
	// AckedBy is the name of who acknowledged it, if anyone did.
	AckedBy    string     `json:"acked_by,omitempty"`
	AckedAt    *time.Time `json:"acked_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	// Error is the latest failure's message, redacted as Check.LastError.
	Error string `json:"error,omitempty"`
}

// IncidentDetail is one incident with its timeline.
type IncidentDetail struct {
	Incident
	// Events is the timeline, oldest first: the newest 500 at most.
	Events []Event `json:"events"`
	// EarlierEvents counts the older events left out.
	EarlierEvents int64 `json:"earlier_events"`
}

// Event is one line of an incident's timeline.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Backup is one backup job's last run and freshness.
type Backup struct {
	Job string `json:"job"`
	// LastRun is the newest run in any state; nil if it never ran.
	LastRun *BackupRun `json:"last_run"`
	// Freshness is fresh, stale or none (the job has no fresh_within).
	Freshness string `json:"freshness"`
	// FreshWithinSeconds is the job's fresh_within, 0 when none.
	FreshWithinSeconds int64 `json:"fresh_within_seconds"`
	// LastSuccessAt is when it last succeeded; nil if never.
	LastSuccessAt *time.Time `json:"last_success_at"`
	// FreshnessText says it in words: "fresh: last success 2h ago, target 26h".
	FreshnessText string `json:"freshness_text"`
}

// BackupRun is the part of a run the page shows: no output, no error text.
type BackupRun struct {
	ID int64 `json:"id"`
	// State is running, succeeded, failed, timed_out, cancelled or lost.
	State      string     `json:"state"`
	Trigger    string     `json:"trigger"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// DurationSeconds is the run's wall time; 0 while it runs.
	DurationSeconds float64 `json:"duration_seconds"`
}

// Tickets is the active ticket queue with its SLA risk.
type Tickets struct {
	Open     int64 `json:"open"`
	AtRisk   int64 `json:"at_risk"`
	Breached int64 `json:"breached"`
	// ByPriority has every priority, most urgent first, zeros included.
	ByPriority []PriorityCount `json:"by_priority"`
}

// PriorityCount is the active tickets of one priority.
type PriorityCount struct {
	Priority string `json:"priority"`
	Open     int64  `json:"open"`
	AtRisk   int64  `json:"at_risk"`
	Breached int64  `json:"breached"`
}

// Access counts access requests.
type Access struct {
	// Pending counts requests waiting for approval.
	Pending int64 `json:"pending"`
	// Active counts access granted and not yet revoked.
	Active int64 `json:"active"`
	// OpenChecklists counts onboarding and offboarding checklists with
	// steps left.
	OpenChecklists int64 `json:"open_checklists"`
}

// Changes are the changes in flight: runbook runs waiting or running, and
// ports changed with /device port and when each is set back.
type Changes struct {
	Runbooks []RunbookRun `json:"runbooks"`
	Ports    []PortChange `json:"ports"`
}

// RunbookRun is a run the page shows: no parameters, no output.
type RunbookRun struct {
	ID      int64  `json:"id"`
	Runbook string `json:"runbook"`
	// State is pending, approved or running.
	State       string     `json:"state"`
	RequestedBy string     `json:"requested_by"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
}

// PortChange is a port set up or down until RevertsAt: no reason text.
type PortChange struct {
	ID     int64  `json:"id"`
	Device string `json:"device"`
	Port   string `json:"port"`
	// Action is what the port was set to, Previous what it is set back to.
	Action      string    `json:"action"`
	Previous    string    `json:"previous"`
	RequestedBy string    `json:"requested_by"`
	RevertsAt   time.Time `json:"reverts_at"`
	// RevertFailing is set while setting it back fails and is retried.
	RevertFailing bool `json:"revert_failing"`
}

// Status is everything the page shows; /api/v1/status returns it as JSON.
type Status struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Overall is ok (every check that ran passes and no incident is open),
	// failing, or unknown (no check has run).
	Overall string `json:"overall"`
	// Summary says Overall in words.
	Summary   string     `json:"summary"`
	Checks    []Check    `json:"checks"`
	Incidents []Incident `json:"incidents"`
	Backups   []Backup   `json:"backups"`
	Tickets   Tickets    `json:"tickets"`
	Access    Access     `json:"access"`
	Changes   Changes    `json:"changes"`
	// Unavailable names the sections that could not be read (checks,
	// incidents, backups, tickets, access, changes); they are empty above.
	Unavailable []string `json:"unavailable"`
}

// CheckSource reports every configured check with its last 24 hours.
type CheckSource interface {
	Checks(ctx context.Context, now time.Time) ([]Check, error)
}

// IncidentSource lists open incidents and reads one incident's timeline.
type IncidentSource interface {
	// OpenIncidents returns the incidents not yet resolved, newest first.
	OpenIncidents(ctx context.Context, now time.Time) ([]Incident, error)
	// Incident returns one incident; an error wrapping ErrNoIncident when
	// there is none with that number.
	Incident(ctx context.Context, id int64, now time.Time) (IncidentDetail, error)
}

// BackupSource reports each backup job's last run and freshness.
type BackupSource interface {
	Backups(ctx context.Context, now time.Time) ([]Backup, error)
}

// TicketSource counts the active ticket queue.
type TicketSource interface {
	Tickets(ctx context.Context, now time.Time) (Tickets, error)
}

// AccessSource counts access requests.
type AccessSource interface {
	Access(ctx context.Context, now time.Time) (Access, error)
}

// ChangeSource lists the runbook runs and port changes in flight.
type ChangeSource interface {
	Changes(ctx context.Context, now time.Time) (Changes, error)
}

// ErrNoIncident is what IncidentSource.Incident wraps for an unknown number.
var ErrNoIncident = errors.New("no such incident")

// Sources are where the sections come from; a nil source leaves its section
// out and names it in Status.Unavailable.
type Sources struct {
	Checks    CheckSource
	Incidents IncidentSource
	Backups   BackupSource
	Tickets   TicketSource
	Access    AccessSource
	Changes   ChangeSource
}

// Collect reads every section at now. A section that fails is logged and
// named in Unavailable; the others are still shown.
func Collect(ctx context.Context, src Sources, now time.Time, log *slog.Logger) Status {
	st := Status{GeneratedAt: now, Checks: []Check{}, Incidents: []Incident{}, Backups: []Backup{},
		Tickets: Tickets{ByPriority: []PriorityCount{}}, Changes: Changes{Runbooks: []RunbookRun{}, Ports: []PortChange{}},
		Unavailable: []string{}}
	section := func(name string, ok bool, read func() error) {
		if !ok {
			st.Unavailable = append(st.Unavailable, name)
			return
		}
		if err := read(); err != nil {
			log.Error("status page section", "section", name, "err", err)
			st.Unavailable = append(st.Unavailable, name)
		}
	}
	section("checks", src.Checks != nil, func() (err error) {
		cs, err := src.Checks.Checks(ctx, now)
		if err == nil && cs != nil {
			st.Checks = cs
		}
		return err
	})
	section("incidents", src.Incidents != nil, func() error {
		is, err := src.Incidents.OpenIncidents(ctx, now)
		if err == nil && is != nil {
			st.Incidents = is
		}
		return err
	})
	section("backups", src.Backups != nil, func() error {
		bs, err := src.Backups.Backups(ctx, now)
		if err == nil && bs != nil {
			st.Backups = bs
		}
		return err
	})
	section("tickets", src.Tickets != nil, func() error {
		t, err := src.Tickets.Tickets(ctx, now)
		if err == nil {
			st.Tickets = t
		}
		return err
	})
	section("access", src.Access != nil, func() error {
		a, err := src.Access.Access(ctx, now)
		if err == nil {
			st.Access = a
		}
		return err
	})
	section("changes", src.Changes != nil, func() error {
		c, err := src.Changes.Changes(ctx, now)
		if err == nil {
			st.Changes = c
		}
		return err
	})
	st.Overall, st.Summary = overall(st)
	return st
}

// overall sums up the checks and incidents in a word and a sentence.
func overall(st Status) (string, string) {
	var ran, down int
	for _, c := range st.Checks {
		switch c.State {
		case StateDown:
			ran++
			down++
		case StateUp:
			ran++
		}
	}
	open := len(st.Incidents)
	switch {
	case down > 0 || open > 0:
		return "failing", fmt.Sprintf("%s failing, %s open", count(down, "check"), count(open, "incident"))
	case ran == 0:
		return "unknown", "No check results yet"
	case ran < len(st.Checks):
		return "ok", fmt.Sprintf("%s passing, %d not run yet", count(ran, "check"), len(st.Checks)-ran)
	default:
		return "ok", fmt.Sprintf("All %s passing", count(ran, "check"))
	}
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Check states.
const (
	StateUp      = "up"
	StateDown    = "down"
	StateUnknown = "unknown"
)

var (
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s?#]*@`)
	urlQuery    = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#"']*)[?#][^\s"']*`)
)

// maxErrorRunes bounds an error message on the page.
const maxErrorRunes = 200

// Redact makes a check's error message fit for the page: it drops the
// credentials and the query string of any URL in it (where tokens hide)
// and cuts it to a line of 200 characters.
func Redact(s string) string {
	// Again until nothing is left: a removal may join what remains into
	// another match ("a://@@b"). Each pass shortens s, so this ends.
	for r := urlUserinfo.ReplaceAllString(s, "$1"); r != s; r = urlUserinfo.ReplaceAllString(s, "$1") {
		s = r
	}
	s = urlQuery.ReplaceAllString(s, "$1?…")
	if i := indexLineBreak(s); i >= 0 {
		s = s[:i] + " …"
	}
	if utf8.RuneCountInString(s) > maxErrorRunes {
		r := []rune(s)
		s = string(r[:maxErrorRunes]) + "…"
	}
	return s
}

func indexLineBreak(s string) int {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return i
		}
	}
	return -1
}
