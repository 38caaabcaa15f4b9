package snmptest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

//go:embed iftable.sh
var ifTableScript string

// WriteCommunity is the read-write v2c community of an IfAgent.
const WriteCommunity = "opsbot-write"

// Port is one row of an IfAgent's fake interface table.
type Port struct {
	Index       int
	Descr, Name string // ifDescr and ifName, without spaces
	AdminUp     bool
	OperUp      bool
}

// IfAgent is an snmpd whose ifTable and ifXTable are fake: its own
// interface tables are switched off (-I -ifTable,ifXTable,interfaces), and
// a pass_persist script serves ifIndex, ifDescr, ifAdminStatus, ifOperStatus and
// ifName from a state file, so no interface of the test machine is named
// or changed. A SET of ifAdminStatus (community WriteCommunity) changes
// the port's admin and oper status in the file.
type IfAgent struct {
	*Agent
	dir string
}

// StartIfTable starts an agent serving ports.
func StartIfTable(t testing.TB, ports []Port) *IfAgent {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "iftable.sh")
	if err := os.WriteFile(script, []byte(ifTableScript), 0o700); err != nil {
		t.Fatal(err)
	}
	a := &IfAgent{dir: dir}
	a.write(t, ports)
	extra := fmt.Sprintf("rwcommunity %s 127.0.0.1\npass_persist .1.3.6.1.2.1.2.2 %s\npass_persist .1.3.6.1.2.1.31.1.1 %s\n", WriteCommunity, script, script)
	a.Agent = Start(t, Options{Extra: extra, Args: []string{"-I", "-ifTable,ifXTable,interfaces"}})
	return a
}

func (a *IfAgent) write(t testing.TB, ports []Port) {
	t.Helper()
	status := func(up bool) int {
		if up {
			return 1
		}
		return 2
	}
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%d %d %d %s %s\n", p.Index, status(p.AdminUp), status(p.OperUp), p.Descr, p.Name)
	}
	if err := os.WriteFile(filepath.Join(a.dir, "iftable.state"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Ports reads the table as the agent holds it now.
func (a *IfAgent) Ports(t testing.TB) []Port {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.dir, "iftable.state"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Port
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var p Port
		var admin, oper int
		if _, err := fmt.Sscan(line, &p.Index, &admin, &oper, &p.Descr, &p.Name); err != nil {
			t.Fatalf("state line %q: %v", line, err)
		}
		p.AdminUp, p.OperUp = admin == 1, oper == 1
		out = append(out, p)
	}
	return out
}

// Stuck makes SETs succeed without changing anything (true), as a port
// that does not follow its configuration, or undoes that (false).
func (a *IfAgent) Stuck(t testing.TB, stuck bool) {
	t.Helper()
	path := filepath.Join(a.dir, "stuck")
	if !stuck {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}
