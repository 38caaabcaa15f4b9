package config

import (
	"strings"
	"testing"
	"time"
)

func TestLookups(t *testing.T) {
	c := parseFull(t)
	if p, ok := c.Person("bob"); !ok || p.SlackID != "U01BOB" || !p.HasRole("approver") || p.HasRole("admin") {
		t.Errorf("Person(bob) = %+v, %v", p, ok)
	}
	if p, ok := c.PersonBySlackID("U01CAROL"); !ok || p.Name != "carol" {
		t.Errorf("PersonBySlackID = %+v, %v", p, ok)
	}
	if p, ok := c.PersonByDiscordID("100000000000000002"); !ok || p.Name != "bob" {
		t.Errorf("PersonByDiscordID = %+v, %v", p, ok)
	}
	if _, ok := c.PersonByDiscordID(""); ok {
		t.Error("PersonByDiscordID(\"\") found carol, who has no Discord ID")
	}
	if ch, ok := c.Channel("helpdesk"); !ok || ch.Slack != "C01HELP" {
		t.Errorf("Channel(helpdesk) = %+v, %v", ch, ok)
	}
	if r, ok := c.Resource("vpn-admin"); !ok || r.Approvals != 2 {
		t.Errorf("Resource(vpn-admin) = %+v, %v", r, ok)
	}
	if d, ok := c.Device("edge-rtr-1"); !ok || d.Kind != "router" {
		t.Errorf("Device(edge-rtr-1) = %+v, %v", d, ok)
	}
	if j, ok := c.BackupJob("etc"); !ok || j.FreshWithin != Duration(26*time.Hour) {
		t.Errorf("BackupJob(etc) = %+v, %v", j, ok)
	}
	if ch, ok := c.Check("disk"); !ok || ch.Kind != KindCommand {
		t.Errorf("Check(disk) = %+v, %v", ch, ok)
	}
	for name, found := range map[string]bool{
		"person":  func() bool { _, ok := c.Person("nobody"); return ok }(),
		"slack":   func() bool { _, ok := c.PersonBySlackID("U0"); return ok }(),
		"channel": func() bool { _, ok := c.Channel("nowhere"); return ok }(),
		"res":     func() bool { _, ok := c.Resource("nothing"); return ok }(),
		"device":  func() bool { _, ok := c.Device("none"); return ok }(),
		"job":     func() bool { _, ok := c.BackupJob("none"); return ok }(),
		"check":   func() bool { _, ok := c.Check("none"); return ok }(),
	} {
		if found {
			t.Errorf("%s lookup found a name that is not there", name)
		}
	}
}

func TestMaintenanceCovers(t *testing.T) {
	start := time.Date(2025, 6, 1, 22, 0, 0, 0, time.UTC)
	m := Maintenance{Checks: []string{"web"}, Start: start, End: start.Add(time.Hour)}
	tests := []struct {
		check string
		at    time.Time
		want  bool
	}{
		{"web", start, true},
		{"web", start.Add(59 * time.Minute), true},
		{"web", start.Add(time.Hour), false},
		{"web", start.Add(-time.Second), false},
		{"db", start, false},
	}
	for _, tt := range tests {
		if got := m.Covers(tt.check, tt.at); got != tt.want {
			t.Errorf("Covers(%s, %v) = %v, want %v", tt.check, tt.at, got, tt.want)
		}
	}
	m.Checks = nil
	if !m.Covers("db", start) {
		t.Error("a window without checks does not cover every check")
	}
}

func TestParseSchedule(t *testing.T) {
	from := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec, tz string
		want     time.Time
	}{
		{"0 2 * * *", "UTC", time.Date(2025, 6, 2, 2, 0, 0, 0, time.UTC)},
		{"30 0 2 * * *", "UTC", time.Date(2025, 6, 2, 2, 0, 30, 0, time.UTC)},
		{"@daily", "UTC", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)},
		{"@every 1h", "", from.Add(time.Hour)},
		{"0 2 * * *", "Europe/Paris", time.Date(2025, 6, 2, 2, 0, 0, 0, paris)},
		{"CRON_TZ=Europe/Paris 0 2 * * *", "", time.Date(2025, 6, 2, 2, 0, 0, 0, paris)},
		{"TZ=UTC 0 13 * * mon-fri", "", time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, tt.tz)
		if err != nil {
			t.Errorf("ParseSchedule(%q, %q): %v", tt.spec, tt.tz, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tt.want) {
			t.Errorf("ParseSchedule(%q, %q).Next = %v, want %v", tt.spec, tt.tz, got, tt.want)
		}
	}
	for _, spec := range []string{"", "  ", "TZ=", "CRON_TZ=UTC", "TZ=Nowhere 0 2 * * *", "0 2 * *", "* * * * * * *", "*/0 * * * *", "@fortnightly", "61 * * * *"} {
		if _, err := ParseSchedule(spec, ""); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", spec)
		} else if !strings.Contains(err.Error(), "@daily") && !strings.Contains(err.Error(), "e.g.") {
			t.Errorf("ParseSchedule(%q) error %q does not say what to write", spec, err)
		}
	}
}
