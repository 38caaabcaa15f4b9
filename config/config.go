// Package config reads, checks and describes the opsbot configuration file.
//
// A file is read with [Load] or [Parse]. Scalar values may refer to the
// environment as ${VAR} or ${VAR:-default}; $$ stands for a literal $. Every
// problem in the file (syntax, unknown keys, wrong types and invalid values)
// is reported at once as [Problems], each with the path of its key, such as
// checks[2].every.
//
// Defaults are filled in while the file is decoded, so a value that is
// written explicitly, even as 0, is kept and checked. [Default] returns a
// configuration with every top-level default set, for tests and tools that
// build a Config in Go.
package config

import "time"

// Config is the whole opsbot configuration file.
type Config struct {
	// Listen is the host:port the HTTP server binds (key listen,
	// default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// Log configures logging (key log).
	Log LogConfig `yaml:"log"`
	// Database says where records are stored (key database).
	Database DatabaseConfig `yaml:"database"`
	// Slack configures the Slack adapter (key slack).
	Slack SlackConfig `yaml:"slack"`
	// Discord configures the Discord adapter (key discord).
	Discord DiscordConfig `yaml:"discord"`
	// People lists everyone the bot knows, with their roles (key people).
	People []Person `yaml:"people"`
	// Channels names the destinations that other keys refer to by name
	// (key channels).
	Channels map[string]Channel `yaml:"channels"`
	// Tickets configures the helpdesk (key tickets).
	Tickets TicketsConfig `yaml:"tickets"`
	// Access configures access requests (key access).
	Access AccessConfig `yaml:"access"`
	// Devices holds the device inventory and its SNMP settings (key devices).
	Devices DevicesConfig `yaml:"devices"`
	// Backups lists the backup jobs (key backups).
	Backups BackupsConfig `yaml:"backups"`
	// Checks lists the scheduled checks (key checks).
	Checks []Check `yaml:"checks"`
	// Maintenance lists windows in which checks do not raise incidents
	// (key maintenance).
	Maintenance []Maintenance `yaml:"maintenance"`
	// CheckSettings tunes the check scheduler and incidents
	// (key check_settings).
	CheckSettings CheckSettings `yaml:"check_settings"`
	// Outbox tunes delivery of notifications (key outbox).
	Outbox OutboxConfig `yaml:"outbox"`
	// Leader tunes the election of the replica that runs scheduled work
	// (key leader).
	Leader LeaderConfig `yaml:"leader"`
	// StatusPage configures the status page at / and /api/v1/status
	// (key status_page).
	StatusPage StatusPageConfig `yaml:"status_page"`
	// Teams maps a team's name to its channel, on-call rotation and
	// escalation (key teams).
	Teams map[string]Team `yaml:"teams"`
	// Provisioning holds the onboarding and offboarding templates
	// (key provisioning).
	Provisioning ProvisioningConfig `yaml:"provisioning"`
	// Runbooks lists the commands people may run from chat with /run
	// (key runbooks).
	Runbooks []Runbook `yaml:"runbooks"`
	// Reports lists the ops digests posted into channels on a schedule
	// (key reports).
	Reports []Report `yaml:"reports"`

	// unset maps a key path to the environment variables that its value
	// referred to without a default but that were not set.
	unset map[string][]string
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error (key level, default info).
	Level string `yaml:"level"`
	// Format is text or json (key format, default text).
	Format string `yaml:"format"`
}

// DatabaseConfig says where records are stored.
type DatabaseConfig struct {
	// Driver is sqlite or postgres (key driver, default sqlite).
	Driver string `yaml:"driver"`
	// DSN is the SQLite file name or the PostgreSQL connection string
	// (key dsn, default opsbot.db). It may hold a password: do not log it.
	DSN string `yaml:"dsn"`
	// MaxOpenConns limits open connections; 0 means no limit
	// (key max_open_conns).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// SlackConfig configures the Slack adapter.
type SlackConfig struct {
	// Enabled turns the adapter on (key enabled).
	Enabled bool `yaml:"enabled"`
	// Mode is http (slash commands over HTTP) or socket (Socket Mode)
	// (key mode, default http).
	Mode string `yaml:"mode"`
	// BotToken is the xoxb- token (key bot_token).
	BotToken Secret `yaml:"bot_token"`
	// AppToken is the xapp- token that Socket Mode needs (key app_token).
	AppToken Secret `yaml:"app_token"`
	// SigningSecret verifies HTTP requests from Slack (key signing_secret).
	SigningSecret Secret `yaml:"signing_secret"`
	// APIURL overrides the Slack API base URL, for tests (key api_url).
	APIURL string `yaml:"api_url"`
}

// DiscordConfig configures the Discord adapter.
type DiscordConfig struct {
	// Enabled turns the adapter on (key enabled).
	Enabled bool `yaml:"enabled"`
	// Mode is http (interactions endpoint) or gateway (websocket)
	// (key mode, default http).
	Mode string `yaml:"mode"`
	// Token is the bot token (key token).
	Token Secret `yaml:"token"`
	// ApplicationID is the application's snowflake (key application_id).
	ApplicationID string `yaml:"application_id"`
	// PublicKey is the application's Ed25519 public key in hex
	// (key public_key).
	PublicKey string `yaml:"public_key"`
	// APIURL overrides the Discord API base URL, for tests (key api_url).
	APIURL string `yaml:"api_url"`
}

// Person is someone the bot knows.
type Person struct {
	// Name is the person's unique lower-case handle (key name).
	Name string `yaml:"name"`
	// SlackID is the Slack user ID, e.g. U01ALICE (key slack_id).
	SlackID string `yaml:"slack_id"`
	// DiscordID is the Discord user snowflake (key discord_id).
	DiscordID string `yaml:"discord_id"`
	// Email is the person's e-mail address (key email).
	Email string `yaml:"email"`
	// Roles grant permissions, e.g. helpdesk, approver, oncall, admin
	// (key roles).
	Roles []string `yaml:"roles"`
	// Teams name the teams the person belongs to (key teams); a team's
	// rotation may order only its members.
	Teams []string `yaml:"teams"`
}

// HasRole reports whether the person has the role.
func (p Person) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Channel is a named destination on one or both platforms.
type Channel struct {
	// Slack is the Slack channel ID, e.g. C01HELP (key slack).
	Slack string `yaml:"slack"`
	// Discord is the Discord channel snowflake (key discord).
	Discord string `yaml:"discord"`
}

// TicketsConfig configures the helpdesk.
type TicketsConfig struct {
	// Queues lists the ticket queues (key queues).
	Queues []Queue `yaml:"queues"`
	// DefaultQueue names the queue for tickets without a category
	// (key default_queue, default the first queue).
	DefaultQueue string `yaml:"default_queue"`
	// SLA maps a priority (low, normal, high, urgent) to its targets
	// (key sla).
	SLA map[string]SLA `yaml:"sla"`
	// ReopenWindow is how long after being resolved a ticket may be reopened
	// (key reopen_window, default 7d).
	ReopenWindow Duration `yaml:"reopen_window"`
	// BusinessHours, when set, makes SLA clocks run only in working hours
	// (key business_hours).
	BusinessHours *BusinessHours `yaml:"business_hours"`
	// WarnBefore is how long before an SLA breach to warn
	// (key warn_before, default 15m).
	WarnBefore Duration `yaml:"warn_before"`
	// IntakeReaction is the emoji (name without colons) whose reaction on a
	// Slack message files a ticket from it (key intake_reaction, default
	// ticket; "off" turns reactions off).
	IntakeReaction string `yaml:"intake_reaction"`
}

// Priorities lists the ticket priorities, lowest first; they are the keys
// that tickets.sla accepts.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Queue is a ticket queue.
type Queue struct {
	// Name is the queue's unique name (key name).
	Name string `yaml:"name"`
	// Channel names the channel that hears about the queue's tickets
	// (key channel).
	Channel string `yaml:"channel"`
	// Categories are the ticket categories routed to this queue
	// (key categories).
	Categories []string `yaml:"categories"`
	// Team names the team that owns the queue: its channel hears about the
	// queue's tickets unless channel is set (key team).
	Team string `yaml:"team"`
}

// SLA holds the targets for one ticket priority.
type SLA struct {
	// FirstResponse is the time allowed until the first reply
	// (key first_response).
	FirstResponse Duration `yaml:"first_response"`
	// Resolve is the time allowed until the ticket is resolved (key resolve).
	Resolve Duration `yaml:"resolve"`
}

// BusinessHours are the working hours in which SLA clocks run.
type BusinessHours struct {
	// Start is the opening time as HH:MM (key start, default 09:00).
	Start string `yaml:"start"`
	// End is the closing time as HH:MM (key end, default 17:00).
	End string `yaml:"end"`
	// Days are the working days: mon, tue, wed, thu, fri, sat, sun
	// (key days, default mon to fri).
	Days []string `yaml:"days"`
	// Timezone is an IANA time zone name (key timezone, default UTC).
	Timezone string `yaml:"timezone"`
}

// AccessConfig configures access requests.
type AccessConfig struct {
	// Resources lists what can be requested (key resources).
	Resources []Resource `yaml:"resources"`
	// PendingTTL is how long a request waits for approval before it
	// expires (key pending_ttl, default 24h).
	PendingTTL Duration `yaml:"pending_ttl"`
	// WarnBefore is how long before a grant expires to warn its holder
	// (key warn_before, default 15m).
	WarnBefore Duration `yaml:"warn_before"`
	// MaxConcurrentActions limits the grant and revoke actions that run at
	// once; more wait their turn (key max_concurrent_actions, default 8).
	MaxConcurrentActions int `yaml:"max_concurrent_actions"`
}

// Resource is something people can request access to.
type Resource struct {
	// Name is the resource's unique name (key name).
	Name string `yaml:"name"`
	// Description is shown to requesters (key description).
	Description string `yaml:"description"`
	// Roles are the access levels that can be requested, e.g. read, write
	// (key roles).
	Roles []string `yaml:"roles"`
	// Approvers are names of people who may approve (key approvers).
	Approvers []string `yaml:"approvers"`
	// ApproverRole lets everyone with this role approve (key approver_role).
	ApproverRole string `yaml:"approver_role"`
	// Approvals is how many approvals a request needs
	// (key approvals, default 1).
	Approvals int `yaml:"approvals"`
	// MaxDuration is the longest grant allowed (key max_duration).
	MaxDuration Duration `yaml:"max_duration"`
	// ReasonRequired makes requesters give a reason (key reason_required).
	ReasonRequired bool `yaml:"reason_required"`
	// Channel names the channel that hears about requests (key channel).
	Channel string `yaml:"channel"`
	// Team names the team that owns the resource: its channel hears about
	// requests unless channel is set (key team).
	Team string `yaml:"team"`
	// Grant gives access (key grant).
	Grant Action `yaml:"grant"`
	// Revoke takes access away (key revoke; if omitted while grant is
	// manual, it is manual too).
	Revoke Action `yaml:"revoke"`
}

// Action is how access is granted or revoked: exactly one of Command,
// Webhook or Manual is set.
type Action struct {
	// Command is run as an argv list (key command).
	Command []string `yaml:"command"`
	// Timeout limits Command or Webhook (key timeout, default 30s).
	Timeout Duration `yaml:"timeout"`
	// Webhook is called with a signed POST (key webhook).
	Webhook *Webhook `yaml:"webhook"`
	// Manual means a person does it and confirms in chat (key manual).
	Manual bool `yaml:"manual"`
}

// Webhook is an HTTP endpoint that is called with a signed request.
type Webhook struct {
	// URL is the http or https endpoint (key url).
	URL string `yaml:"url"`
	// Secret signs the request body (key secret).
	Secret Secret `yaml:"secret"`
}

// DevicesConfig holds the device inventory and its SNMP settings.
type DevicesConfig struct {
	// SNMP is the default SNMP profile (key snmp; defaults version 2c,
	// port 161, timeout 2s, retries 1).
	SNMP SNMPProfile `yaml:"snmp"`
	// Inventory lists the devices (key inventory).
	Inventory []Device `yaml:"inventory"`
	// MaxConcurrent limits simultaneous SNMP queries, device lookups and
	// snmp checks together (key max_concurrent, default 16).
	MaxConcurrent int `yaml:"max_concurrent"`
	// Profiles names SNMP profiles that devices added from chat or CSV may
	// use instead of the default; each is written over devices.snmp field
	// by field (key profiles).
	Profiles map[string]SNMPProfile `yaml:"profiles"`
	// Changes says who may change ports with /device port (key changes).
	Changes PortChanges `yaml:"changes"`
}

// PortChanges are the rules for /device port.
type PortChanges struct {
	// Roles may request a port change (key roles); admins always may.
	// Empty: admins only.
	Roles []string `yaml:"roles"`
	// Approvals is how many people other than the requester, holding one of
	// Roles or admin, must approve (key approvals, default 0).
	Approvals int `yaml:"approvals"`
	// MaxDuration is the longest --for (key max_duration, default 8h).
	MaxDuration Duration `yaml:"max_duration"`
	// Protected lists ports that are never changed: uplinks, the port of
	// the management address (key protected).
	Protected []ProtectedPorts `yaml:"protected"`
	// Channel hears about requests (with Approve/Deny buttons), SETs and
	// reverts (key channel); default: the requester by direct message.
	Channel string `yaml:"channel"`
}

// ProtectedPorts names ports of one device that /device port refuses.
type ProtectedPorts struct {
	// Device is the device's name (key device).
	Device string `yaml:"device"`
	// Ports are ifName or ifDescr values, compared case-insensitively
	// (key ports).
	Ports []string `yaml:"ports"`
}

// Profile returns the effective named profile (devices.snmp with
// devices.profiles.NAME written over it); "" is the default profile.
func (d DevicesConfig) Profile(name string) (SNMPProfile, bool) {
	if name == "" {
		return d.SNMP, true
	}
	p, ok := d.Profiles[name]
	if !ok {
		return SNMPProfile{}, false
	}
	return d.SNMP.merge(p), true
}

// SNMPProfile holds the settings for talking SNMP to a device.
type SNMPProfile struct {
	// Version is "1", "2c" or "3" (key version; a number is accepted too).
	Version string `yaml:"version"`
	// Community is the v1/v2c community string (key community).
	Community Secret `yaml:"community"`
	// Port is the UDP port (key port).
	Port int `yaml:"port"`
	// Timeout limits one request (key timeout).
	Timeout Duration `yaml:"timeout"`
	// Retries is how often a request is retried (key retries).
	Retries int `yaml:"retries"`
	// User is the v3 security name (key user).
	User string `yaml:"user"`
	// AuthProtocol is MD5, SHA, SHA224, SHA256, SHA384 or SHA512
	// (key auth_protocol).
	AuthProtocol string `yaml:"auth_protocol"`
	// AuthPassphrase is the v3 authentication passphrase
	// (key auth_passphrase).
	AuthPassphrase Secret `yaml:"auth_passphrase"`
	// PrivProtocol is DES, AES, AES192, AES256, AES192C or AES256C
	// (key priv_protocol).
	PrivProtocol string `yaml:"priv_protocol"`
	// PrivPassphrase is the v3 privacy passphrase (key priv_passphrase).
	PrivPassphrase Secret `yaml:"priv_passphrase"`
	// Context is the v3 context name (key context).
	Context string `yaml:"context"`
	// Write holds the credentials for SETs (/device port); without them a
	// device is never changed (key write).
	Write SNMPWrite `yaml:"write"`
}

// SNMPWrite is the write side of an SNMP profile: a v1/v2c community or a
// v3 user, used in place of the read credentials for SETs.
type SNMPWrite struct {
	// Community is the read-write community (key community).
	Community Secret `yaml:"community"`
	// User is the v3 user allowed to write (key user), with its protocols
	// and passphrases (keys auth_protocol, auth_passphrase, priv_protocol,
	// priv_passphrase).
	User           string `yaml:"user"`
	AuthProtocol   string `yaml:"auth_protocol"`
	AuthPassphrase Secret `yaml:"auth_passphrase"`
	PrivProtocol   string `yaml:"priv_protocol"`
	PrivPassphrase Secret `yaml:"priv_passphrase"`
}

// WriteProfile is p with its write credentials in place of the read ones;
// ok is false when p has none.
func (p SNMPProfile) WriteProfile() (SNMPProfile, bool) {
	w := p.Write
	switch {
	case p.Version == "3" && w.User != "":
		p.User, p.AuthProtocol, p.AuthPassphrase, p.PrivProtocol, p.PrivPassphrase =
			w.User, w.AuthProtocol, w.AuthPassphrase, w.PrivProtocol, w.PrivPassphrase
	case p.Version != "3" && w.Community != "":
		p.Community = w.Community
	default:
		return p, false
	}
	p.Write = SNMPWrite{}
	return p, true
}

// merge returns p with every non-zero field of o written over it.
func (p SNMPProfile) merge(o SNMPProfile) SNMPProfile {
	if o.Version != "" {
		p.Version = o.Version
	}
	if o.Community != "" {
		p.Community = o.Community
	}
	if o.Port != 0 {
		p.Port = o.Port
	}
	if o.Timeout != 0 {
		p.Timeout = o.Timeout
	}
	if o.Retries != 0 {
		p.Retries = o.Retries
	}
	if o.User != "" {
		p.User = o.User
	}
	if o.AuthProtocol != "" {
		p.AuthProtocol = o.AuthProtocol
	}
	if o.AuthPassphrase != "" {
		p.AuthPassphrase = o.AuthPassphrase
	}
	if o.PrivProtocol != "" {
		p.PrivProtocol = o.PrivProtocol
	}
	if o.PrivPassphrase != "" {
		p.PrivPassphrase = o.PrivPassphrase
	}
	if o.Context != "" {
		p.Context = o.Context
	}
	if o.Write != (SNMPWrite{}) {
		p.Write = o.Write
	}
	return p
}

// Device is one entry of the inventory.
type Device struct {
	// Name is the device's unique name (key name).
	Name string `yaml:"name"`
	// Address is an IPv4 or IPv6 address or a DNS name, without a port
	// (key address).
	Address string `yaml:"address"`
	// Kind says what the device is, e.g. switch, router, printer (key kind).
	Kind string `yaml:"kind"`
	// Site says where the device is (key site).
	Site string `yaml:"site"`
	// Owner says who looks after the device (key owner).
	Owner string `yaml:"owner"`
	// Tags are free-form labels (key tags).
	Tags []string `yaml:"tags"`
	// Notes is free text (key notes).
	Notes string `yaml:"notes"`
	// SNMPOverride, when set, overrides fields of devices.snmp for this
	// device (key snmp). Use [Device.SNMP] to get the effective profile.
	SNMPOverride *SNMPProfile `yaml:"snmp"`
}

// SNMP returns the device's effective SNMP profile: def with every
// non-zero field of the device's own snmp settings written over it.
func (d Device) SNMP(def SNMPProfile) SNMPProfile {
	if d.SNMPOverride == nil {
		return def
	}
	return def.merge(*d.SNMPOverride)
}

// BackupsConfig lists the backup jobs and limits how they run.
type BackupsConfig struct {
	// Jobs lists the backup jobs (key jobs).
	Jobs []BackupJob `yaml:"jobs"`
	// OutputLimit is how many bytes of a job's output are kept
	// (key output_limit, default 65536).
	OutputLimit int `yaml:"output_limit"`
	// KillGrace is how long a timed-out job gets between SIGTERM and
	// SIGKILL (key kill_grace, default 10s).
	KillGrace Duration `yaml:"kill_grace"`
}

// BackupJob is a command that makes a backup.
type BackupJob struct {
	// Name is the job's unique name (key name).
	Name string `yaml:"name"`
	// Description is shown in chat (key description).
	Description string `yaml:"description"`
	// Command is run as an argv list, never through a shell (key command).
	Command []string `yaml:"command"`
	// Dir is the absolute working directory (key dir).
	Dir string `yaml:"dir"`
	// Env adds environment variables; values may hold secrets, so do not
	// log them (key env).
	Env map[string]string `yaml:"env"`
	// Timeout limits one run (key timeout, default 1h).
	Timeout Duration `yaml:"timeout"`
	// Schedule is a cron expression with 5 fields, or 6 with seconds, or a
	// descriptor such as @daily; a "CRON_TZ=Europe/Paris " prefix is
	// allowed (key schedule). Empty means run on demand only.
	Schedule string `yaml:"schedule"`
	// Timezone is the IANA time zone of Schedule (key timezone).
	Timezone string `yaml:"timezone"`
	// Channel names the channel that hears about runs (key channel).
	Channel string `yaml:"channel"`
	// Team names the team that owns the job: its channel hears about runs
	// unless channel is set (key team).
	Team string `yaml:"team"`
	// Roles may run the job from chat (key roles).
	Roles []string `yaml:"roles"`
	// FreshWithin is how recent the last success must be for the backup to
	// count as fresh (key fresh_within).
	FreshWithin Duration `yaml:"fresh_within"`
}

// Check kinds.
const (
	KindHTTP            = "http"
	KindTCP             = "tcp"
	KindDNS             = "dns"
	KindTLS             = "tls"
	KindSNMP            = "snmp"
	KindCommand         = "command"
	KindBackupFreshness = "backup-freshness"
)

// CheckKinds lists the known check kinds.
var CheckKinds = []string{KindHTTP, KindTCP, KindDNS, KindTLS, KindSNMP, KindCommand, KindBackupFreshness}

// Check is a probe that runs on a schedule and raises incidents.
type Check struct {
	// Name is the check's unique name (key name).
	Name string `yaml:"name"`
	// Kind is http, tcp, dns, tls, snmp, command or backup-freshness
	// (key kind).
	Kind string `yaml:"kind"`
	// Every runs the check at this interval (key every); set Every or
	// Schedule.
	Every Duration `yaml:"every"`
	// Schedule runs the check on a cron schedule (key schedule).
	Schedule string `yaml:"schedule"`
	// Timezone is the IANA time zone of Schedule (key timezone).
	Timezone string `yaml:"timezone"`
	// Timeout limits one run (key timeout, default 10s).
	Timeout Duration `yaml:"timeout"`
	// Channel names the channel that hears about incidents (key channel).
	Channel string `yaml:"channel"`
	// Team names the team that owns the check's incidents (key team): they
	// go to the team's channel unless channel is set, page its primary on
	// call, and follow its escalation unless escalate is set.
	Team string `yaml:"team"`
	// Failures is how many failed runs in a row open an incident
	// (key failures, default 2).
	Failures int `yaml:"failures"`
	// Successes is how many good runs in a row resolve it
	// (key successes, default 1).
	Successes int `yaml:"successes"`
	// Escalate, when set, notifies more people if an incident stays open
	// (key escalate).
	Escalate *Escalation `yaml:"escalate"`

	// URL is the http check's http or https URL (key url).
	URL string `yaml:"url"`
	// Method is the http check's request method (key method, default GET).
	Method string `yaml:"method"`
	// Headers are added to the http check's request (key headers).
	Headers map[string]string `yaml:"headers"`
	// Body is the http check's request body (key body).
	Body string `yaml:"body"`
	// InsecureSkipVerify skips TLS certificate verification
	// (key insecure_skip_verify).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// MaxLatency fails the check when a response is slower (key max_latency).
	MaxLatency Duration `yaml:"max_latency"`
	// Expect says what a good http response looks like (key expect).
	Expect Expect `yaml:"expect"`

	// Address is the host:port of a tcp or tls check (key address).
	Address string `yaml:"address"`

	// Host is the name a dns check resolves (key host).
	Host string `yaml:"host"`
	// Resolver is the DNS server as ip or host:port; empty means the
	// system resolver (key resolver).
	Resolver string `yaml:"resolver"`
	// ExpectAddresses are IP addresses the dns answer must contain
	// (key addresses).
	ExpectAddresses []string `yaml:"addresses"`

	// MinDays fails a tls check when the certificate expires sooner
	// (key min_days, default 14).
	MinDays int `yaml:"min_days"`

	// Device names the inventory device of an snmp check (key device).
	Device string `yaml:"device"`
	// OID is the numeric OID an snmp check reads, e.g. 1.3.6.1.2.1.1.3.0
	// (key oid).
	OID string `yaml:"oid"`
	// Compare, when Op is set, tests the value an snmp check read
	// (key compare).
	Compare Compare `yaml:"compare"`

	// Command is the command check's argv; exit status 0 is success
	// (key command).
	Command []string `yaml:"command"`

	// Job names the backup job a backup-freshness check watches (key job).
	Job string `yaml:"job"`
}

// Team is a group of people that owns checks and takes turns on call.
type Team struct {
	// Channel names the channel that hears about the team's checks,
	// hand-offs and gaps (key channel).
	Channel string `yaml:"channel"`
	// Rotation says who is on call when (key rotation).
	Rotation *Rotation `yaml:"rotation"`
	// Escalation lists who is paged as an incident of the team's checks
	// stays unacknowledged; a check's own escalate wins (key escalation).
	Escalation []EscalationStep `yaml:"escalation"`
}

// Hand-off periods of a rotation.
const (
	HandoffDaily  = "daily"
	HandoffWeekly = "weekly"
)

// Rotation hands the on-call shift from member to member, layer by layer.
type Rotation struct {
	// Handoff is daily or weekly (key handoff, default weekly).
	Handoff string `yaml:"handoff"`
	// Day is the weekday of a weekly hand-off: mon to sun (key day,
	// default mon).
	Day string `yaml:"day"`
	// At is the local time of the hand-off as HH:MM (key at, default 09:00).
	At string `yaml:"at"`
	// Timezone is the IANA zone of At (key timezone, default UTC).
	Timezone string `yaml:"timezone"`
	// Start is the date, YYYY-MM-DD, of the hand-off at which each layer's
	// first member takes the first shift (key start, default 2026-01-05).
	Start string `yaml:"start"`
	// Layers are the rotations that run side by side, such as primary and
	// secondary (key layers).
	Layers []Layer `yaml:"layers"`
}

// Layer is one ordered rotation of members.
type Layer struct {
	// Name is the layer's name, such as primary or secondary (key name).
	Name string `yaml:"name"`
	// Members are the people who take turns, in order (key members).
	Members []string `yaml:"members"`
}

// Layer returns the rotation's layer with the given name.
func (r *Rotation) Layer(name string) (Layer, bool) {
	if r == nil {
		return Layer{}, false
	}
	for _, l := range r.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return Layer{}, false
}

// EscalationStep pages its targets once an incident has stayed
// unacknowledged for After since it opened.
type EscalationStep struct {
	// After is how long after the incident opened the step pages (key after).
	After Duration `yaml:"after"`
	// To lists person names, channel:NAME and oncall:TEAM:LAYER (key to).
	To []string `yaml:"to"`
}

// Escalation notifies more people when an incident stays open.
type Escalation struct {
	// After is how long an incident stays open before escalating
	// (key after).
	After Duration `yaml:"after"`
	// To lists person names, channel:NAME and oncall:TEAM:LAYER references
	// (key to).
	To []string `yaml:"to"`
}

// Expect says what a good http response looks like.
type Expect struct {
	// Status lists the accepted status codes; empty means 200-399
	// (key status).
	Status []int `yaml:"status"`
	// BodyContains must appear in the body (key body_contains).
	BodyContains string `yaml:"body_contains"`
	// BodyRegex must match the body (key body_regex).
	BodyRegex string `yaml:"body_regex"`
}

// Compare tests a value read by an snmp check.
type Compare struct {
	// Op is one of <, <=, >, >=, == or != (key op).
	Op string `yaml:"op"`
	// Value is compared with the value read; it must be a number for
	// <, <=, > and >= (key value).
	Value string `yaml:"value"`
}

// Maintenance is a window in which checks do not raise incidents.
type Maintenance struct {
	// Checks names the checks affected; empty means all (key checks).
	Checks []string `yaml:"checks"`
	// Start is when the window opens, RFC 3339 (key start).
	Start time.Time `yaml:"start"`
	// End is when it closes, RFC 3339 (key end).
	End time.Time `yaml:"end"`
	// Reason is shown in chat (key reason).
	Reason string `yaml:"reason"`
}

// Covers reports whether the window covers the named check at t.
func (m Maintenance) Covers(check string, t time.Time) bool {
	if t.Before(m.Start) || !t.Before(m.End) {
		return false
	}
	if len(m.Checks) == 0 {
		return true
	}
	for _, c := range m.Checks {
		if c == check {
			return true
		}
	}
	return false
}

// CheckSettings tunes the check scheduler and incidents.
type CheckSettings struct {
	// Workers is how many checks run at once (key workers, default 64).
	Workers int `yaml:"workers"`
	// Retention is how long the result of every run is kept
	// (key retention, default 7d).
	Retention Duration `yaml:"retention"`
	// RemindEvery is how often an open incident's post is edited to say it
	// is still failing (key remind_every, default 30m).
	RemindEvery Duration `yaml:"remind_every"`
	// FlapWindow: a check that fails again within this time of its
	// incident resolving reopens that incident instead of posting a new one
	// (key flap_window, default 1h).
	FlapWindow Duration `yaml:"flap_window"`
}

// OutboxConfig tunes delivery of notifications.
type OutboxConfig struct {
	// Workers is how many messages are sent at once (key workers, default 4).
	Workers int `yaml:"workers"`
	// Poll is how often the outbox is checked for work (key poll, default 1s).
	Poll Duration `yaml:"poll"`
	// MaxAge is how long a message is retried before it is dropped
	// (key max_age, default 24h).
	MaxAge Duration `yaml:"max_age"`
	// MaxBackoff caps the wait between retries (key max_backoff, default 5m).
	MaxBackoff Duration `yaml:"max_backoff"`
	// Lease is how long a notifier holds a message it claimed; a process
	// that dies while sending lets another take its messages after it
	// (key lease, default 15s; live notifiers renew their leases).
	Lease Duration `yaml:"lease"`
}

// LeaderConfig tunes leader election. On PostgreSQL one replica holds an
// advisory lock and runs the scheduled work; with SQLite the only replica
// always leads.
type LeaderConfig struct {
	// Interval is how often the leader checks that it still holds the lock
	// and how often the others try to take it; a new leader takes over
	// within about one interval of the old one's connection closing (key
	// interval, default 2s).
	Interval Duration `yaml:"interval"`
}

// StatusPageConfig configures the read-only status page.
type StatusPageConfig struct {
	// Enabled serves GET /, GET /incidents/N and GET /api/v1/status
	// (key enabled, default true).
	Enabled bool `yaml:"enabled"`
	// Auth, when it holds credentials, guards the page, the API and
	// /metrics; /healthz and /readyz stay open (key auth).
	Auth StatusAuth `yaml:"auth"`
	// Refresh makes the page reload itself this often; 0 turns it off
	// (key refresh, default 60s).
	Refresh Duration `yaml:"refresh"`
}

// StatusAuth holds the credentials the status page accepts: either is
// enough when both are set.
type StatusAuth struct {
	// Basic is a user and password for HTTP basic auth (key basic).
	Basic *BasicAuth `yaml:"basic"`
	// Bearer is a token sent as "Authorization: Bearer TOKEN" (key bearer).
	Bearer Secret `yaml:"bearer"`
}

// BasicAuth is one user and password.
type BasicAuth struct {
	// User is the user name (key user).
	User string `yaml:"user"`
	// Password is the password (key password).
	Password Secret `yaml:"password"`
}

// Person returns the person with the given name.
func (c *Config) Person(name string) (Person, bool) {
	for _, p := range c.People {
		if p.Name == name {
			return p, true
		}
	}
	return Person{}, false
}

// PersonBySlackID returns the person with the given Slack user ID.
func (c *Config) PersonBySlackID(id string) (Person, bool) {
	for _, p := range c.People {
		if id != "" && p.SlackID == id {
			return p, true
		}
	}
	return Person{}, false
}

// PersonByDiscordID returns the person with the given Discord user ID.
func (c *Config) PersonByDiscordID(id string) (Person, bool) {
	for _, p := range c.People {
		if id != "" && p.DiscordID == id {
			return p, true
		}
	}
	return Person{}, false
}

// Channel returns the channel with the given name.
func (c *Config) Channel(name string) (Channel, bool) {
	ch, ok := c.Channels[name]
	return ch, ok
}

// RouteChannel is where a check, job, queue or resource posts: its own
// channel if it names one, else its team's channel ("" when neither is set).
func (c *Config) RouteChannel(own, team string) string {
	if own != "" || team == "" {
		return own
	}
	return c.Teams[team].Channel
}

// Resource returns the access resource with the given name.
func (c *Config) Resource(name string) (Resource, bool) {
	for _, r := range c.Access.Resources {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Device returns the inventory device with the given name.
func (c *Config) Device(name string) (Device, bool) {
	for _, d := range c.Devices.Inventory {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}

// BackupJob returns the backup job with the given name.
func (c *Config) BackupJob(name string) (BackupJob, bool) {
	for _, j := range c.Backups.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return BackupJob{}, false
}

// Check returns the check with the given name.
func (c *Config) Check(name string) (Check, bool) {
	for _, ch := range c.Checks {
		if ch.Name == name {
			return ch, true
		}
	}
	return Check{}, false
}

// Runbook is a command that people run from chat with typed parameters,
// after the approvals it needs.
type Runbook struct {
	// Name is the runbook's unique name, typed after /run (key name).
	Name string `yaml:"name"`
	// Description is shown in /run list (key description).
	Description string `yaml:"description"`
	// Command is an argv list; an element "{{.param}}" is replaced by the
	// parameter's value as that whole element (key command).
	Command []string `yaml:"command"`
	// Params are the parameters the command takes (key params).
	Params []RunbookParam `yaml:"params"`
	// Roles may request the runbook (key roles); admins always may.
	Roles []string `yaml:"roles"`
	// Approvals is how many people other than the requester must approve
	// before it runs (key approvals, default 0).
	Approvals int `yaml:"approvals"`
	// Approvers may approve (names from people, key approvers); when empty,
	// anyone who may request the runbook may approve another's request.
	Approvers []string `yaml:"approvers"`
	// Timeout limits one run (key timeout, default 10m).
	Timeout Duration `yaml:"timeout"`
	// Concurrency is how many runs of the runbook may run at once (key
	// concurrency, default 1).
	Concurrency int `yaml:"concurrency"`
	// Channel hears about requests and streams their output (key channel).
	Channel string `yaml:"channel"`
}

// RunbookParam is one typed parameter of a runbook.
type RunbookParam struct {
	// Name is the flag name, --name (key name).
	Name string `yaml:"name"`
	// Type is string, int, enum, device or duration (key type).
	Type string `yaml:"type"`
	// Pattern is a regular expression a string value must match whole
	// (key pattern).
	Pattern string `yaml:"pattern"`
	// Values are the allowed values of an enum (key values).
	Values []string `yaml:"values"`
}

// RunbookParamTypes are the values of runbooks[].params[].type.
var RunbookParamTypes = []string{"string", "int", "enum", "device", "duration"}

// Report periods: the values of reports[].period and of /report's first
// argument.
var ReportPeriods = []string{"day", "week", "month"}

// Report is an ops digest posted into a channel on a schedule.
type Report struct {
	// Name is the report's unique name (key name).
	Name string `yaml:"name"`
	// Cron is when it is posted, a cron schedule such as "0 8 * * mon"
	// (key cron).
	Cron string `yaml:"cron"`
	// Timezone is the IANA time zone of Cron and of the period's days
	// (key timezone, default UTC).
	Timezone string `yaml:"timezone"`
	// Channel names the channel it is posted into; default: the team's
	// channel (key channel).
	Channel string `yaml:"channel"`
	// Team, when set, limits the digest to that team's checks, queues,
	// resources and backup jobs (key team).
	Team string `yaml:"team"`
	// Period is day, week or month (key period, default week).
	Period string `yaml:"period"`
}
