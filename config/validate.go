package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole configuration and returns Problems listing
// everything wrong with it, each with its key path, or nil if it is valid.
// Parse calls it; call it again after changing a Config in Go.
func (c *Config) Validate() error {
	ps := c.validate()
	return c.withHints(ps.result()).err()
}

// validator collects the problems of one configuration.
type validator struct {
	problems
	c *Config

	// Names that references are checked against, each built once so that
	// checking stays linear in the size of the file.
	known struct {
		people, channels, queues, devices, jobs, checks, teams names
	}
	holders map[string]map[string]bool // role -> names of people with it

	zones     map[string]bool   // time zone -> whether it loads
	schedules map[string]string // spec and zone -> problem, "" if none
	unknowns  map[string]string // kind and name -> message
	stale     map[int]bool      // backup jobs reported for lacking fresh_within
}

// names is a list of names, such as those of the backup jobs, indexed.
type names struct {
	list  []string
	first map[string]int // name -> its first position in the list it came from
}

// add adds s, found at position i.
func (n *names) add(s string, i int) {
	if n.first == nil {
		n.first = map[string]int{}
	}
	if _, ok := n.first[s]; !ok {
		n.first[s] = i
		n.list = append(n.list, s)
	}
}

func (n *names) has(s string) bool {
	_, ok := n.first[s]
	return ok
}

func (c *Config) validate() problems {
	v := &validator{
		c:         c,
		holders:   map[string]map[string]bool{},
		zones:     map[string]bool{},
		schedules: map[string]string{},
		unknowns:  map[string]string{},
	}
	v.index()
	v.listen()
	v.log()
	v.database()
	v.slack()
	v.discord()
	v.people()
	v.channels()
	v.tickets()
	v.access()
	v.devices()
	v.backups()
	v.checks()
	v.maintenance()
	v.checkSettings()
	v.outbox()
	v.statusPage()
	v.teams()
	v.provisioning()
	v.runbooks()
	v.reports()
	return v.problems
}

// index collects the names that references are checked against.
func (v *validator) index() {
	c := v.c
	for i, p := range c.People {
		v.known.people.add(p.Name, i)
		for _, t := range p.Teams {
			v.known.teams.add(t, i)
		}
		for _, r := range p.Roles {
			if v.holders[r] == nil {
				v.holders[r] = map[string]bool{}
			}
			v.holders[r][p.Name] = true
		}
	}
	for i, name := range slices.Sorted(maps.Keys(c.Channels)) {
		v.known.channels.add(name, i)
	}
	for i, q := range c.Tickets.Queues {
		v.known.queues.add(q.Name, i)
	}
	for i, d := range c.Devices.Inventory {
		v.known.devices.add(d.Name, i)
	}
	for i, j := range c.Backups.Jobs {
		v.known.jobs.add(j.Name, i)
	}
	for i, ch := range c.Checks {
		v.known.checks.add(ch.Name, i)
	}
	for i, name := range slices.Sorted(maps.Keys(c.Teams)) {
		v.known.teams.add(name, len(c.People)+i)
	}
}

// ref checks that name is one of known, which are defined under where;
// what says what name names, for the message.
func (v *validator) ref(path, what, name string, known names, where string) bool {
	if known.has(name) {
		return true
	}
	if v.full() {
		v.more++
		return false
	}
	key := what + "\x00" + name
	msg, ok := v.unknowns[key]
	if !ok {
		msg = unknown(what, name, known.list, where)
		v.unknowns[key] = msg
	}
	v.addf(path, "%s", msg)
	return false
}

func (v *validator) listen() {
	host, port, err := net.SplitHostPort(v.c.Listen)
	if err != nil || !validPort(port, true) || strings.ContainsAny(host, " /") {
		v.addf("listen", "want host:port such as 127.0.0.1:8080 or :8080, got %q", v.c.Listen)
	}
}

func (v *validator) log() {
	v.oneOf("log.level", v.c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", v.c.Log.Format, "text", "json")
}

func (v *validator) database() {
	db := v.c.Database
	v.oneOf("database.driver", db.Driver, "sqlite", "postgres")
	if db.DSN == "" {
		v.addf("database.dsn", "required: a file name for sqlite, or a connection string such as postgres://opsbot@db/opsbot for postgres")
	}
	v.notNegative("database.max_open_conns", db.MaxOpenConns)
}

func (v *validator) slack() {
	s := v.c.Slack
	v.oneOf("slack.mode", s.Mode, "http", "socket")
	v.apiURL("slack.api_url", s.APIURL)
	if !s.Enabled {
		return
	}
	if s.BotToken == "" {
		v.addf("slack.bot_token", "required when slack.enabled is true")
	}
	switch s.Mode {
	case "http":
		if s.SigningSecret == "" {
			v.addf("slack.signing_secret", "required when slack.mode is http")
		}
	case "socket":
		if s.AppToken == "" {
			v.addf("slack.app_token", "required when slack.mode is socket")
		}
	}
}

func (v *validator) discord() {
	d := v.c.Discord
	v.oneOf("discord.mode", d.Mode, "http", "gateway")
	v.apiURL("discord.api_url", d.APIURL)
	if d.ApplicationID != "" && !snowflake(d.ApplicationID) {
		v.addf("discord.application_id", "want the application ID from the Discord developer portal, a number such as 100000000000000001, got %q", d.ApplicationID)
	}
	if d.PublicKey != "" && !hexKey(d.PublicKey) {
		v.addf("discord.public_key", "want the application's public key from the Discord developer portal: 64 hex digits")
	}
	if !d.Enabled {
		return
	}
	switch d.Mode {
	case "http":
		if d.ApplicationID == "" {
			v.addf("discord.application_id", "required when discord.mode is http")
		}
		if d.PublicKey == "" {
			v.addf("discord.public_key", "required when discord.mode is http")
		}
	case "gateway":
		if d.Token == "" {
			v.addf("discord.token", "required when discord.mode is gateway")
		}
	}
}

func (v *validator) apiURL(path, s string) {
	if s != "" {
		v.httpURL(path, s)
	}
}

func (v *validator) people() {
	names, slackIDs, discordIDs := seen{}, seen{}, seen{}
	for i, p := range v.c.People {
		path := index("people", i)
		v.uniqueName(names, join(path, "name"), p.Name, "name")
		if p.SlackID != "" {
			if !slackID(p.SlackID) {
				v.addf(join(path, "slack_id"), "want a Slack member ID such as U024BE7LH (profile, more, Copy member ID), got %q", p.SlackID)
			} else {
				v.unique(slackIDs, join(path, "slack_id"), p.SlackID, "slack_id")
			}
		}
		if p.DiscordID != "" {
			if !snowflake(p.DiscordID) {
				v.addf(join(path, "discord_id"), "want a Discord user ID, a number such as 100000000000000001 (Developer Mode, right-click the user, Copy User ID), got %q", p.DiscordID)
			} else {
				v.unique(discordIDs, join(path, "discord_id"), p.DiscordID, "discord_id")
			}
		}
		if p.Email != "" && !email(p.Email) {
			v.addf(join(path, "email"), "want an e-mail address such as alice@example.com, got %q", p.Email)
		}
		v.words(join(path, "roles"), p.Roles)
		v.words(join(path, "teams"), p.Teams)
	}
}

func (v *validator) channels() {
	for _, name := range slices.Sorted(maps.Keys(v.c.Channels)) {
		ch := v.c.Channels[name]
		path := join("channels", name)
		if !nameRE.MatchString(name) {
			v.addf(path, "%q is not a valid channel name (%s)", name, nameRule(name))
		}
		if ch.Slack == "" && ch.Discord == "" {
			v.addf(path, "set slack (a channel ID such as C01HELP), discord (a channel ID such as 200000000000000001) or both")
		}
		switch {
		case ch.Slack == "":
		case strings.HasPrefix(ch.Slack, "#"):
			v.addf(join(path, "slack"), "want the channel ID such as C01HELP, not its name (channel details, bottom of the About tab)")
		case !slackID(ch.Slack):
			v.addf(join(path, "slack"), "want a Slack channel ID such as C01HELP, got %q", ch.Slack)
		}
		if ch.Discord != "" && !snowflake(ch.Discord) {
			v.addf(join(path, "discord"), "want a Discord channel ID, a number such as 200000000000000001 (Developer Mode, right-click the channel, Copy Channel ID), got %q", ch.Discord)
		}
	}
}

func (v *validator) tickets() {
	t := v.c.Tickets
	if r := t.IntakeReaction; r == "" || len(r) > 64 || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789_+-'") != "" {
		v.addf("tickets.intake_reaction", "want an emoji name such as ticket (no colons, lower case), or off; got %q", r)
	}
	names := seen{}
	for i, q := range t.Queues {
		path := index("tickets.queues", i)
		v.uniqueName(names, join(path, "name"), q.Name, "queue")
		v.channelRef(join(path, "channel"), q.Channel)
		v.team(join(path, "team"), q.Team)
		v.words(join(path, "categories"), q.Categories)
	}
	if t.DefaultQueue != "" {
		v.ref("tickets.default_queue", "queue", t.DefaultQueue, v.known.queues, "tickets.queues")
	}
	for _, prio := range slices.Sorted(maps.Keys(t.SLA)) {
		path := join("tickets.sla", prio)
		if !slices.Contains(Priorities, prio) {
			v.addf(path, "unknown priority%s (use %s)", didYouMean(prio, Priorities), orList(Priorities))
			continue
		}
		sla := t.SLA[prio]
		switch {
		case sla.FirstResponse == 0 && sla.Resolve == 0:
			v.addf(path, "set first_response, resolve or both, e.g. {first_response: 1h, resolve: 1d}")
		case sla.Resolve != 0 && sla.FirstResponse > sla.Resolve:
			v.addf(join(path, "first_response"), "must not be longer than resolve (%s)", sla.Resolve)
		}
	}
	if t.BusinessHours != nil {
		v.businessHours("tickets.business_hours", *t.BusinessHours)
	}
}

// Weekdays lists the day names that business_hours.days accepts.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func (v *validator) businessHours(path string, b BusinessHours) {
	start, okStart := clock(b.Start)
	if !okStart {
		v.addf(join(path, "start"), "want a time of day as HH:MM such as 09:00, got %q", b.Start)
	}
	end, okEnd := clock(b.End)
	if !okEnd {
		v.addf(join(path, "end"), "want a time of day as HH:MM such as 17:00, got %q", b.End)
	}
	if okStart && okEnd && end <= start {
		v.addf(join(path, "end"), "must be after start (%s)", b.Start)
	}
	if len(b.Days) == 0 {
		v.addf(join(path, "days"), "required: the working days, e.g. [mon, tue, wed, thu, fri]")
	}
	days := seen{}
	for i, d := range b.Days {
		p := index(join(path, "days"), i)
		if !slices.Contains(Weekdays, d) {
			v.addf(p, "unknown day %q (use %s)", d, orList(Weekdays))
			continue
		}
		v.unique(days, p, d, "day")
	}
	v.timezone(join(path, "timezone"), b.Timezone, true)
}

// clock parses HH:MM into minutes after midnight.
func clock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (v *validator) access() {
	a := v.c.Access
	v.positive("access.pending_ttl", a.PendingTTL, "24h")
	if a.MaxConcurrentActions < 1 {
		v.addf("access.max_concurrent_actions", "must be at least 1")
	}
	names := seen{}
	for i, r := range a.Resources {
		path := index("access.resources", i)
		v.uniqueName(names, join(path, "name"), r.Name, "resource")
		v.words(join(path, "roles"), r.Roles)
		v.approvers(path, r)
		v.positive(join(path, "max_duration"), r.MaxDuration, "8h")
		v.channelRef(join(path, "channel"), r.Channel)
		v.team(join(path, "team"), r.Team)
		v.action(join(path, "grant"), r.Grant)
		v.action(join(path, "revoke"), r.Revoke)
	}
}

// approvers checks that enough people can approve requests for r.
func (v *validator) approvers(path string, r Resource) {
	extra := map[string]bool{} // approvers who do not hold approver_role
	approvers := seen{}
	for i, name := range r.Approvers {
		p := index(join(path, "approvers"), i)
		if v.personRef(p, name) && v.unique(approvers, p, name, "approver") && !v.holders[r.ApproverRole][name] {
			extra[name] = true
		}
	}
	holders := 0
	if r.ApproverRole != "" && v.name(join(path, "approver_role"), r.ApproverRole) {
		holders = len(v.holders[r.ApproverRole])
	}
	switch {
	case len(r.Approvers) == 0 && r.ApproverRole == "":
		v.addf(join(path, "approvers"), "set approvers (names from people), approver_role, or both")
	case r.Approvals < 1:
		v.addf(join(path, "approvals"), "must be at least 1")
	case len(r.Approvers) != len(approvers):
		// Unknown or repeated approvers are reported already.
	case len(extra)+holders < r.Approvals:
		fix := "add approvers or set approver_role"
		if r.ApproverRole != "" {
			fix = fmt.Sprintf("add approvers or give more people the role %q", r.ApproverRole)
		}
		v.addf(join(path, "approvals"), "needs %s but only %d people can approve (%s)", plural(r.Approvals, "approval"), len(extra)+holders, fix)
	}
}

func (v *validator) action(path string, a Action) {
	var set []string
	if a.Command != nil {
		set = append(set, "command")
	}
	if a.Webhook != nil {
		set = append(set, "webhook")
	}
	if a.Manual {
		set = append(set, "manual")
	}
	switch len(set) {
	case 0:
		v.addf(path, "set one of command (an argv list), webhook ({url: ..., secret: ...}) or manual: true")
		return
	case 1:
	default:
		v.addf(path, "set only one of command, webhook or manual (found %s)", strings.Join(set, " and "))
		return
	}
	switch {
	case a.Command != nil:
		v.argv(join(path, "command"), a.Command)
		v.positive(join(path, "timeout"), a.Timeout, "30s")
	case a.Webhook != nil:
		v.httpURL(join(join(path, "webhook"), "url"), a.Webhook.URL)
		if a.Webhook.Secret == "" {
			v.addf(join(join(path, "webhook"), "secret"), "required: the key that signs each request, e.g. \"${GRANT_WEBHOOK_SECRET}\"")
		}
		v.positive(join(path, "timeout"), a.Timeout, "30s")
	}
}

func (v *validator) checkSettings() {
	s := v.c.CheckSettings
	if s.Workers < 1 {
		v.addf("check_settings.workers", "must be at least 1")
	}
	v.positive("check_settings.retention", s.Retention, "7d")
	v.positive("check_settings.remind_every", s.RemindEvery, "30m")
	v.positive("check_settings.flap_window", s.FlapWindow, "1h")
}

func (v *validator) outbox() {
	o := v.c.Outbox
	if o.Workers < 1 {
		v.addf("outbox.workers", "must be at least 1")
	}
	v.positive("outbox.poll", o.Poll, "1s")
	v.positive("outbox.max_age", o.MaxAge, "24h")
	v.positive("outbox.max_backoff", o.MaxBackoff, "5m")
	v.positive("outbox.lease", o.Lease, "15s")
	v.positive("leader.interval", v.c.Leader.Interval, "2s")
}

func (v *validator) statusPage() {
	sp := v.c.StatusPage
	if sp.Refresh < 0 || sp.Refresh > 0 && sp.Refresh < Duration(5*time.Second) {
		v.addf("status_page.refresh", "must be 0 (off) or at least 5s, e.g. 60s")
	}
	if b := sp.Auth.Basic; b != nil {
		switch {
		case b.User == "":
			v.addf("status_page.auth.basic.user", "required with basic auth, e.g. ops")
		case strings.ContainsAny(b.User, ":\r\n"):
			v.addf("status_page.auth.basic.user", "must not contain ':' or a line break")
		}
		if len(b.Password.Reveal()) < 8 {
			v.addf("status_page.auth.basic.password", "needs at least 8 characters, e.g. \"${STATUS_PASSWORD}\"")
		}
	}
	if t := sp.Auth.Bearer.Reveal(); t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		v.addf("status_page.auth.bearer", "needs at least 16 characters and no spaces, e.g. \"${STATUS_TOKEN}\"")
	}
}

// Helpers shared by the sections.

// seen maps a value to the path where it was first seen.
type seen map[string]string

// uniqueName checks the name at path and that no other entry of its list,
// recorded in s, has it.
func (v *validator) uniqueName(s seen, path, name, what string) {
	if v.name(path, name) {
		v.unique(s, path, name, what)
	}
}

// unique reports whether value is new in s, and a problem if it is not.
func (v *validator) unique(s seen, path, value, what string) bool {
	if first, ok := s[value]; ok {
		v.addf(path, "duplicate %s %q (also at %s)", what, value, first)
		return false
	}
	s[value] = path
	return true
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// maxName is the longest name: the database keeps names in columns of 64
// to 128 characters (queues 64, checks 100), and PostgreSQL refuses longer.
const maxName = 64

// name checks a required name and reports whether it is valid.
func (v *validator) name(path, s string) bool {
	if s == "" {
		v.addf(path, "required (%s)", nameRule(""))
		return false
	}
	if !nameRE.MatchString(s) {
		v.addf(path, "%q is not a valid name (%s)", s, nameRule(s))
		return false
	}
	if len(s) > maxName {
		v.addf(path, "%q is %d characters long; a name has at most %d", s[:20]+"…", len(s), maxName)
		return false
	}
	return true
}

// nameRule describes valid names, with a fixed-up s as an example.
func nameRule(s string) string {
	rule := "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"
	fixed := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s), "-._")
	if fixed != "" && fixed != s && nameRE.MatchString(fixed) {
		return fmt.Sprintf("%s, e.g. %q", rule, fixed)
	}
	return rule
}

// words checks a list of lower-case words such as roles or teams.
func (v *validator) words(path string, list []string) {
	s := seen{}
	for i, w := range list {
		p := index(path, i)
		v.uniqueName(s, p, w, "entry")
	}
}

func (v *validator) oneOf(path, value string, allowed ...string) {
	switch {
	case slices.Contains(allowed, value):
	case value == "":
		v.addf(path, "required (use %s)", orList(allowed))
	default:
		v.addf(path, "unknown value %q%s (use %s)", value, didYouMean(value, allowed), orList(allowed))
	}
}

func (v *validator) positive(path string, d Duration, example string) {
	if d <= 0 {
		v.addf(path, "must be longer than 0, e.g. %s", example)
	}
}

func (v *validator) notNegative(path string, n int) {
	if n < 0 {
		v.addf(path, "must not be negative")
	}
}

// channelRef checks that name, if set, is a channel in channels.
func (v *validator) channelRef(path, name string) bool {
	return name == "" || v.ref(path, "channel", name, v.known.channels, "channels")
}

// personRef checks that name is a person in people.
func (v *validator) personRef(path, name string) bool {
	return v.ref(path, "person", name, v.known.people, "people")
}

// unknown says that name is not among known, which are defined under where.
func unknown(what, name string, known []string, where string) string {
	if s := didYouMean(name, known); s != "" {
		return fmt.Sprintf("unknown %s %q%s", what, name, s)
	}
	return fmt.Sprintf("unknown %s %q (define it under %s)", what, name, where)
}

// plural formats n and a noun, e.g. "1 approval" or "2 approvals".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// orList formats a list as "a, b or c".
func orList(list []string) string {
	if len(list) < 2 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
}

// argv checks a command given as a list of program and arguments.
func (v *validator) argv(path string, argv []string) {
	switch {
	case len(argv) == 0:
		v.addf(path, "required: the program and its arguments as a list, e.g. [/usr/local/bin/grant, prod-db]")
	case argv[0] == "":
		v.addf(index(path, 0), "the program must not be empty")
	case len(argv) == 1 && strings.ContainsAny(strings.TrimSpace(argv[0]), " \t"):
		v.addf(path, "looks like a shell command line; write the program and each argument as a list, e.g. [%s]",
			strings.Join(strings.Fields(argv[0]), ", "))
	}
}

// httpURL checks an http or https URL. It does not quote the URL, which
// may carry a token.
func (v *validator) httpURL(path, s string) {
	if s == "" {
		v.addf(path, "required: an http:// or https:// URL")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.addf(path, "want an http:// or https:// URL with a host, such as https://example.com/health")
	}
}

func (v *validator) timezone(path, tz string, required bool) bool {
	if tz == "" {
		if required {
			v.addf(path, "required: an IANA time zone such as UTC or Europe/Paris")
		}
		return !required
	}
	ok, seen := v.zones[tz]
	if !seen {
		_, err := time.LoadLocation(tz)
		ok = err == nil
		v.zones[tz] = ok
	}
	if !ok {
		v.addf(path, "unknown time zone %q (use an IANA name such as UTC or Europe/Paris)", tz)
	}
	return ok
}

// schedule checks a cron schedule and its time zone.
func (v *validator) schedule(path, spec, tzPath, tz string) {
	tzOK := v.timezone(tzPath, tz, false)
	if tz != "" && hasTZ(strings.TrimSpace(spec)) {
		v.addf(tzPath, "the schedule names its own time zone with a CRON_TZ= prefix; keep one of them")
		return
	}
	if !tzOK {
		tz = ""
	}
	key := spec + "\x00" + tz
	msg, seen := v.schedules[key]
	if !seen {
		if _, err := ParseSchedule(spec, tz); err != nil {
			msg = err.Error()
		}
		v.schedules[key] = msg
	}
	if msg != "" {
		v.addf(path, "%s", msg)
	}
}
