package main

import (
	"os/exec"
	"strings"
	"testing"
)

// layers is README's Layout: a package may import only packages of a
// deeper layer (a higher number), so imports run one way, down.
var layers = map[string]int{
	"opsbot": 0, "opsbot/bench": 0, "opsbot/bench/checks": 0, "opsbot/reliability": 0, "opsbot/scripts/progress": 0,
	"opsbot/harness": 1, "opsbot/harness/fakeslack": 1, "opsbot/harness/fakediscord": 1, "opsbot/harness/handlertest": 1,
	"opsbot/server": 2, "opsbot/statuspage": 2, "opsbot/bot/slack": 2, "opsbot/bot/discord": 2, "opsbot/bot/shell": 2,
	"opsbot/handlers/access": 3, "opsbot/handlers/backups": 3, "opsbot/handlers/devices": 3,
	"opsbot/handlers/incidents": 3, "opsbot/handlers/tickets": 3, "opsbot/handlers/oncall": 3, "opsbot/handlers/runbooks": 3,
	"opsbot/handlers/provision": 3, "opsbot/handlers/reports": 3,
	"opsbot/handlers": 4, "opsbot/handlers/access/action": 4, "opsbot/handlers/roster": 4, "opsbot/report": 4,
	"opsbot/checks": 5, "opsbot/notify": 5, "opsbot/storage/storagetest": 5, "opsbot/snmp/snmptest": 5,
	"opsbot/bot": 6, "opsbot/storage": 6, "opsbot/snmp": 6, "opsbot/proc": 6, "opsbot/docs": 6, "opsbot/oncall": 6,
	"opsbot/config": 7, "opsbot/clock": 7, "opsbot/chart": 7, "opsbot/suggest": 8,
}

// TestLayers holds every package's imports (tests aside) against the
// layers: an import that runs back up, or a package missing from the table,
// fails.
func TestLayers(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := f[0]
		from, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s is in no layer: add it to README's Layout and to layers in layers_test.go", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if imp != "opsbot" && !strings.HasPrefix(imp, "opsbot/") {
				continue
			}
			to, ok := layers[imp]
			if !ok {
				continue // reported as a package of its own
			}
			if to <= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports go down only", pkg, from, imp, to)
			}
		}
	}
}
