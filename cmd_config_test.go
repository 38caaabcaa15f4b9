package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opsbot/harness"
)

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	out, _, code := binary.Run(t, dir, "", "config", "check", "--config", "config.example.yaml")
	if code != 0 || strings.TrimSpace(out) != "config OK" {
		t.Fatalf("example config: exit %d, %q", code, out)
	}
	bad := `listen: nowhere
database: {driver: oracle}
people:
  - {name: alice, slack_id: U1}
  - {name: alice, slack_id: U2}
checks:
  - {name: web, kind: http, url: "http://127.0.0.1/", intervall: 30s, channel: ops}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = binary.Run(t, dir, "", "config", "check", "--config", "bad.yaml")
	if code != 1 {
		t.Fatalf("bad config: exit %d, %q", code, out)
	}
	for _, want := range []string{"listen:", "database.driver:", "people[1].name:", "checks[0].intervall:"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}
