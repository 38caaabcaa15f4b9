package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullEnv sets every variable that testdata/full.yaml refers to.
var fullEnv = map[string]string{
	"SLACK_BOT_TOKEN":      "xoxb-test",
	"SLACK_SIGNING_SECRET": "signing-test",
	"DISCORD_TOKEN":        "discord-test",
	"GRANT_WEBHOOK_SECRET": "webhook-test",
	"SNMP_COMMUNITY":       "community-test",
	"V3_AUTH":              "auth-passphrase",
	"V3_PRIV":              "priv-passphrase",
}

// lookup returns a lookupEnv function over env.
func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func readFull(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// parseFull parses testdata/full.yaml, which must be valid.
func parseFull(t *testing.T) *Config {
	t.Helper()
	c, err := Parse(readFull(t), lookup(fullEnv))
	if err != nil {
		t.Fatalf("Parse(full.yaml):\n%v", err)
	}
	return c
}

// problemsOf returns err as Problems, failing the test if it is not.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	return ps
}

// mustFail parses src and returns its problems.
func mustFail(t *testing.T, src string, env map[string]string) Problems {
	t.Helper()
	c, err := Parse([]byte(src), lookup(env))
	if err == nil {
		t.Fatalf("Parse(%q) succeeded, want problems", src)
	}
	if c != nil {
		t.Errorf("Parse returned a Config with its error")
	}
	return problemsOf(t, err)
}

func TestParseFull(t *testing.T) {
	c := parseFull(t)
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("listen", c.Listen, "127.0.0.1:8080")
	check("log.format", c.Log.Format, "json")
	check("database.max_open_conns", c.Database.MaxOpenConns, 4)
	check("slack.bot_token", c.Slack.BotToken.Reveal(), "xoxb-test")
	check("slack.app_token", c.Slack.AppToken.Reveal(), "")
	check("discord.application_id", c.Discord.ApplicationID, "100000000000000009")
	check("people[1].teams", c.People[1].Teams, []string{"it", "network"})
	check("people[2].discord_id", c.People[2].DiscordID, "")
	check("channels.access", c.Channels["access"], Channel{Slack: "C01ACCESS"})
	check("tickets.sla.low.resolve", c.Tickets.SLA["low"].Resolve, Duration(14*24*time.Hour))
	check("tickets.sla.urgent.first_response", c.Tickets.SLA["urgent"].FirstResponse, Duration(15*time.Minute))
	check("tickets.business_hours", *c.Tickets.BusinessHours, BusinessHours{
		Start: "08:30", End: "18:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Timezone: "Europe/Paris"})
	check("access.max_concurrent_actions (default)", c.Access.MaxConcurrentActions, 8)
	check("access.resources[0].grant.timeout", c.Access.Resources[0].Grant.Timeout, Duration(time.Minute))
	check("access.resources[0].revoke.timeout (default)", c.Access.Resources[0].Revoke.Timeout, Duration(30*time.Second))
	check("access.resources[1].approvals", c.Access.Resources[1].Approvals, 2)
	check("access.resources[1].grant.webhook.secret", c.Access.Resources[1].Grant.Webhook.Secret.Reveal(), "webhook-test")
	check("access.resources[2].approvals (default)", c.Access.Resources[2].Approvals, 1)
	check("access.resources[2].revoke.manual (follows grant)", c.Access.Resources[2].Revoke.Manual, true)
	check("devices.snmp.community", c.Devices.SNMP.Community.Reveal(), "community-test")
	check("devices.inventory[1].address", c.Devices.Inventory[1].Address, "2001:db8::1")
	check("backups.jobs[0].env", c.Backups.Jobs[0].Env, map[string]string{"PGPASSWORD": "", "TZ": "UTC"})
	check("backups.jobs[1].timeout (default)", c.Backups.Jobs[1].Timeout, Duration(time.Hour))
	check("checks[0].headers", c.Checks[0].Headers, map[string]string{"Authorization": "Bearer none"})
	check("checks[0].expect.status", c.Checks[0].Expect.Status, []int{200, 204})
	check("checks[0].escalate.to", c.Checks[0].Escalate.To, []string{"alice", "channel:helpdesk"})
	check("checks[1].timeout (default)", c.Checks[1].Timeout, Duration(10*time.Second))
	check("checks[1].failures (default)", c.Checks[1].Failures, 2)
	check("checks[2].addresses", c.Checks[2].ExpectAddresses, []string{"10.0.0.10"})
	check("checks[3].min_days", c.Checks[3].MinDays, 21)
	check("checks[4].compare", c.Checks[4].Compare, Compare{Op: ">", Value: "0"})
	check("maintenance[0].start", c.Maintenance[0].Start, time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC))
	check("maintenance[0].end", c.Maintenance[0].End, time.Date(2025, 6, 2, 2, 0, 0, 0, time.UTC))
	check("outbox.max_backoff", c.Outbox.MaxBackoff, Duration(5*time.Minute))
}

func TestDeviceSNMPVersions(t *testing.T) {
	c := parseFull(t)
	def := c.Devices.SNMP
	core, _ := c.Device("core-sw-1")
	got := core.SNMP(def)
	if got.Version != "3" || got.User != "ops" || got.Community.Reveal() != "community-test" ||
		got.Timeout != Duration(2*time.Second) || got.Retries != 1 || got.PrivPassphrase.Reveal() != "priv-passphrase" {
		t.Errorf("core-sw-1 SNMP = %+v; want v3 over the default profile", got)
	}
	edge, _ := c.Device("edge-rtr-1")
	if got := edge.SNMP(def); got != def {
		t.Errorf("edge-rtr-1 SNMP = %+v, want the default %+v", got, def)
	}
	printer, _ := c.Device("printer-2")
	if got := printer.SNMP(def); got.Version != "1" || got.Community.Reveal() != "public" || got.Port != 161 {
		t.Errorf("printer-2 SNMP = %+v, want version 1 with community public", got)
	}
}

func TestLoad(t *testing.T) {
	for k, v := range fullEnv {
		t.Setenv(k, v)
	}
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.Slack.SigningSecret.Reveal(); got != "signing-test" {
		t.Errorf("signing secret from the environment = %q", got)
	}
	_, err = Load("testdata/missing.yaml")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "{}"} {
		c, err := Parse([]byte(src), nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %+v, want Default()", src, c)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestThreeMistakesAtOnce(t *testing.T) {
	src := `
channels:
  ops: {slack: C01OPS}
checks:
  - {name: web, kind: http, url: https://example.com, every: 30s, channel: ops}
  - {name: db, kind: tcp, address: "db:5432", every: 7x}
  - {name: dns, kind: dns, host: example.com, every: 1m, channel: opz, intervall: 5m}
`
	ps := mustFail(t, src, nil)
	want := Problems{
		{"checks[1].every", `"7x": unknown unit "x" (use s, m, h, d or w)`},
		{"checks[2].intervall", `unknown key (did you mean "every"?)`},
		{"checks[2].channel", `unknown channel "opz" (did you mean "ops"?)`},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if ps[i].Path != w.Path || !strings.HasPrefix(ps[i].Message, w.Message) {
			t.Errorf("problem %d = %q, want %q", i, ps[i], w)
		}
	}
	if got := ps.Error(); strings.Count(got, "\n") != 2 || !strings.HasPrefix(got, "checks[1].every: ") {
		t.Errorf("Error() = %q, want three path: message lines", got)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		src, path, msg string
	}{
		{"listn: :8080", "listn", `unknown key (did you mean "listen"?)`},
		{"checks: [{interval: 30s}]", "checks[0].interval", `unknown key (did you mean "every"?)`},
		{"checks: [{cron: '* * * * *'}]", "checks[0].cron", `unknown key (did you mean "schedule"?)`},
		{"fruit: apple", "fruit", "unknown key (known keys: listen, log, database"},
		{"log: {levle: debug}", "log.levle", `unknown key (did you mean "level"?)`},
		{"slack: {signingSecret: x}", "slack.signingSecret", `unknown key (did you mean "signing_secret"?)`},
		{"checks: [{name: a, kind: tcp, address: 'h:1', every: 1m}, {name: b, kind: tcp, address: 'h:1', everyy: 1m, every: 1m}]",
			"checks[1].everyy", `unknown key (did you mean "every"?)`},
		{"channels: {ops: {slak: C1}}", "channels.ops.slak", `unknown key (did you mean "slack"?)`},
		{"channels: {'my ops': {slack: C1, colour: red}}", `channels["my ops"].colour`, "unknown key (known keys: slack, discord)"},
		{"tickets: {sla: {high: {resolv: 1d}}}", "tickets.sla.high.resolv", `unknown key (did you mean "resolve"?)`},
		{"access: {resources: [{grant: {webhook: {urll: x}}}]}", "access.resources[0].grant.webhook.urll", `unknown key (did you mean "url"?)`},
		{"devices: {inventory: [{name: a, address: a.example.com, snmp: {comunity: x}}]}",
			"devices.inventory[0].snmp.comunity", `unknown key (did you mean "community"?)`},
		{"checks: [{expect: {statuss: [200]}}]", "checks[0].expect.statuss", `unknown key (did you mean "status"?)`},
	}
	for _, tt := range tests {
		ps := mustFail(t, tt.src, nil)
		if !hasProblem(ps, tt.path, tt.msg) {
			t.Errorf("Parse(%q):\n%v\nwant %s: %s", tt.src, ps, tt.path, tt.msg)
		}
	}
}

// hasProblem reports whether ps has a problem at path whose message
// starts with msg.
func hasProblem(ps Problems, path, msg string) bool {
	for _, p := range ps {
		if p.Path == path && strings.HasPrefix(p.Message, msg) {
			return true
		}
	}
	return false
}

func TestWrongTypes(t *testing.T) {
	tests := []struct {
		src, path, msg string
	}{
		{"devices: {max_concurrent: lots}", "devices.max_concurrent", `want a whole number, got "lots"`},
		{"devices: {max_concurrent: 99999999999999999999}", "devices.max_concurrent", "want a whole number"},
		{"slack: {enabled: maybe}", "slack.enabled", `want true or false, got "maybe"`},
		{"log: debug", "log", "want a mapping of keys (level, format), not a single value"},
		{"people: {name: alice}", "people", "want a list, not a mapping"},
		{"people: [{name: alice, roles: admin}]", "people[0].roles", "want a list such as [admin], not a single value"},
		{"backups: {jobs: [{name: a, command: tar -czf /b.tgz /etc}]}", "backups.jobs[0].command", "want a list such as [tar, -czf, /b.tgz, /etc]"},
		{"listen: [a, b]", "listen", "want a single value, not a list"},
		{"outbox: {poll: 30}", "outbox.poll", `"30": missing unit after 30 (use s, m, h, d or w, e.g. "30s")`},
		{"outbox: {poll: -1s}", "outbox.poll", `"-1s": negative durations are not allowed`},
		{"outbox: {poll: {a: b}}", "outbox.poll", "want a single value, not a mapping"},
		{"maintenance: [{start: tomorrow}]", "maintenance[0].start", "want an RFC 3339 time"},
		{"checks: [{expect: {status: [ok]}}]", "checks[0].expect.status[0]", `want a whole number, got "ok"`},
		{"channels: [ops]", "channels", "want a mapping of names to values, not a list"},
		{"- a\n- b", "", "want a mapping of keys"},
		{"log: {? [a, b] : c}", "log", "line 1: a key must be a single word, not a list"},
	}
	for _, tt := range tests {
		ps := mustFail(t, tt.src, nil)
		if !hasProblem(ps, tt.path, tt.msg) {
			t.Errorf("Parse(%q):\n%v\nwant %s: %s", tt.src, ps, tt.path, tt.msg)
		}
	}
}

func TestNoFollowOnProblems(t *testing.T) {
	// A value that failed to decode is not reported again by Validate.
	ps := mustFail(t, "outbox: {poll: soon}", nil)
	if len(ps) != 1 || ps[0].Path != "outbox.poll" {
		t.Errorf("got %v, want one problem at outbox.poll", ps)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ src, msg string }{
		{"listen: :8080\nlog: [info\n", "YAML syntax: line"},
		{"a: b\n\tc: d\n", "YAML syntax: line 2"},
		{"listen: :8080\n---\nlisten: :9090\n", "line 2: a second YAML document starts here"},
	}
	for _, tt := range tests {
		ps := mustFail(t, tt.src, nil)
		if len(ps) != 1 || ps[0].Path != "" || !strings.HasPrefix(ps[0].Message, tt.msg) {
			t.Errorf("Parse(%q) = %v, want one problem %q", tt.src, ps, tt.msg)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	ps := mustFail(t, "log:\n  level: info\n  level: debug\n", nil)
	if !hasProblem(ps, "log.level", "given twice (lines 2 and 3)") {
		t.Errorf("got %v", ps)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `
channels:
  ops: {slack: C01OPS}
checks:
  - &web {name: web, kind: http, url: "https://example.com", every: 30s, channel: ops, failures: 3}
  - <<: *web
    name: web2
    url: "https://example.org"
  - <<: [{name: ignored, timeout: 3s}, *web]
    name: web3
`
	c, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	w2, w3 := c.Checks[1], c.Checks[2]
	if w2.Name != "web2" || w2.URL != "https://example.org" || w2.Failures != 3 || w2.Every != Duration(30*time.Second) {
		t.Errorf("merged web2 = %+v", w2)
	}
	if w3.Name != "web3" || w3.Timeout != Duration(3*time.Second) || w3.URL != "https://example.com" {
		t.Errorf("merged web3 = %+v", w3)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level merges the one before ten times: 10^9 keys if expanded.
	var b strings.Builder
	b.WriteString("x-anchors:\n  m0: &m0 {name: a}\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("  m" + itoa(i) + ": &m" + itoa(i) + " {<<: [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*m" + itoa(i-1))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("checks:\n")
	for range 50 {
		b.WriteString("  - <<: *m9\n")
	}
	// Expanded, these aliases would be 10^9 keys: the parser must refuse
	// to expand them rather than finish one day (a hang fails the test
	// run by its timeout; no timed assertion here).
	ps := mustFail(t, b.String(), nil)
	if !hasProblem(ps, "x-anchors", "unknown key") {
		t.Errorf("got %v", ps)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestEnvInParse(t *testing.T) {
	src := `
listen: "${HOST:-127.0.0.1}:${PORT}"
database: {dsn: "$${literal}"}
outbox: {workers: "${WORKERS}", poll: "${POLL:-2s}"}
backups:
  jobs:
    - {name: a, command: [echo, "${ARG}", "$$HOME", "${NESTED}"], env: {"${KEY}": x}}
`
	env := map[string]string{"PORT": "9090", "WORKERS": "7", "ARG": "one two", "NESTED": "${PORT}"}
	ps := mustFail(t, src, env)
	// The key ${KEY} is not expanded, so it is not a variable name.
	if len(ps) != 1 || !hasProblem(ps, `backups.jobs[0].env["${KEY}"]`, "not a valid environment variable name") {
		t.Fatalf("got %v", ps)
	}
	c, err := Parse([]byte(strings.Replace(src, `"${KEY}"`, "KEY", 1)), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9090" {
		t.Errorf("listen = %q", c.Listen)
	}
	if c.Database.DSN != "${literal}" {
		t.Errorf("dsn = %q, want $$ to give a literal $", c.Database.DSN)
	}
	if c.Outbox.Workers != 7 || c.Outbox.Poll != Duration(2*time.Second) {
		t.Errorf("outbox = %+v", c.Outbox)
	}
	want := []string{"echo", "one two", "$HOME", "${PORT}"}
	if got := c.Backups.Jobs[0].Command; !reflect.DeepEqual(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
}

func TestUnsetEnvHint(t *testing.T) {
	src := `
slack: {enabled: true, bot_token: "${SLACK_BOT_TOKEN}", signing_secret: "${SLACK_SIGNING_SECRET:-}"}
outbox: {workers: "${WORKERS}"}
discord: {api_url: "https://${A}${B}/x"}
`
	ps := mustFail(t, src, map[string]string{"A": "discord.example.com"})
	want := []string{
		`outbox.workers: want a whole number, got "" (environment variable WORKERS is not set)`,
		"slack.bot_token: required when slack.enabled is true (environment variable SLACK_BOT_TOKEN is not set)",
		"slack.signing_secret: required when slack.mode is http",
	}
	if got := strings.Split(ps.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Validate gives the same hint after Parse.
	c, err := Parse([]byte(`slack: {bot_token: "${T1}${T2}"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Slack.Enabled = true
	c.Slack.SigningSecret = "s"
	err = c.Validate()
	if err == nil || err.Error() != "slack.bot_token: required when slack.enabled is true (environment variables T1 and T2 are not set)" {
		t.Errorf("Validate() = %v", err)
	}
}

// TestUnsetSecrets: a secret that a job or device would use, written as
// ${VAR} with VAR unset, is a problem at config check, not an empty
// password at 2 a.m. (or, for a device's own community, a silent fallback
// to the default one). Disabled features keep their unset references.
func TestUnsetSecrets(t *testing.T) {
	src := `
slack: {enabled: false, bot_token: "${SLACK_BOT_TOKEN}"}
devices:
  snmp: {community: "${SNMP_COMMUNITY}"}
  profiles:
    branch: {community: "${BRANCH_COMMUNITY}"}
  inventory:
    - {name: a, address: 10.0.0.1, snmp: {community: "${A_COMMUNITY}"}}
    - {name: b, address: 10.0.0.2, snmp: {community: "${B_COMMUNITY:-}"}}
backups:
  jobs:
    - {name: j, command: ["true"], env: {RESTIC_PASSWORD: "${RESTIC_PASSWORD}", TZ: "${TZ:-UTC}", EMPTY: ""}}
`
	ps := mustFail(t, src, nil)
	want := []string{
		"devices.snmp.community: is empty (environment variable SNMP_COMMUNITY is not set)",
		"devices.inventory[0].snmp.community: is empty (environment variable A_COMMUNITY is not set)",
		"devices.profiles.branch.community: is empty (environment variable BRANCH_COMMUNITY is not set)",
		"backups.jobs[0].env.RESTIC_PASSWORD: is empty (environment variable RESTIC_PASSWORD is not set)",
	}
	if got := strings.Split(ps.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	env := map[string]string{"SNMP_COMMUNITY": "c", "BRANCH_COMMUNITY": "b", "A_COMMUNITY": "a", "RESTIC_PASSWORD": "p"}
	if _, err := Parse([]byte(src), lookup(env)); err != nil {
		t.Errorf("with the variables set: %v", err)
	}
}

// TestHugeValueClipped: a problem quotes at most a few hundred characters
// of the value it is about, however long the value.
func TestHugeValueClipped(t *testing.T) {
	ps := mustFail(t, "listen: \""+strings.Repeat("A", 1<<20)+"\"\n", nil)
	if len(ps) != 1 || len(ps.Error()) > 500 || !strings.HasPrefix(ps.Error(), "listen: want host:port") ||
		!strings.Contains(ps.Error(), "AAA…") {
		t.Errorf("%d problems, %d bytes: %.300s", len(ps), len(ps.Error()), ps.Error())
	}
}

func TestExpand(t *testing.T) {
	env := lookup(map[string]string{"A": "a", "EMPTY": "", "REF": "${A}", "DOLLAR": "$$"})
	tests := []struct {
		in, want string
		unset    []string
		err      string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "a"},
		{in: "x${A}y${A}z", want: "xayaz"},
		{in: "${MISSING}", want: "", unset: []string{"MISSING"}},
		{in: "${MISSING:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${A:-dflt}", want: "a"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-a:-b ${c}", want: "a:-b ${c"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "$$$${A}", want: "$${A}"},
		{in: "$$${A}", want: "$a"},
		{in: "${REF}", want: "${A}"},
		{in: "${DOLLAR}", want: "$$"},
		{in: "pa$word", want: "pa$word"},
		{in: "$HOME", want: "$HOME"},
		{in: "end$", want: "end$"},
		{in: "${A", err: `"${" at character 1 has no closing "}"`},
		{in: "ab${}", err: `"${" at character 3 does not start an environment variable name`},
		{in: "${1A}", err: "does not start an environment variable name"},
		{in: "${A-B}", err: "does not start an environment variable name"},
	}
	for _, tt := range tests {
		got, unset, err := expand(tt.in, env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || !reflect.DeepEqual(unset, tt.unset) {
			t.Errorf("expand(%q) = %q, %q, %v; want %q, %q", tt.in, got, unset, err, tt.want, tt.unset)
		}
	}
}

func TestExpandErrorInParse(t *testing.T) {
	ps := mustFail(t, `slack: {bot_token: "abc${oops"}`, nil)
	if !hasProblem(ps, "slack.bot_token", `"${" at character 4 has no closing "}" (write $$ for a literal $)`) {
		t.Errorf("got %v", ps)
	}
	if strings.Contains(ps.Error(), "abc") {
		t.Errorf("problem quotes the secret: %v", ps)
	}
}

func TestNullKeepsDefault(t *testing.T) {
	c, err := Parse([]byte("listen:\nlog: ~\nchecks:\ntickets: {business_hours: {}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Log.Level != "info" || c.Checks != nil {
		t.Errorf("nulls did not keep defaults: %+v", c)
	}
	if bh := c.Tickets.BusinessHours; bh == nil || bh.Start != "09:00" || len(bh.Days) != 5 || bh.Timezone != "UTC" {
		t.Errorf("business_hours: {} = %+v, want the defaults", bh)
	}
}

func TestSNMPVersionNumberOrString(t *testing.T) {
	for _, v := range []string{"1", "'1'", "2c", `"2c"`, "3", `"3"`} {
		c, err := Parse([]byte("devices: {snmp: {version: "+v+", user: ops}}"), nil)
		if err != nil {
			t.Errorf("version %s: %v", v, err)
			continue
		}
		if want := strings.Trim(v, `'"`); c.Devices.SNMP.Version != want {
			t.Errorf("version %s = %q, want %q", v, c.Devices.SNMP.Version, want)
		}
	}
}

// manyProblems is 1000 checks that each escalate to the same 1000 unknown
// people, by alias: a million problems from 170 kB.
func manyProblems() string {
	const n = 1000
	var b strings.Builder
	b.WriteString("x-to: &to [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "nobody%d", i)
	}
	b.WriteString("]\npeople:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: p%d, teams: [t%d]}\n", i, i)
	}
	b.WriteString("checks:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: c%d, kind: tcp, address: 'h:1', every: 1m, team: tx%d, timezone: Europe/Paris, escalate: {after: 1m, to: *to}}\n", i, i)
	}
	return b.String()
}

// BenchmarkManyProblems times validating manyProblems (go test -bench
// ManyProblems ./config/): it must stay far from quadratic.
func BenchmarkManyProblems(b *testing.B) {
	src := manyProblems()
	for b.Loop() {
		if _, err := Parse([]byte(src), func(string) (string, bool) { return "", false }); err == nil {
			b.Fatal("no problems found")
		}
	}
}

func TestManyProblemsStayQuick(t *testing.T) {
	// How long this takes is a benchmark's business (BenchmarkManyProblems),
	// not a timed assertion: the test holds the cap on what is reported.
	ps := mustFail(t, manyProblems(), nil)
	if len(ps) > maxProblems+1 {
		t.Errorf("got %d problems, want at most %d:\n%v", len(ps), maxProblems+1, ps[maxProblems-3:])
	}
	if last := ps[len(ps)-1]; last.Path != "" || !strings.HasPrefix(last.Message, "and ") || !strings.Contains(last.Message, "more problems") {
		t.Errorf("last problem = %q, want a count of the rest", last)
	}
}
