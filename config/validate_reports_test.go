package config

import (
	"strings"
	"testing"
)

// TestReportValidation: each mistake in a reports entry is reported with
// its path, all at once, with "did you mean" for a misspelt key or name.
func TestReportValidation(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
people: [{name: alice, teams: [it]}]
channels: {ops: {slack: C01OPS}}
teams: {it: {channel: ops}}
reports:
  - {name: weekly, cron: "0 8 * * mon", channel: opz, period: weak}
  - {name: weekly, cron: "0 25 * * *", team: itt, timezone: Mars/Base}
  - {name: daily, cron: "0 8 * * *", team: it, period: day, chanel: ops}
  - {name: nochannel, cron: "@daily"}
  - {name: ok, cron: "0 8 * * mon", team: it}
`), noEnv)
	if err == nil {
		t.Fatalf("no problems; config %+v", c)
	}
	for _, want := range []string{
		`reports[0].channel: unknown channel "opz"`,
		`reports[0].period: unknown value "weak" (did you mean "week"?)`,
		`reports[1].name: duplicate report "weekly"`,
		`reports[1].timezone: unknown time zone "Mars/Base"`,
		`reports[1].team: unknown team "itt" (did you mean "it"?)`,
		`reports[2].chanel: unknown key`,
		`reports[3].channel: required (a name from channels) unless team names a team with a channel`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "reports[4]") {
		t.Errorf("a valid report reported:\n%v", err)
	}
}

// TestReportDefaults: period defaults to week and timezone to UTC.
func TestReportDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("channels: {ops: {slack: C01OPS}}\nreports: [{name: w, cron: \"0 8 * * mon\", channel: ops}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Reports[0]; r.Period != "week" || r.Timezone != "UTC" {
		t.Errorf("defaults: %+v", r)
	}
}

func noEnv(string) (string, bool) { return "", false }
