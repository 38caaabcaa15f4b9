package access_test

import (
	"strings"
	"testing"

	"opsbot/config"
	"opsbot/storage/storagetest"
)

// TestResourceTeamChannel: a resource without a channel of its own posts
// its requests into its team's channel.
func TestResourceTeamChannel(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, storagetest.Backends(t)[0], "", func(cfg *config.Config) {
		cfg.People[1].Teams = []string{"dba"}
		cfg.Channels["dba-ops"] = config.Channel{Slack: "C09DBA"}
		cfg.Teams = map[string]config.Team{"dba": {Channel: "dba-ops"}}
		cfg.Access.Resources[0].Channel, cfg.Access.Resources[0].Team = "", "dba"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	f.expect("dave", `/access request prod-db --for 2h --reason "deploy 1.2"`, "Requested #1")
	var to []string
	for _, m := range f.Outbox() {
		if !strings.Contains(m.Target, `"@`) {
			to = append(to, m.Key+" -> "+m.Target)
		}
	}
	if len(to) == 0 || !strings.Contains(to[0], `"#dba-ops"`) {
		t.Errorf("channel posts:\n%s", strings.Join(to, "\n"))
	}
}
