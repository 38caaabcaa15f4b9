package config

import "time"

// Default returns a configuration with every default set and nothing
// enabled; it is valid as it is.
func Default() *Config {
	c := new(Config)
	c.setDefaults()
	return c
}

// A defaulter fills in its defaults before its YAML is decoded over it, so
// that explicit zero values in the file survive and are checked.
type defaulter interface {
	setDefaults()
}

func (c *Config) setDefaults() {
	c.Listen = "127.0.0.1:8080"
	c.Log = LogConfig{Level: "info", Format: "text"}
	c.Database = DatabaseConfig{Driver: "sqlite", DSN: "opsbot.db"}
	c.Slack.Mode = "http"
	c.Discord.Mode = "http"
	c.Tickets.ReopenWindow = Duration(7 * 24 * time.Hour)
	c.Tickets.WarnBefore = Duration(15 * time.Minute)
	c.Tickets.IntakeReaction = "ticket"
	c.Access.PendingTTL = Duration(24 * time.Hour)
	c.Access.WarnBefore = Duration(15 * time.Minute)
	c.Access.MaxConcurrentActions = 8
	c.Devices.SNMP = SNMPProfile{Version: "2c", Port: 161, Timeout: Duration(2 * time.Second), Retries: 1}
	c.Devices.MaxConcurrent = 16
	c.Devices.Changes.MaxDuration = Duration(8 * time.Hour)
	c.Backups.OutputLimit = 65536
	c.Backups.KillGrace = Duration(10 * time.Second)
	c.CheckSettings = CheckSettings{
		Workers:     64,
		Retention:   Duration(7 * 24 * time.Hour),
		RemindEvery: Duration(30 * time.Minute),
		FlapWindow:  Duration(time.Hour),
	}
	c.Outbox = OutboxConfig{
		Workers:    4,
		Poll:       Duration(time.Second),
		MaxAge:     Duration(24 * time.Hour),
		MaxBackoff: Duration(5 * time.Minute),
		Lease:      Duration(15 * time.Second),
	}
	c.Leader.Interval = Duration(2 * time.Second)
	c.StatusPage = StatusPageConfig{Enabled: true, Refresh: Duration(time.Minute)}
}

func (b *BusinessHours) setDefaults() {
	b.Start = "09:00"
	b.End = "17:00"
	b.Days = []string{"mon", "tue", "wed", "thu", "fri"}
	b.Timezone = "UTC"
}

func (r *Resource) setDefaults() {
	r.Approvals = 1
	r.Grant.Timeout = Duration(30 * time.Second)
	r.Revoke.Timeout = Duration(30 * time.Second)
}

func (r *Rotation) setDefaults() {
	r.Handoff = HandoffWeekly
	r.Day = "mon"
	r.At = "09:00"
	r.Timezone = "UTC"
	r.Start = DefaultRotationStart
}

// DefaultRotationStart is the date of the first shift of a rotation that
// does not set start: a Monday.
const DefaultRotationStart = "2026-01-05"

func (j *BackupJob) setDefaults() {
	j.Timeout = Duration(time.Hour)
}

func (r *Runbook) setDefaults() {
	r.Timeout = Duration(10 * time.Minute)
	r.Concurrency = 1
}

func (c *Check) setDefaults() {
	c.Timeout = Duration(10 * time.Second)
	c.Failures = 2
	c.Successes = 1
	c.Method = "GET"
	c.MinDays = 14
}

// fill sets the defaults that depend on other values in the file.
func (c *Config) fill() {
	if c.Tickets.DefaultQueue == "" && len(c.Tickets.Queues) > 0 {
		c.Tickets.DefaultQueue = c.Tickets.Queues[0].Name
	}
	for i := range c.Access.Resources {
		r := &c.Access.Resources[i]
		if r.Grant.Manual && r.Revoke.Command == nil && r.Revoke.Webhook == nil && !r.Revoke.Manual {
			r.Revoke.Manual = true
		}
	}
}

func (r *Report) setDefaults() {
	r.Timezone = "UTC"
	r.Period = "week"
}
