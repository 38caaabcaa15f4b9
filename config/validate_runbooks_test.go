package config

import (
	"strings"
	"testing"
	"time"
)

// TestRunbookValidation: each mistake in a runbook is reported with its
// path, all at once.
func TestRunbookValidation(t *testing.T) {
	c := Default()
	c.People = []Person{{Name: "bob", Roles: []string{"oncall"}}}
	c.Runbooks = []Runbook{
		{Name: "list", Command: []string{"systemctl restart {{.service}}"}, Approvals: 2, Approvers: []string{"bob", "zed"},
			Timeout: 0, Concurrency: 0, Channel: "nowhere",
			Params: []RunbookParam{{Name: "svc", Type: "enum"}, {Name: "n", Type: "int", Pattern: "["}, {Name: "x", Type: "bool"}}},
		{Name: "ok", Command: []string{"/bin/echo", "{{.a}}"}, Params: []RunbookParam{{Name: "a", Type: "string", Pattern: "[a-z]+"}},
			Timeout: Duration(time.Minute), Concurrency: 1},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no problems")
	}
	for _, want := range []string{
		`runbooks[0].name: "list" is a /run subcommand`,
		"runbooks[0].command: looks like a shell command line",
		"runbooks[0].command[0]: refers to {{.service}}, which is not among the runbook's params",
		"runbooks[0].params[0].values: required for an enum",
		"runbooks[0].params[1].pattern: only a string parameter takes a pattern",
		`runbooks[0].params[2].type: unknown value "bool"`,
		`runbooks[0].approvers[1]: unknown person "zed"`,
		"runbooks[0].timeout: must be longer than 0",
		"runbooks[0].concurrency: must be at least 1",
		`runbooks[0].channel: unknown channel "nowhere"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "runbooks[1]") {
		t.Errorf("a valid runbook reported:\n%v", err)
	}
}

// TestPortChangesValidation: devices.changes and snmp.write are checked,
// each problem with its path.
func TestPortChangesValidation(t *testing.T) {
	c := Default()
	c.Devices.SNMP.Write = SNMPWrite{User: "ops-rw", AuthProtocol: "SHA", AuthPassphrase: "short"}
	c.Devices.Changes = PortChanges{Roles: []string{"Net Ops"}, Approvals: -1, MaxDuration: 0, Channel: "nowhere",
		Protected: []ProtectedPorts{{Device: "", Ports: nil}, {Device: "sw-1", Ports: []string{" "}}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no problems")
	}
	for _, want := range []string{
		"devices.snmp.write.user: a v3 write user needs version 3",
		"devices.snmp.write.auth_passphrase: must be at least 8 characters",
		`devices.changes.roles[0]: "Net Ops" is not a valid name`,
		"devices.changes.approvals: must not be negative",
		"devices.changes.max_duration: must be longer than 0",
		`devices.changes.channel: unknown channel "nowhere"`,
		"devices.changes.protected[0].device: required",
		"devices.changes.protected[0].ports: required",
		"devices.changes.protected[1].ports[0]: must not be empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	ok := Default()
	ok.Devices.SNMP.Write = SNMPWrite{Community: "rw-secret"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a write community: %v", err)
	}
	if p, has := ok.Devices.SNMP.WriteProfile(); !has || p.Community != "rw-secret" {
		t.Errorf("write profile %+v %v", p, has)
	}
	if _, has := Default().Devices.SNMP.WriteProfile(); has {
		t.Error("a profile without write credentials has a write profile")
	}
}
