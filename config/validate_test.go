package config

import (
	"strings"
	"testing"
	"time"
)

// team returns a deep copy of the named team with change applied, so a
// test case changes nothing that another shares.
func team(c *Config, name string, change func(*Team)) Team {
	t := c.Teams[name]
	if t.Rotation != nil {
		r := *t.Rotation
		r.Layers = nil
		for _, l := range t.Rotation.Layers {
			r.Layers = append(r.Layers, Layer{Name: l.Name, Members: append([]string(nil), l.Members...)})
		}
		t.Rotation = &r
	}
	var steps []EscalationStep
	for _, s := range t.Escalation {
		steps = append(steps, EscalationStep{After: s.After, To: append([]string(nil), s.To...)})
	}
	t.Escalation = steps
	change(&t)
	return t
}

// tmpl changes a deep copy of the engineer template.
func tmpl(c *Config, change func(*Template)) {
	t := c.Provisioning.Templates["engineer"]
	t.Access = append([]TemplateAccess(nil), t.Access...)
	var cmds []TemplateCommand
	for _, cmd := range t.Commands {
		cmd.Create, cmd.Remove = append([]string(nil), cmd.Create...), append([]string(nil), cmd.Remove...)
		cmds = append(cmds, cmd)
	}
	t.Commands = cmds
	t.Devices = append([]TemplateDevice(nil), t.Devices...)
	t.Tickets = append([]TemplateTicket(nil), t.Tickets...)
	change(&t)
	c.Provisioning.Templates["engineer"] = t
}

// TestExpandPlaceholders: placeholders become values, with or without spaces inside
// the braces; nothing else in the argument changes.
func TestExpandPlaceholders(t *testing.T) {
	vals := map[string]string{"Person": "erin", "Email": "erin@example.com"}
	for in, want := range map[string]string{
		"{{.Person}}":                 "erin",
		"--email={{ .Email }}":        "--email=erin@example.com",
		"{{.Person}}:{{.Person}}":     "erin:erin",
		"plain; $(no shell) `either`": "plain; $(no shell) `either`",
	} {
		if got := Expand(in, vals); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFullIsValid(t *testing.T) {
	if err := parseFull(t).Validate(); err != nil {
		t.Fatalf("Validate(full.yaml):\n%v", err)
	}
}

// TestValidate breaks one rule at a time in the full configuration and
// expects exactly that one problem.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		path   string
		msg    string // part of the message
	}{
		// listen, log, database
		{"listen without port", func(c *Config) { c.Listen = "8080" }, "listen", `want host:port such as 127.0.0.1:8080 or :8080, got "8080"`},
		{"listen bad port", func(c *Config) { c.Listen = "localhost:http" }, "listen", "want host:port"},
		{"log level", func(c *Config) { c.Log.Level = "warning" }, "log.level", `unknown value "warning" (did you mean "warn"?) (use debug, info, warn or error)`},
		{"log format", func(c *Config) { c.Log.Format = "" }, "log.format", "required (use text or json)"},
		{"db driver", func(c *Config) { c.Database.Driver = "mysql" }, "database.driver", `unknown value "mysql"`},
		{"db dsn", func(c *Config) { c.Database.DSN = "" }, "database.dsn", "required"},
		{"db conns", func(c *Config) { c.Database.MaxOpenConns = -1 }, "database.max_open_conns", "must not be negative"},

		// slack, discord
		{"slack mode", func(c *Config) { c.Slack.Mode = "sockets" }, "slack.mode", `unknown value "sockets" (did you mean "socket"?)`},
		{"slack bot token", func(c *Config) { c.Slack.BotToken = "" }, "slack.bot_token", "required when slack.enabled is true"},
		{"slack signing secret", func(c *Config) { c.Slack.SigningSecret = "" }, "slack.signing_secret", "required when slack.mode is http"},
		{"slack app token", func(c *Config) { c.Slack.Mode = "socket" }, "slack.app_token", "required when slack.mode is socket"},
		{"slack api url", func(c *Config) { c.Slack.APIURL = "slack.example.com" }, "slack.api_url", "want an http:// or https:// URL"},
		{"discord mode", func(c *Config) { c.Discord.Mode = "websocket" }, "discord.mode", `unknown value "websocket"`},
		{"discord application id", func(c *Config) { c.Discord.ApplicationID = "" }, "discord.application_id", "required when discord.mode is http"},
		{"discord application id format", func(c *Config) { c.Discord.ApplicationID = "opsbot" }, "discord.application_id", "want the application ID"},
		{"discord public key", func(c *Config) { c.Discord.PublicKey = "" }, "discord.public_key", "required when discord.mode is http"},
		{"discord public key format", func(c *Config) { c.Discord.PublicKey = "abc" }, "discord.public_key", "want the application's public key"},
		{"discord token", func(c *Config) { c.Discord.Mode = "gateway"; c.Discord.Token = "" }, "discord.token", "required when discord.mode is gateway"},
		{"discord api url", func(c *Config) { c.Discord.APIURL = "ftp://x" }, "discord.api_url", "want an http:// or https:// URL"},

		// people
		{"person name", func(c *Config) { c.People[2].Name = "" }, "people[2].name", "required"},
		{"person name format", func(c *Config) { c.People[2].Name = "Carol Smith" }, "people[2].name", `"Carol Smith" is not a valid name (use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. "carol-smith")`},
		{"person duplicate", func(c *Config) { c.People[2].Name = "alice" }, "people[2].name", `duplicate name "alice" (also at people[0].name)`},
		{"slack id format", func(c *Config) { c.People[1].SlackID = "bob" }, "people[1].slack_id", "want a Slack member ID"},
		{"slack id duplicate", func(c *Config) { c.People[1].SlackID = "U01ALICE" }, "people[1].slack_id", `duplicate slack_id "U01ALICE" (also at people[0].slack_id)`},
		{"discord id format", func(c *Config) { c.People[1].DiscordID = "bob#1234" }, "people[1].discord_id", "want a Discord user ID"},
		{"discord id duplicate", func(c *Config) { c.People[1].DiscordID = "100000000000000001" }, "people[1].discord_id", "duplicate discord_id"},
		{"email", func(c *Config) { c.People[0].Email = "alice at example.com" }, "people[0].email", "want an e-mail address"},
		{"role format", func(c *Config) { c.People[0].Roles[1] = "Approver" }, "people[0].roles[1]", `"Approver" is not a valid name`},
		{"role duplicate", func(c *Config) { c.People[0].Roles[1] = "helpdesk" }, "people[0].roles[1]", `duplicate entry "helpdesk"`},
		{"team format", func(c *Config) { c.People[2].Teams[0] = "net work" }, "people[2].teams[0]", "is not a valid name"},

		// channels
		{"channel empty", func(c *Config) { c.Channels["spare"] = Channel{} }, "channels.spare", "set slack (a channel ID such as C01HELP), discord"},
		{"channel name", func(c *Config) { c.Channels["Spare"] = Channel{Slack: "C1"} }, "channels.Spare", `"Spare" is not a valid channel name`},
		{"channel slack name", func(c *Config) { c.Channels["access"] = Channel{Slack: "#access"} }, "channels.access.slack", "want the channel ID such as C01HELP, not its name"},
		{"channel slack id", func(c *Config) { c.Channels["access"] = Channel{Slack: "c01access"} }, "channels.access.slack", "want a Slack channel ID"},
		{"channel discord id", func(c *Config) { c.Channels["access"] = Channel{Discord: "access"} }, "channels.access.discord", "want a Discord channel ID"},

		// tickets
		{"queue name", func(c *Config) { c.Tickets.Queues[1].Name = "" }, "tickets.queues[1].name", "required"},
		{"queue duplicate", func(c *Config) { c.Tickets.Queues[1].Name = "it" }, "tickets.queues[1].name", `duplicate queue "it"`},
		{"queue channel", func(c *Config) { c.Tickets.Queues[0].Channel = "help" }, "tickets.queues[0].channel", `unknown channel "help"`},
		{"queue channel no suggestion", func(c *Config) { c.Tickets.Queues[0].Channel = "zzzzzzzz" }, "tickets.queues[0].channel", `unknown channel "zzzzzzzz" (define it under channels)`},
		{"queue category", func(c *Config) { c.Tickets.Queues[0].Categories[2] = "hardware" }, "tickets.queues[0].categories[2]", "duplicate entry"},
		{"default queue", func(c *Config) { c.Tickets.DefaultQueue = "itt" }, "tickets.default_queue", `unknown queue "itt" (did you mean "it"?)`},
		{"sla priority", func(c *Config) { c.Tickets.SLA["critical"] = SLA{Resolve: 1} }, "tickets.sla.critical", "unknown priority (use low, normal, high or urgent)"},
		{"sla empty", func(c *Config) { c.Tickets.SLA["low"] = SLA{} }, "tickets.sla.low", "set first_response, resolve or both"},
		{"sla order", func(c *Config) { c.Tickets.SLA["low"] = SLA{FirstResponse: Duration(2 * day), Resolve: Duration(day)} }, "tickets.sla.low.first_response", "must not be longer than resolve (1d)"},
		{"hours start", func(c *Config) { c.Tickets.BusinessHours.Start = "9am" }, "tickets.business_hours.start", "want a time of day as HH:MM"},
		{"hours end", func(c *Config) { c.Tickets.BusinessHours.End = "25:00" }, "tickets.business_hours.end", "want a time of day as HH:MM"},
		{"hours order", func(c *Config) { c.Tickets.BusinessHours.End = "08:00" }, "tickets.business_hours.end", "must be after start (08:30)"},
		{"hours no days", func(c *Config) { c.Tickets.BusinessHours.Days = nil }, "tickets.business_hours.days", "required"},
		{"hours day", func(c *Config) { c.Tickets.BusinessHours.Days[0] = "monday" }, "tickets.business_hours.days[0]", `unknown day "monday"`},
		{"hours duplicate day", func(c *Config) { c.Tickets.BusinessHours.Days[1] = "mon" }, "tickets.business_hours.days[1]", `duplicate day "mon"`},
		{"hours timezone", func(c *Config) { c.Tickets.BusinessHours.Timezone = "Mars/Olympus" }, "tickets.business_hours.timezone", `unknown time zone "Mars/Olympus"`},
		{"hours timezone empty", func(c *Config) { c.Tickets.BusinessHours.Timezone = "" }, "tickets.business_hours.timezone", "required"},

		// access
		{"pending ttl", func(c *Config) { c.Access.PendingTTL = 0 }, "access.pending_ttl", "must be longer than 0, e.g. 24h"},
		{"max concurrent actions", func(c *Config) { c.Access.MaxConcurrentActions = 0 }, "access.max_concurrent_actions", "must be at least 1"},
		{"max concurrent actions negative", func(c *Config) { c.Access.MaxConcurrentActions = -3 }, "access.max_concurrent_actions", "must be at least 1"},
		{"resource name", func(c *Config) { c.Access.Resources[1].Name = "vpn admin" }, "access.resources[1].name", "is not a valid name"},
		{"resource duplicate", func(c *Config) { c.Access.Resources[1].Name = "prod-db" }, "access.resources[1].name", `duplicate resource "prod-db"`},
		{"resource role", func(c *Config) { c.Access.Resources[0].Roles[1] = "read" }, "access.resources[0].roles[1]", "duplicate entry"},
		{"approvals", func(c *Config) { c.Access.Resources[0].Approvals = 0 }, "access.resources[0].approvals", "must be at least 1"},
		{"approvals too many", func(c *Config) { c.Access.Resources[1].Approvals = 3 }, "access.resources[1].approvals", "needs 3 approvals but only 2 people can approve (add approvers or set approver_role)"},
		{"approver role nobody has", func(c *Config) { c.Access.Resources[2].ApproverRole = "dba" }, "access.resources[2].approvals", `needs 1 approval but only 0 people can approve (add approvers or give more people the role "dba")`},
		{"approver unknown", func(c *Config) { c.Access.Resources[0].Approvers[0] = "bbo" }, "access.resources[0].approvers[0]", `unknown person "bbo" (did you mean "bob"?)`},
		{"approver duplicate", func(c *Config) { c.Access.Resources[1].Approvers[1] = "alice" }, "access.resources[1].approvers[1]", `duplicate approver "alice"`},
		{"approvers missing", func(c *Config) { c.Access.Resources[2].ApproverRole = "" }, "access.resources[2].approvers", "set approvers (names from people), approver_role, or both"},
		{"approver role format", func(c *Config) { c.Access.Resources[0].ApproverRole = "Approver" }, "access.resources[0].approver_role", "is not a valid name"},
		{"max duration", func(c *Config) { c.Access.Resources[0].MaxDuration = 0 }, "access.resources[0].max_duration", "must be longer than 0, e.g. 8h"},
		{"resource channel", func(c *Config) { c.Access.Resources[0].Channel = "acess" }, "access.resources[0].channel", `unknown channel "acess" (did you mean "access"?)`},
		{"grant none", func(c *Config) { c.Access.Resources[0].Grant = Action{} }, "access.resources[0].grant", "set one of command (an argv list), webhook"},
		{"grant two", func(c *Config) { c.Access.Resources[0].Grant.Manual = true }, "access.resources[0].grant", "set only one of command, webhook or manual (found command and manual)"},
		{"revoke none", func(c *Config) { c.Access.Resources[1].Revoke = Action{} }, "access.resources[1].revoke", "set one of command"},
		{"grant empty command", func(c *Config) { c.Access.Resources[0].Grant.Command = []string{} }, "access.resources[0].grant.command", "required: the program and its arguments as a list"},
		{"grant empty program", func(c *Config) { c.Access.Resources[0].Grant.Command = []string{"", "x"} }, "access.resources[0].grant.command[0]", "the program must not be empty"},
		{"grant shell line", func(c *Config) { c.Access.Resources[0].Grant.Command = []string{"grant prod-db --all"} }, "access.resources[0].grant.command", "looks like a shell command line; write the program and each argument as a list, e.g. [grant, prod-db, --all]"},
		{"grant timeout", func(c *Config) { c.Access.Resources[0].Grant.Timeout = 0 }, "access.resources[0].grant.timeout", "must be longer than 0, e.g. 30s"},
		{"webhook url", func(c *Config) { c.Access.Resources[1].Grant.Webhook.URL = "idm.example.com/grant?token=s3cret" }, "access.resources[1].grant.webhook.url", "want an http:// or https:// URL"},
		{"webhook secret", func(c *Config) { c.Access.Resources[1].Revoke.Webhook.Secret = "" }, "access.resources[1].revoke.webhook.secret", "required: the key that signs each request"},

		// devices
		{"max concurrent", func(c *Config) { c.Devices.MaxConcurrent = 0 }, "devices.max_concurrent", "must be at least 1"},
		{"snmp version", func(c *Config) { c.Devices.SNMP.Version = "2" }, "devices.snmp.version", `unknown value "2" (did you mean "2c"?) (use 1, 2c or 3)`},
		{"snmp port", func(c *Config) { c.Devices.SNMP.Port = 70000 }, "devices.snmp.port", "want a UDP port from 1 to 65535"},
		{"snmp timeout", func(c *Config) { c.Devices.SNMP.Timeout = 0 }, "devices.snmp.timeout", "must be longer than 0, e.g. 2s"},
		{"snmp retries", func(c *Config) { c.Devices.SNMP.Retries = -1 }, "devices.snmp.retries", "must not be negative"},
		{"snmp v3 user", func(c *Config) { c.Devices.SNMP.Version = "3" }, "devices.snmp.user", "required when version is 3"},
		{"snmp auth protocol", func(c *Config) { c.Devices.Inventory[0].SNMPOverride.AuthProtocol = "sha" }, "devices.inventory[0].snmp.auth_protocol", `unknown value "sha" (did you mean "SHA"?) (use MD5, SHA, SHA224, SHA256, SHA384 or SHA512)`},
		{"snmp priv protocol", func(c *Config) { c.Devices.Inventory[0].SNMPOverride.PrivProtocol = "3DES" }, "devices.inventory[0].snmp.priv_protocol", `unknown value "3DES"`},
		{"snmp priv needs auth", func(c *Config) { c.Devices.Inventory[0].SNMPOverride.AuthProtocol = "" }, "devices.inventory[0].snmp.priv_protocol", "needs auth_protocol too"},
		{"snmp auth passphrase", func(c *Config) { c.Devices.Inventory[0].SNMPOverride.AuthPassphrase = "" }, "devices.inventory[0].snmp.auth_passphrase", "required when auth_protocol is set"},
		{"snmp priv passphrase short", func(c *Config) { c.Devices.Inventory[0].SNMPOverride.PrivPassphrase = "short" }, "devices.inventory[0].snmp.priv_passphrase", "must be at least 8 characters long"},
		{"snmp profile name", func(c *Config) { c.Devices.Profiles = map[string]SNMPProfile{"Branch Office": {}} }, "devices.profiles.Branch Office", `is not a valid profile name`},
		{"snmp profile merged", func(c *Config) { c.Devices.Profiles = map[string]SNMPProfile{"v3": {Version: "3"}} }, "devices.profiles.v3.user", "required when version is 3"},
		{"device name", func(c *Config) { c.Devices.Inventory[1].Name = "" }, "devices.inventory[1].name", "required"},
		{"device duplicate", func(c *Config) { c.Devices.Inventory[1].Name = "core-sw-1" }, "devices.inventory[1].name", `duplicate device "core-sw-1"`},
		{"device address", func(c *Config) { c.Devices.Inventory[1].Address = "" }, "devices.inventory[1].address", "required"},
		{"device address port", func(c *Config) { c.Devices.Inventory[1].Address = "10.0.0.2:161" }, "devices.inventory[1].address", "write the address without a port"},
		{"device address bad", func(c *Config) { c.Devices.Inventory[1].Address = "10.0.0.256" }, "devices.inventory[1].address", `want an IPv4 or IPv6 address or a DNS name, got "10.0.0.256"`},
		{"device address space", func(c *Config) { c.Devices.Inventory[1].Address = "edge rtr" }, "devices.inventory[1].address", "want an IPv4 or IPv6 address"},

		// backups
		{"output limit", func(c *Config) { c.Backups.OutputLimit = 0 }, "backups.output_limit", "must be at least 1"},
		{"job name", func(c *Config) { c.Backups.Jobs[1].Name = "DB" }, "backups.jobs[1].name", `"DB" is not a valid name`},
		{"job duplicate", func(c *Config) { c.Backups.Jobs[1].Name = "etc" }, "backups.jobs[1].name", `duplicate job "etc"`},
		{"job command", func(c *Config) { c.Backups.Jobs[1].Command = nil }, "backups.jobs[1].command", "required"},
		{"job dir", func(c *Config) { c.Backups.Jobs[0].Dir = "backups" }, "backups.jobs[0].dir", "want an absolute path"},
		{"job env", func(c *Config) { c.Backups.Jobs[0].Env["PG-PASS"] = "x" }, `backups.jobs[0].env.PG-PASS`, "not a valid environment variable name"},
		{"job timeout", func(c *Config) { c.Backups.Jobs[0].Timeout = 0 }, "backups.jobs[0].timeout", "must be longer than 0, e.g. 1h"},
		{"job schedule", func(c *Config) { c.Backups.Jobs[0].Schedule = "0 2 * *" }, "backups.jobs[0].schedule", `"0 2 * *": expected 5 to 6 fields, found 4`},
		{"job schedule that never fires", func(c *Config) { c.Backups.Jobs[0].Schedule = "0 0 30 2 *" }, "backups.jobs[0].schedule", `"0 0 30 2 *" never fires: no date matches it`},
		{"check schedule that never fires", func(c *Config) { c.Checks[1].Every, c.Checks[1].Schedule = 0, "0 0 31 4 *" }, "checks[1].schedule", "never fires"},
		{"job schedule range", func(c *Config) { c.Backups.Jobs[0].Schedule = "0 25 * * *" }, "backups.jobs[0].schedule", "end of range (25) above maximum (23)"},
		{"job schedule tz prefix without space", func(c *Config) { c.Backups.Jobs[1].Schedule = "CRON_TZ=UTC" }, "backups.jobs[1].schedule", "a time zone prefix needs a space"},
		{"job schedule bad tz prefix", func(c *Config) { c.Backups.Jobs[1].Schedule = "CRON_TZ=Nowhere/City 0 2 * * *" }, "backups.jobs[1].schedule", "provided bad location Nowhere/City"},
		{"job timezone", func(c *Config) { c.Backups.Jobs[0].Timezone = "Paris" }, "backups.jobs[0].timezone", `unknown time zone "Paris"`},
		{"job timezone without schedule", func(c *Config) { c.Backups.Jobs[0].Schedule = ""; c.Backups.Jobs[0].Timezone = "Paris" }, "backups.jobs[0].timezone", `unknown time zone "Paris"`},
		{"job timezone twice", func(c *Config) { c.Backups.Jobs[1].Timezone = "UTC" }, "backups.jobs[1].timezone", "the schedule names its own time zone"},
		{"job channel", func(c *Config) { c.Backups.Jobs[0].Channel = "backups" }, "backups.jobs[0].channel", `unknown channel "backups"`},
		{"job role", func(c *Config) { c.Backups.Jobs[0].Roles = []string{"on call"} }, "backups.jobs[0].roles[0]", "is not a valid name"},

		// checks
		{"check name", func(c *Config) { c.Checks[1].Name = "" }, "checks[1].name", "required"},
		{"check name too long for the database", func(c *Config) { c.Checks[1].Name = strings.Repeat("a", 101) }, "checks[1].name", "is 101 characters long; a name has at most 64"},
		{"person name too long", func(c *Config) { c.People[2].Name = strings.Repeat("c", 65) }, "people[2].name", "is 65 characters long; a name has at most 64"},
		{"check duplicate", func(c *Config) { c.Checks[1].Name = "intranet" }, "checks[1].name", `duplicate check "intranet" (also at checks[0].name)`},
		{"check kind", func(c *Config) { c.Checks[1].Kind = "ping" }, "checks[1].kind", `unknown value "ping" (use http, tcp, dns, tls, snmp, command or backup-freshness)`},
		{"check kind empty", func(c *Config) { c.Checks[1].Kind = "" }, "checks[1].kind", "required (use http"},
		{"check no every or schedule", func(c *Config) { c.Checks[1].Every = 0 }, "checks[1].every", "set every (e.g. 30s) or schedule"},
		{"check every and schedule", func(c *Config) { c.Checks[1].Schedule = "@hourly" }, "checks[1].schedule", "set every or schedule, not both"},
		{"check every too short", func(c *Config) { c.Checks[1].Every = Duration(500 * time.Millisecond); c.Checks[1].Timeout = 1 }, "checks[1].every", "must be at least 1s"},
		{"check schedule", func(c *Config) { c.Checks[3].Schedule = "every day" }, "checks[3].schedule", `"every day": expected 5 to 6 fields`},
		{"check timezone", func(c *Config) { c.Checks[3].Timezone = "utc+1" }, "checks[3].timezone", `unknown time zone "utc+1"`},
		{"check timeout", func(c *Config) { c.Checks[1].Timeout = 0 }, "checks[1].timeout", "must be longer than 0, e.g. 10s"},
		{"check timeout over every", func(c *Config) { c.Checks[1].Timeout = Duration(2 * time.Minute) }, "checks[1].timeout", "must not be longer than every (1m)"},
		{"check @every under a second", func(c *Config) { c.Checks[1].Every, c.Checks[1].Schedule = 0, "@every 100ms" }, "checks[1].schedule", "@every must be at least 1s"},
		{"check timeout over @every", func(c *Config) {
			c.Checks[1].Every, c.Checks[1].Schedule, c.Checks[1].Timeout = 0, "@every 10s", Duration(time.Minute)
		}, "checks[1].timeout", "must not be longer than the schedule's @every (10s)"},
		{"check channel", func(c *Config) { c.Checks[0].Channel = "opps" }, "checks[0].channel", `unknown channel "opps" (did you mean "ops"?)`},
		{"check team", func(c *Config) { c.Checks[0].Team = "networks" }, "checks[0].team", `unknown team "networks" (did you mean "network"?)`},
		{"check escalates to a layer", func(c *Config) { c.Checks[0].Escalate.To[0] = "oncall:it:tertiary" }, "checks[0].escalate.to[0]", `team it has no layer "tertiary" (its layers: primary, secondary)`},

		// teams
		{"queue team", func(c *Config) { c.Tickets.Queues[0].Team = "sales" }, "tickets.queues[0].team", `unknown team "sales"`},
		{"job team", func(c *Config) { c.Backups.Jobs[0].Team = "netwrk" }, "backups.jobs[0].team", `unknown team "netwrk" (did you mean "network"?)`},
		{"resource team", func(c *Config) { c.Access.Resources[0].Team = "Net" }, "access.resources[0].team", "is not a valid name"},
		{"team channel", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Channel = "opps" }) }, "teams.it.channel", `unknown channel "opps"`},
		{"team unknown member", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Layers[0].Members[1] = "bbo" })
		}, "teams.it.rotation.layers[0].members[1]", `unknown person "bbo" (did you mean "bob"?)`},
		{"team member outside the team", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Layers[1].Members[0] = "carol" })
		}, "teams.it.rotation.layers[1].members[0]", "carol is not in team it (add it to people[2].teams)"},
		{"team empty layer", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Layers[1].Members = nil }) }, "teams.it.rotation.layers[1].members", "empty layer"},
		{"team no layers", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Layers = nil }) }, "teams.it.rotation.layers", "nobody would be on call"},
		{"team layer name", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Layers[0].Name = "secondary" })
		}, "teams.it.rotation.layers[1].name", `duplicate layer "secondary"`},
		{"team zone", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Timezone = "Europe/Berlim" })
		}, "teams.it.rotation.timezone", `unknown time zone "Europe/Berlim"`},
		{"team handoff", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Handoff = "weekley" }) }, "teams.it.rotation.handoff", `unknown value "weekley" (did you mean "weekly"?)`},
		{"team day", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Day = "monday" }) }, "teams.it.rotation.day", `unknown day "monday"`},
		{"team at", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.At = "9am" }) }, "teams.it.rotation.at", "want a time of day as HH:MM"},
		{"team start", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Rotation.Start = "05.01.2026" }) }, "teams.it.rotation.start", "want a date as YYYY-MM-DD"},
		{"team escalation order", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Escalation[1].After = Duration(10 * time.Minute) })
		}, "teams.it.escalation[1].after", "must be later than the step before (15m)"},
		{"team escalation unknown team", func(c *Config) {
			c.Teams["it"] = team(c, "it", func(t *Team) { t.Escalation[0].To[0] = "oncall:itt:primary" })
		}, "teams.it.escalation[0].to[0]", `unknown team "itt" (did you mean "it"?)`},
		{"team escalation bad ref", func(c *Config) { c.Teams["it"] = team(c, "it", func(t *Team) { t.Escalation[0].To[0] = "oncall:it" }) }, "teams.it.escalation[0].to[0]", "want oncall:TEAM:LAYER"},
		{"team without rotation paged", func(c *Config) {
			c.Teams["network"] = team(c, "network", func(t *Team) { t.Rotation = nil })
			c.Checks[0].Escalate.To[0] = "oncall:network:primary"
		}, "checks[0].escalate.to[0]", "team network has no rotation"},
		{"check failures", func(c *Config) { c.Checks[0].Failures = 0 }, "checks[0].failures", "must be at least 1"},
		{"check successes", func(c *Config) { c.Checks[0].Successes = -1 }, "checks[0].successes", "must be at least 1"},
		{"escalate after", func(c *Config) { c.Checks[0].Escalate.After = 0 }, "checks[0].escalate.after", "must be longer than 0, e.g. 30m"},
		{"escalate to empty", func(c *Config) { c.Checks[0].Escalate.To = nil }, "checks[0].escalate.to", "required: person names, channel:NAME or oncall:TEAM:LAYER"},
		{"escalate to person", func(c *Config) { c.Checks[0].Escalate.To[0] = "alcie" }, "checks[0].escalate.to[0]", `unknown person "alcie" (did you mean "alice"?)`},
		{"escalate to channel", func(c *Config) { c.Checks[0].Escalate.To[1] = "channel:helpdsk" }, "checks[0].escalate.to[1]", `unknown channel "helpdsk" (did you mean "helpdesk"?)`},
		{"escalate to channel empty", func(c *Config) { c.Checks[0].Escalate.To[1] = "channel:" }, "checks[0].escalate.to[1]", "want channel:NAME"},
		{"http url", func(c *Config) { c.Checks[0].URL = "" }, "checks[0].url", "required: an http:// or https:// URL"},
		{"http url scheme", func(c *Config) { c.Checks[0].URL = "intranet.example.com/health" }, "checks[0].url", "want an http:// or https:// URL with a host"},
		{"http method", func(c *Config) { c.Checks[0].Method = "get" }, "checks[0].method", `unknown value "get" (did you mean "GET"?)`},
		{"http header", func(c *Config) { c.Checks[0].Headers["X Token"] = "x" }, `checks[0].headers["X Token"]`, "not a valid header name"},
		{"http header value", func(c *Config) { c.Checks[0].Headers["X-Token"] = "a\nb" }, `checks[0].headers.X-Token`, "control characters"},
		{"http status", func(c *Config) { c.Checks[0].Expect.Status[1] = 2000 }, "checks[0].expect.status[1]", "want an HTTP status code from 100 to 599, got 2000"},
		{"http regex", func(c *Config) { c.Checks[0].Expect.BodyRegex = "ok(" }, "checks[0].expect.body_regex", "not a valid regular expression"},
		{"tcp address", func(c *Config) { c.Checks[1].Address = "" }, "checks[1].address", "required: host:port"},
		{"tcp address port", func(c *Config) { c.Checks[1].Address = "db.example.com" }, "checks[1].address", `want host:port such as db.example.com:5432 or [2001:db8::1]:443, got "db.example.com"`},
		{"tls address", func(c *Config) { c.Checks[3].Address = "intranet.example.com:https" }, "checks[3].address", "want host:port"},
		{"tls min days", func(c *Config) { c.Checks[3].MinDays = -1 }, "checks[3].min_days", "must not be negative"},
		{"dns host", func(c *Config) { c.Checks[2].Host = "" }, "checks[2].host", "required: the name to resolve"},
		{"dns host format", func(c *Config) { c.Checks[2].Host = "https://intranet.example.com" }, "checks[2].host", "want a DNS name"},
		{"dns resolver", func(c *Config) { c.Checks[2].Resolver = "dns server" }, "checks[2].resolver", "want an IP address or host:port"},
		{"dns address", func(c *Config) { c.Checks[2].ExpectAddresses = []string{"10.0.0.10", "intranet"} }, "checks[2].addresses[1]", `want an IP address such as 10.0.0.10, got "intranet"`},
		{"snmp device", func(c *Config) { c.Checks[4].Device = "" }, "checks[4].device", "required: the name of a device in devices.inventory"},
		{"snmp device unknown", func(c *Config) { c.Checks[4].Device = "core-sw-2" }, "checks[4].device", `unknown device "core-sw-2" (did you mean "core-sw-1"?)`},
		{"snmp oid", func(c *Config) { c.Checks[4].OID = "" }, "checks[4].oid", "required: a numeric OID"},
		{"snmp oid name", func(c *Config) { c.Checks[4].OID = "sysUpTime.0" }, "checks[4].oid", `want a numeric OID such as 1.3.6.1.2.1.1.3.0, got "sysUpTime.0"`},
		{"snmp compare op", func(c *Config) { c.Checks[4].Compare.Op = "=>" }, "checks[4].compare.op", `unknown value "=>"`},
		{"snmp compare op missing", func(c *Config) { c.Checks[4].Compare.Op = "" }, "checks[4].compare.op", "required when compare.value is set"},
		{"snmp compare value", func(c *Config) { c.Checks[4].Compare.Value = "" }, "checks[4].compare.value", "required when compare.op is set"},
		{"snmp compare number", func(c *Config) { c.Checks[4].Compare.Value = "up" }, "checks[4].compare.value", `want a number to compare with >, got "up"`},
		{"command argv", func(c *Config) { c.Checks[5].Command = nil }, "checks[5].command", "required: the program and its arguments"},
		{"freshness job", func(c *Config) { c.Checks[6].Job = "" }, "checks[6].job", "required: the name of a job in backups.jobs"},
		{"freshness job unknown", func(c *Config) { c.Checks[6].Job = "etcc" }, "checks[6].job", `unknown backup job "etcc" (did you mean "etc"?)`},
		{"freshness window", func(c *Config) { c.Backups.Jobs[0].FreshWithin = 0 }, "backups.jobs[0].fresh_within", "required because checks[6] watches this job"},
		{"target of another kind", func(c *Config) { c.Checks[1].URL = "https://db.example.com" }, "checks[1].url", "not used by tcp checks (it is for http checks)"},
		{"insecure_skip_verify on a tls check", func(c *Config) { c.Checks[3].InsecureSkipVerify = true }, "checks[3].insecure_skip_verify", "not used by tls checks (it is for http checks)"},
		{"headers on a tcp check", func(c *Config) { c.Checks[1].Headers = map[string]string{"X-A": "b"} }, "checks[1].headers", "not used by tcp checks (it is for http checks)"},
		{"expect on a tcp check", func(c *Config) { c.Checks[1].Expect.Status = []int{200} }, "checks[1].expect", "not used by tcp checks (it is for http checks)"},
		{"resolver on a tcp check", func(c *Config) { c.Checks[1].Resolver = "10.0.0.53" }, "checks[1].resolver", "not used by tcp checks (it is for dns checks)"},
		{"compare on a tls check", func(c *Config) { c.Checks[3].Compare = Compare{Op: ">", Value: "1"} }, "checks[3].compare", "not used by tls checks (it is for snmp checks)"},
		{"target of another kind 2", func(c *Config) { c.Checks[0].Address = "intranet.example.com:443" }, "checks[0].address", "not used by http checks (it is for tcp or tls checks)"},

		// maintenance
		{"maintenance check", func(c *Config) { c.Maintenance[0].Checks[1] = "intranet-crt" }, "maintenance[0].checks[1]", `unknown check "intranet-crt" (did you mean "intranet-cert"?)`},
		{"maintenance start", func(c *Config) { c.Maintenance[0].Start = time.Time{} }, "maintenance[0].start", "required: an RFC 3339 time"},
		{"maintenance end", func(c *Config) { c.Maintenance[0].End = time.Time{} }, "maintenance[0].end", "required: an RFC 3339 time"},
		{"maintenance order", func(c *Config) { c.Maintenance[0].End = c.Maintenance[0].Start }, "maintenance[0].end", "must be after start (2025-06-01T22:00:00Z)"},

		// outbox
		{"outbox workers", func(c *Config) { c.Outbox.Workers = 0 }, "outbox.workers", "must be at least 1"},
		{"outbox poll", func(c *Config) { c.Outbox.Poll = 0 }, "outbox.poll", "must be longer than 0, e.g. 1s"},
		{"outbox max age", func(c *Config) { c.Outbox.MaxAge = 0 }, "outbox.max_age", "must be longer than 0, e.g. 24h"},
		{"outbox max backoff", func(c *Config) { c.Outbox.MaxBackoff = 0 }, "outbox.max_backoff", "must be longer than 0, e.g. 5m"},

		// provisioning
		{"template resource", func(c *Config) { tmpl(c, func(t *Template) { t.Access[0].Resource = "prod-bd" }) }, "provisioning.templates.engineer.access[0].resource", `unknown resource "prod-bd" (did you mean "prod-db"?)`},
		{"template role", func(c *Config) { tmpl(c, func(t *Template) { t.Access[0].Role = "admin" }) }, "provisioning.templates.engineer.access[0].role", `prod-db has no role "admin" (use read or write)`},
		{"template role missing", func(c *Config) { tmpl(c, func(t *Template) { t.Access[0].Role = "" }) }, "provisioning.templates.engineer.access[0].role", "required: one of prod-db's roles (read or write)"},
		{"template role on roleless", func(c *Config) { tmpl(c, func(t *Template) { t.Access[1].Role = "read" }) }, "provisioning.templates.engineer.access[1].role", "server-room has no roles; leave role out"},
		{"template duration", func(c *Config) { tmpl(c, func(t *Template) { t.Access[0].Duration = 0 }) }, "provisioning.templates.engineer.access[0].duration", "required: how long the grant lasts, e.g. 8h, or permanent: true"},
		{"template duration too long", func(c *Config) { tmpl(c, func(t *Template) { t.Access[0].Duration = Duration(9 * time.Hour) }) }, "provisioning.templates.engineer.access[0].duration", "9h is longer than prod-db's max_duration 8h"},
		{"template both", func(c *Config) { tmpl(c, func(t *Template) { t.Access[1].Duration = Duration(time.Hour) }) }, "provisioning.templates.engineer.access[1]", "set duration or permanent: true, not both"},
		{"template placeholder", func(c *Config) { tmpl(c, func(t *Template) { t.Commands[0].Create[1] = "{{.Persn}}" }) }, "provisioning.templates.engineer.commands[0].create[1]", `unknown placeholder "{{.Persn}}" (did you mean "Person"?)`},
		{"template function", func(c *Config) {
			tmpl(c, func(t *Template) { t.Commands[0].Remove[1] = `{{printf "%s" .Person}}` })
		}, "provisioning.templates.engineer.commands[0].remove[1]", "unknown placeholder"},
		{"template stray braces", func(c *Config) { tmpl(c, func(t *Template) { t.Commands[0].Create[1] = "{{.Person}" }) }, "provisioning.templates.engineer.commands[0].create[1]", "unbalanced {{ or }}"},
		{"template shell line", func(c *Config) { tmpl(c, func(t *Template) { t.Commands[0].Create = []string{"mkuser {{.Person}}"} }) }, "provisioning.templates.engineer.commands[0].create", "looks like a shell command line"},
		{"template create", func(c *Config) { tmpl(c, func(t *Template) { t.Commands[0].Create = nil }) }, "provisioning.templates.engineer.commands[0].create", "required: the program and its arguments"},
		{"template command name", func(c *Config) { tmpl(c, func(t *Template) { t.Commands[0].Name = "" }) }, "provisioning.templates.engineer.commands[0].name", "required"},
		{"template device kind", func(c *Config) { tmpl(c, func(t *Template) { t.Devices[1].Kind = "Phone X" }) }, "provisioning.templates.engineer.devices[1].kind", "is not a valid name"},
		{"template queue", func(c *Config) { tmpl(c, func(t *Template) { t.Tickets[1].Queue = "netwrk" }) }, "provisioning.templates.engineer.tickets[1].queue", `unknown queue "netwrk" (did you mean "network"?)`},
		{"template summary placeholder", func(c *Config) { tmpl(c, func(t *Template) { t.Tickets[0].Summary = "Desk for {{.Manager}}" }) }, "provisioning.templates.engineer.tickets[0].summary", `unknown placeholder "{{.Manager}}"`},
		{"template empty", func(c *Config) { c.Provisioning.Templates["intern"] = Template{} }, "provisioning.templates.intern", "empty template"},
		{"template name", func(c *Config) {
			c.Provisioning.Templates["Intern"] = Template{Devices: []TemplateDevice{{Kind: "laptop"}}}
		}, `provisioning.templates.Intern`, "is not a valid template name"},

		// status_page
		{"status refresh short", func(c *Config) { c.StatusPage.Refresh = Duration(time.Second) }, "status_page.refresh", "at least 5s"},
		{"status refresh negative", func(c *Config) { c.StatusPage.Refresh = -1 }, "status_page.refresh", "must be 0 (off)"},
		{"status basic user", func(c *Config) { c.StatusPage.Auth.Basic.User = "" }, "status_page.auth.basic.user", "required with basic auth"},
		{"status basic colon", func(c *Config) { c.StatusPage.Auth.Basic.User = "a:b" }, "status_page.auth.basic.user", "must not contain ':'"},
		{"status basic password", func(c *Config) { c.StatusPage.Auth.Basic.Password = "short" }, "status_page.auth.basic.password", "at least 8 characters"},
		{"status bearer", func(c *Config) { c.StatusPage.Auth.Bearer = "tiny" }, "status_page.auth.bearer", "at least 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseFull(t)
			tt.change(c)
			ps := problemsOf(t, c.Validate())
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.msg) {
				t.Errorf("got:\n%v\nwant exactly:\n%s: %s", ps, tt.path, tt.msg)
			}
		})
	}
}

func TestValidateMinimal(t *testing.T) {
	// The smallest useful configurations for each platform mode.
	for _, src := range []string{
		"slack: {enabled: true, bot_token: b, signing_secret: s}",
		"slack: {enabled: true, mode: socket, bot_token: b, app_token: a}",
		"discord: {enabled: true, application_id: '1', public_key: " + strings.Repeat("ab", 32) + "}",
		"discord: {enabled: true, mode: gateway, token: t}",
		"listen: ':0'",
		"listen: '[::1]:8080'",
		"database: {driver: postgres, dsn: 'postgres://opsbot@db/opsbot'}",
		"devices: {snmp: {version: 3, user: ops, auth_protocol: SHA256, auth_passphrase: abcdefgh}}",
		"checks: [{name: c, kind: tcp, address: '[2001:db8::1]:443', every: 1s, timeout: 1s}]",
		"checks: [{name: c, kind: dns, host: example.com, resolver: '2001:db8::53', every: 1m}]",
		"checks: [{name: c, kind: snmp, device: d, oid: .1.3.6.1.2.1.1.3.0, every: 1m, compare: {op: '==', value: up}}]\ndevices: {inventory: [{name: d, address: d.example.com}]}",
		"tickets: {business_hours: {}}",
		"access: {resources: [{name: r, approvers: [a], max_duration: 1h, grant: {manual: true}}]}\npeople: [{name: a}]",
		"maintenance: [{start: 2025-01-01T00:00:00+01:00, end: 2025-01-01T01:00:00Z}]",
		"backups: {jobs: [{name: b, command: [true], schedule: '@every 1h'}]}",
	} {
		if _, err := Parse([]byte(src), nil); err != nil {
			t.Errorf("Parse(%q):\n%v", src, err)
		}
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{Path: "", Message: "file"}, {Path: "a.b", Message: "bad"}}
	if got, want := ps.Error(), "file\na.b: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := ps[1].String(); got != "a.b: bad" {
		t.Errorf("String() = %q", got)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ parent, key, want string }{
		{"", "listen", "listen"},
		{"channels", "ops", "channels.ops"},
		{"channels", "my ops", `channels["my ops"]`},
		{"checks[0].headers", "X-Token", "checks[0].headers.X-Token"},
		{"env", "", `env[""]`},
	}
	for _, tt := range tests {
		if got := join(tt.parent, tt.key); got != tt.want {
			t.Errorf("join(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
		}
	}
	reported := map[string]bool{"checks[1]": true, "log.level": true}
	for path, want := range map[string]bool{
		"checks[1]": true, "checks[1].every": true, "checks[1].expect.status[0]": true,
		"checks[10]": false, "checks[10].every": false, "log": false, "log.levels": false, "": false,
	} {
		if got := coveredBy(path, reported); got != want {
			t.Errorf("coveredBy(%q) = %v, want %v", path, got, want)
		}
	}
}
