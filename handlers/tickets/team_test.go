package tickets_test

import (
	"strings"
	"testing"

	"opsbot/config"
	"opsbot/storage/storagetest"
)

// TestQueueTeamChannel: a queue without a channel of its own posts into its
// team's channel; one that names a channel keeps it.
func TestQueueTeamChannel(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.People[2].Teams = []string{"people-ops"}
	cfg.Channels["hr-team"] = config.Channel{Slack: "C03HRT"}
	cfg.Teams = map[string]config.Team{"people-ops": {Channel: "hr-team"}}
	cfg.Tickets.Queues[1].Channel, cfg.Tickets.Queues[1].Team = "", "people-ops"
	cfg.Tickets.Queues[0].Team = "people-ops"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env, _ := newEnv(t, storagetest.Backends(t)[0], cfg)
	env.Run("dave", `/ticket new "Payslip missing" --category payroll`)
	env.Run("dave", `/ticket new "VPN drops" --category network`)
	out := env.Outbox()
	if len(out) != 2 || !strings.Contains(out[0].Target, `"#hr-team"`) || !strings.Contains(out[1].Target, `"#helpdesk"`) {
		for _, m := range out {
			t.Errorf("%s -> %s", m.Key, m.Target)
		}
		t.Fatalf("want the payroll ticket in #hr-team, the network one in #helpdesk")
	}
}
