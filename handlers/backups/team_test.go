package backups

import (
	"path/filepath"
	"strings"
	"testing"

	"opsbot/config"
	"opsbot/harness/handlertest"
)

// TestJobTeamChannel: a job without a channel of its own posts its runs
// into its team's channel.
func TestJobTeamChannel(t *testing.T) {
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "pids")
	cfg := testConfig(t, pidfile)
	cfg.People[1].Teams = []string{"infra"}
	cfg.Channels["infra-ops"] = config.Channel{Slack: "C0INFRA"}
	cfg.Teams = map[string]config.Team{"infra": {Channel: "infra-ops"}}
	cfg.Backups.Jobs[0].Channel, cfg.Backups.Jobs[0].Team = "", "infra"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := attach(t, handlertest.New(t, fresh(t, "sqlite"), cfg), pidfile)
	if out := f.Text("bob", "/backup run ok"); !strings.Contains(out, "#infra-ops hears when it ends") {
		t.Errorf("/backup run ok: %s", out)
	}
	f.wait(1)
	var to []string
	for _, m := range f.Outbox() {
		to = append(to, m.Key+" -> "+m.Target)
	}
	if len(to) == 0 || !strings.Contains(strings.Join(to, "\n"), `"#infra-ops"`) || strings.Contains(strings.Join(to, "\n"), `"#ops"`) {
		t.Errorf("outbox:\n%s", strings.Join(to, "\n"))
	}
}
