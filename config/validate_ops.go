package config

import (
	"maps"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// SNMP settings that devices.snmp accepts.
var (
	snmpVersions  = []string{"1", "2c", "3"}
	authProtocols = []string{"MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"}
	privProtocols = []string{"DES", "AES", "AES192", "AES256", "AES192C", "AES256C"}
)

// compareOps lists the operators of an snmp check's compare.op.
var compareOps = []string{"<", "<=", ">", ">=", "==", "!="}

// httpMethods lists the methods an http check may use.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func (v *validator) devices() {
	d := v.c.Devices
	if d.MaxConcurrent < 1 {
		v.addf("devices.max_concurrent", "must be at least 1")
	}
	before := len(v.list)
	v.snmp("devices.snmp", d.SNMP)
	defaultOK := len(v.list) == before
	v.snmpSecretsSet("devices.snmp", d.SNMP)
	names := seen{}
	for i, dev := range d.Inventory {
		path := index("devices.inventory", i)
		v.uniqueName(names, join(path, "name"), dev.Name, "device")
		v.address(join(path, "address"), dev.Address)
		// Problems of the default profile are reported once, not again
		// for every device that overrides some other field.
		if dev.SNMPOverride != nil && defaultOK {
			v.snmp(join(path, "snmp"), dev.SNMP(d.SNMP))
		}
		if dev.SNMPOverride != nil {
			v.snmpSecretsSet(join(path, "snmp"), *dev.SNMPOverride)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Profiles)) {
		path := "devices.profiles." + name
		if !nameRE.MatchString(name) {
			v.addf(path, "%q is not a valid profile name (%s)", name, nameRule(name))
			continue
		}
		if defaultOK {
			p, _ := d.Profile(name)
			v.snmp(path, p)
		}
		v.snmpSecretsSet(path, d.Profiles[name])
	}
}

// snmpSecretsSet reports the secrets of an SNMP profile (as written, before
// defaults fill it) that came out empty from an unset ${VAR}: an empty
// community is sent as it is, and an empty override silently falls back to
// devices.snmp.
func (v *validator) snmpSecretsSet(path string, p SNMPProfile) {
	v.envSet(join(path, "community"), string(p.Community))
	v.envSet(join(path, "auth_passphrase"), string(p.AuthPassphrase))
	v.envSet(join(path, "priv_passphrase"), string(p.PrivPassphrase))
}

// envSet reports a value that is empty because the environment variables
// it refers to are unset (the hint naming them is added later), unless
// the key already has a problem.
func (v *validator) envSet(path, value string) {
	if value != "" || len(v.c.unset[path]) == 0 {
		return
	}
	for _, p := range v.list {
		if p.Path == path {
			return
		}
	}
	v.addf(path, "is empty")
}

func (v *validator) address(path, s string) {
	switch {
	case s == "":
		v.addf(path, "required: an IPv4 or IPv6 address or a DNS name such as core-sw-1.example.com")
	case host(s):
	case hostPort(s) || strings.HasPrefix(s, "["):
		v.addf(path, "write the address without a port or brackets (the SNMP port is snmp.port), got %q", s)
	default:
		v.addf(path, "want an IPv4 or IPv6 address or a DNS name, got %q", s)
	}
}

// snmp checks an effective SNMP profile.
func (v *validator) snmp(path string, p SNMPProfile) {
	v.oneOf(join(path, "version"), p.Version, snmpVersions...)
	if p.Port < 1 || p.Port > 65535 {
		v.addf(join(path, "port"), "want a UDP port from 1 to 65535, usually 161")
	}
	v.positive(join(path, "timeout"), p.Timeout, "2s")
	v.notNegative(join(path, "retries"), p.Retries)
	if p.AuthProtocol != "" {
		v.oneOf(join(path, "auth_protocol"), p.AuthProtocol, authProtocols...)
	}
	if p.PrivProtocol != "" {
		v.oneOf(join(path, "priv_protocol"), p.PrivProtocol, privProtocols...)
	}
	if p.Version != "3" {
		return
	}
	if p.User == "" {
		v.addf(join(path, "user"), "required when version is 3")
	}
	if p.PrivProtocol != "" && p.AuthProtocol == "" {
		v.addf(join(path, "priv_protocol"), "needs auth_protocol too: SNMPv3 privacy requires authentication")
	}
	if p.AuthProtocol != "" {
		v.passphrase(join(path, "auth_passphrase"), p.AuthPassphrase, "auth_protocol")
	}
	if p.PrivProtocol != "" {
		v.passphrase(join(path, "priv_passphrase"), p.PrivPassphrase, "priv_protocol")
	}
}

func (v *validator) passphrase(path string, s Secret, protocol string) {
	switch {
	case s == "":
		v.addf(path, "required when %s is set", protocol)
	case len(s) < 8:
		v.addf(path, "must be at least 8 characters long (an SNMPv3 rule)")
	}
}

func (v *validator) backups() {
	b := v.c.Backups
	if b.OutputLimit < 1 {
		v.addf("backups.output_limit", "must be at least 1 (bytes), e.g. 65536")
	}
	names := seen{}
	for i, j := range b.Jobs {
		path := index("backups.jobs", i)
		v.uniqueName(names, join(path, "name"), j.Name, "job")
		v.argv(join(path, "command"), j.Command)
		if j.Dir != "" && !filepath.IsAbs(j.Dir) {
			v.addf(join(path, "dir"), "want an absolute path such as /var/backups, got %q", j.Dir)
		}
		for _, k := range slices.Sorted(maps.Keys(j.Env)) {
			if !envName(k) {
				v.addf(join(join(path, "env"), k), "not a valid environment variable name (use letters, digits and _, not starting with a digit)")
			}
			// An unset ${VAR} would run the job with an empty password.
			v.envSet(join(join(path, "env"), k), j.Env[k])
		}
		v.positive(join(path, "timeout"), j.Timeout, "1h")
		if j.Schedule != "" {
			v.schedule(join(path, "schedule"), j.Schedule, join(path, "timezone"), j.Timezone)
		} else {
			v.timezone(join(path, "timezone"), j.Timezone, false)
		}
		v.channelRef(join(path, "channel"), j.Channel)
		v.team(join(path, "team"), j.Team)
		v.words(join(path, "roles"), j.Roles)
	}
}

func (v *validator) checks() {
	names := seen{}
	for i, ch := range v.c.Checks {
		path := index("checks", i)
		v.uniqueName(names, join(path, "name"), ch.Name, "check")
		v.oneOf(join(path, "kind"), ch.Kind, CheckKinds...)
		v.when(path, ch)
		v.positive(join(path, "timeout"), ch.Timeout, "10s")
		if ch.Every > 0 && ch.Timeout > ch.Every {
			v.addf(join(path, "timeout"), "must not be longer than every (%s); set timeout: to at most that (the default is 10s)", ch.Every)
		}
		v.channelRef(join(path, "channel"), ch.Channel)
		v.team(join(path, "team"), ch.Team)
		if ch.Failures < 1 {
			v.addf(join(path, "failures"), "must be at least 1")
		}
		if ch.Successes < 1 {
			v.addf(join(path, "successes"), "must be at least 1")
		}
		if ch.Escalate != nil {
			v.escalate(join(path, "escalate"), *ch.Escalate)
		}
		v.kind(path, ch)
	}
}

// when checks that a check has either every or schedule.
func (v *validator) when(path string, ch Check) {
	switch {
	case ch.Every == 0 && ch.Schedule == "":
		v.addf(join(path, "every"), `set every (e.g. 30s) or schedule (cron, e.g. "*/5 * * * *")`)
	case ch.Every != 0 && ch.Schedule != "":
		v.addf(join(path, "schedule"), "set every or schedule, not both")
	case ch.Every != 0:
		if ch.Every < Duration(time.Second) {
			v.addf(join(path, "every"), "must be at least 1s")
		}
		v.timezone(join(path, "timezone"), ch.Timezone, false)
	default:
		v.schedule(join(path, "schedule"), ch.Schedule, join(path, "timezone"), ch.Timezone)
		// "@every 10s" is an interval too: the same rules as every:.
		if s, ok := strings.CutPrefix(strings.TrimSpace(ch.Schedule), "@every "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			switch {
			case err != nil:
			case d < time.Second:
				v.addf(join(path, "schedule"), "@every must be at least 1s")
			case ch.Timeout > Duration(d):
				v.addf(join(path, "timeout"), "must not be longer than the schedule's @every (%s); set timeout: to at most that (the default is 10s)", Duration(d))
			}
		}
	}
}

func (v *validator) team(path, team string) {
	if team == "" || !v.name(path, team) || v.known.teams.has(team) {
		return
	}
	if v.full() {
		v.more++
		return
	}
	v.addf(path, "unknown team %q%s (define it under teams, or add it to someone's teams under people)", team, didYouMean(team, v.known.teams.list))
}

func (v *validator) escalate(path string, e Escalation) {
	v.positive(join(path, "after"), e.After, "30m")
	v.targets(join(path, "to"), e.To)
}

// target is a key that names what a check probes; each belongs to some kinds.
type target struct {
	key   string
	set   bool
	kinds []string
}

// kind checks the keys that belong to the check's kind.
func (v *validator) kind(path string, ch Check) {
	if !slices.Contains(CheckKinds, ch.Kind) {
		return
	}
	for _, t := range []target{
		{"url", ch.URL != "", []string{KindHTTP}},
		{"address", ch.Address != "", []string{KindTCP, KindTLS}},
		{"host", ch.Host != "", []string{KindDNS}},
		{"device", ch.Device != "", []string{KindSNMP}},
		{"oid", ch.OID != "", []string{KindSNMP}},
		{"command", ch.Command != nil, []string{KindCommand}},
		{"job", ch.Job != "", []string{KindBackupFreshness}},
		// Settings of one kind, silently ignored by the others (a tls check
		// with insecure_skip_verify still verified the chain).
		{"headers", ch.Headers != nil, []string{KindHTTP}},
		{"body", ch.Body != "", []string{KindHTTP}},
		{"insecure_skip_verify", ch.InsecureSkipVerify, []string{KindHTTP}},
		{"max_latency", ch.MaxLatency != 0, []string{KindHTTP}},
		{"expect", ch.Expect.Status != nil || ch.Expect.BodyContains != "" || ch.Expect.BodyRegex != "", []string{KindHTTP}},
		{"resolver", ch.Resolver != "", []string{KindDNS}},
		{"addresses", ch.ExpectAddresses != nil, []string{KindDNS}},
		{"compare", ch.Compare.Op != "" || ch.Compare.Value != "", []string{KindSNMP}},
	} {
		if t.set && !slices.Contains(t.kinds, ch.Kind) {
			v.addf(join(path, t.key), "not used by %s checks (it is for %s checks)", ch.Kind, orList(t.kinds))
		}
	}
	switch ch.Kind {
	case KindHTTP:
		v.httpCheck(path, ch)
	case KindTCP:
		v.addressCheck(path, ch)
	case KindTLS:
		v.addressCheck(path, ch)
		v.notNegative(join(path, "min_days"), ch.MinDays)
	case KindDNS:
		v.dnsCheck(path, ch)
	case KindSNMP:
		v.snmpCheck(path, ch)
	case KindCommand:
		v.argv(join(path, "command"), ch.Command)
	case KindBackupFreshness:
		v.freshnessCheck(path, ch)
	}
}

func (v *validator) httpCheck(path string, ch Check) {
	v.httpURL(join(path, "url"), ch.URL)
	v.oneOf(join(path, "method"), ch.Method, httpMethods...)
	for _, k := range slices.Sorted(maps.Keys(ch.Headers)) {
		if !headerName(k) {
			v.addf(join(join(path, "headers"), k), "not a valid header name (use letters, digits and -, e.g. Authorization)")
		} else if !httpguts.ValidHeaderFieldValue(ch.Headers[k]) {
			// Not quoted: the value may be a token.
			v.addf(join(join(path, "headers"), k), "the value has control characters such as a line break; write it on one line")
		}
	}
	for i, code := range ch.Expect.Status {
		if code < 100 || code > 599 {
			v.addf(index(join(join(path, "expect"), "status"), i), "want an HTTP status code from 100 to 599, got %d", code)
		}
	}
	if ch.Expect.BodyRegex != "" {
		if _, err := regexp.Compile(ch.Expect.BodyRegex); err != nil {
			v.addf(join(join(path, "expect"), "body_regex"), "not a valid regular expression: %v", err)
		}
	}
}

func (v *validator) addressCheck(path string, ch Check) {
	switch {
	case ch.Address == "":
		v.addf(join(path, "address"), "required: host:port such as db.example.com:5432")
	case !hostPort(ch.Address):
		v.addf(join(path, "address"), "want host:port such as db.example.com:5432 or [2001:db8::1]:443, got %q", ch.Address)
	}
}

func (v *validator) dnsCheck(path string, ch Check) {
	switch {
	case ch.Host == "":
		v.addf(join(path, "host"), "required: the name to resolve, such as intranet.example.com")
	case !hostname(ch.Host):
		v.addf(join(path, "host"), "want a DNS name such as intranet.example.com, got %q", ch.Host)
	}
	if r := ch.Resolver; r != "" {
		if _, err := netip.ParseAddr(r); err != nil && !hostPort(r) {
			v.addf(join(path, "resolver"), "want an IP address or host:port such as 10.0.0.53 or 10.0.0.53:53, got %q", r)
		}
	}
	for i, a := range ch.ExpectAddresses {
		if _, err := netip.ParseAddr(a); err != nil {
			v.addf(index(join(path, "addresses"), i), "want an IP address such as 10.0.0.10, got %q", a)
		}
	}
}

var oidRE = regexp.MustCompile(`^\.?[0-9]+(\.[0-9]+)+$`)

func (v *validator) snmpCheck(path string, ch Check) {
	if ch.Device == "" {
		v.addf(join(path, "device"), "required: the name of a device in devices.inventory")
	} else {
		v.ref(join(path, "device"), "device", ch.Device, v.known.devices, "devices.inventory")
	}
	switch {
	case ch.OID == "":
		v.addf(join(path, "oid"), "required: a numeric OID such as 1.3.6.1.2.1.1.3.0")
	case !oidRE.MatchString(ch.OID):
		v.addf(join(path, "oid"), "want a numeric OID such as 1.3.6.1.2.1.1.3.0, got %q", ch.OID)
	}
	c := ch.Compare
	switch {
	case c.Op == "" && c.Value != "":
		v.addf(join(join(path, "compare"), "op"), "required when compare.value is set (use %s)", orList(compareOps))
	case c.Op == "":
	case !slices.Contains(compareOps, c.Op):
		v.oneOf(join(join(path, "compare"), "op"), c.Op, compareOps...)
	case c.Value == "":
		v.addf(join(join(path, "compare"), "value"), "required when compare.op is set")
	case c.Op != "==" && c.Op != "!=":
		if _, err := strconv.ParseFloat(c.Value, 64); err != nil {
			v.addf(join(join(path, "compare"), "value"), "want a number to compare with %s, got %q", c.Op, c.Value)
		}
	}
}

func (v *validator) freshnessCheck(path string, ch Check) {
	if ch.Job == "" {
		v.addf(join(path, "job"), "required: the name of a job in backups.jobs")
		return
	}
	if !v.ref(join(path, "job"), "backup job", ch.Job, v.known.jobs, "backups.jobs") {
		return
	}
	i := v.known.jobs.first[ch.Job]
	if v.c.Backups.Jobs[i].FreshWithin <= 0 && !v.stale[i] {
		if v.stale == nil {
			v.stale = map[int]bool{}
		}
		v.stale[i] = true
		v.addf(join(index("backups.jobs", i), "fresh_within"), "required because %s watches this job: how recent the last success must be, e.g. 26h", path)
	}
}

func (v *validator) maintenance() {
	for i, m := range v.c.Maintenance {
		path := index("maintenance", i)
		for j, name := range m.Checks {
			v.ref(index(join(path, "checks"), j), "check", name, v.known.checks, "checks")
		}
		if m.Start.IsZero() {
			v.addf(join(path, "start"), "required: an RFC 3339 time such as 2025-06-01T22:00:00Z")
		}
		if m.End.IsZero() {
			v.addf(join(path, "end"), "required: an RFC 3339 time such as 2025-06-02T02:00:00Z")
		}
		if !m.Start.IsZero() && !m.End.IsZero() && !m.End.After(m.Start) {
			v.addf(join(path, "end"), "must be after start (%s)", m.Start.Format(time.RFC3339))
		}
	}
}

// headerName reports whether s is a valid HTTP header name (an RFC 9110 token).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
