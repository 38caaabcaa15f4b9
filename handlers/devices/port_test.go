package devices

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/snmp/snmptest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// portEnv is a bot whose switch sw-1 is a real snmpd serving a fake
// interface table: Gi0/1 (the protected uplink), Gi0/7 up and Gi0/8 down.
func portEnv(t *testing.T, b storagetest.Backend, approvals int) (*handlertest.Env, *Handler, *snmptest.IfAgent) {
	t.Helper()
	a := snmptest.StartIfTable(t, []snmptest.Port{
		{Index: 1, Descr: "GigabitEthernet0/1", Name: "Gi0/1", AdminUp: true, OperUp: true},
		{Index: 7, Descr: "GigabitEthernet0/7", Name: "Gi0/7", AdminUp: true, OperUp: true},
		{Index: 8, Descr: "GigabitEthernet0/8", Name: "Gi0/8", AdminUp: false, OperUp: false},
	})
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}},
		{Name: "bob", Roles: []string{"netops"}},
		{Name: "carol", Roles: []string{"netops"}},
		{Name: "erin", Roles: []string{"helpdesk"}},
	}
	cfg.Channels = map[string]config.Channel{"net": {Slack: "C0NET"}}
	cfg.Devices.SNMP = config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(2 * time.Second), Retries: 0, Write: config.SNMPWrite{Community: snmptest.WriteCommunity}}
	cfg.Devices.Inventory = []config.Device{{Name: "sw-1", Address: "127.0.0.1", Kind: "switch"}}
	cfg.Devices.Changes = config.PortChanges{Roles: []string{"netops"}, Approvals: approvals, MaxDuration: config.Duration(8 * time.Hour),
		Protected: []config.ProtectedPorts{{Device: "sw-1", Ports: []string{"Gi0/1"}}}, Channel: "net"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	env, h := newEnv(t, b, cfg)
	return env, h, a
}

func adminUp(t *testing.T, a *snmptest.IfAgent, index int) bool {
	t.Helper()
	for _, p := range a.Ports(t) {
		if p.Index == index {
			return p.AdminUp
		}
	}
	t.Fatalf("no port %d", index)
	return false
}

func change(t *testing.T, env *handlertest.Env, id int64) storage.PortChange {
	t.Helper()
	c, err := storage.GetPortChange(context.Background(), env.Deps.Store.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func changeID(t *testing.T, out string) int64 {
	t.Helper()
	_, rest, ok := strings.Cut(out, "#")
	if !ok {
		t.Fatalf("no change number in %q", out)
	}
	n, err := strconv.ParseInt(strings.TrimRight(strings.Fields(rest)[0], ":"), 10, 64)
	if err != nil {
		t.Fatalf("no change number in %q", out)
	}
	return n
}

// TestPortChangeRevertsAfterRestart: the SET lands on the agent, a
// protected port is refused (by ifName and by ifDescr), and at expiry a
// handler built anew (a restart) sets the port back and says so in the
// request's thread.
func TestPortChangeRevertsAfterRestart(t *testing.T) {
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env, _, a := portEnv(t, b, 0)
			for _, c := range []struct{ who, line, want string }{
				{"bob", `/device port sw-1 Gi0/7 down --reason "x"`, "--for is required"},
				{"bob", `/device port sw-1 Gi0/7 down --for 9h --reason "x"`, "--for is at most 8h"},
				{"bob", `/device port sw-1 Gi0/9 down --for 1h --reason "x"`, `sw-1 has no port "Gi0/9"`},
				{"erin", `/device port sw-1 Gi0/7 down --for 1h --reason "x"`, "needs the netops role"},
				{"bob", `/device port sw-1 Gi0/1 down --for 1h --reason "x"`, "protected"},
				{"bob", `/device port sw-1 GigabitEthernet0/1 down --for 1h --reason "x"`, "protected"},
				{"bob", `/device port sw-1 Gi0/8 down --for 1h --reason "x"`, "already down"},
			} {
				if out := env.Text(c.who, c.line); !strings.Contains(out, c.want) {
					t.Errorf("%s: %s\nwant %q", c.line, out, c.want)
				}
			}
			if !adminUp(t, a, 1) || !adminUp(t, a, 7) {
				t.Fatal("a refused request changed a port")
			}
			// Matched by ifDescr, named by ifName.
			out := env.Text("bob", `/device port sw-1 GigabitEthernet0/7 down --for 1h --reason "visitor laptop"`)
			if !strings.Contains(out, "Gi0/7 on sw-1 is down") {
				t.Fatalf("set: %s", out)
			}
			id := changeID(t, out)
			if adminUp(t, a, 7) {
				t.Fatal("the SET did not land")
			}
			if c := change(t, env, id); c.State != storage.PortActive || c.Previous != "up" || c.Error != "" {
				t.Fatalf("after set: %+v", c)
			}
			if out := env.Text("carol", "/device port list"); !strings.Contains(out, "Gi0/7 on sw-1: down until") {
				t.Errorf("list: %s", out)
			}
			// A restart: a new handler on the same database.
			h2, err := New(env.Deps)
			if err != nil {
				t.Fatal(err)
			}
			env.Clock.Advance(59 * time.Minute)
			if err := h2.Tick(context.Background()); err != nil || adminUp(t, a, 7) {
				t.Fatalf("before expiry: %v, port up %v", err, adminUp(t, a, 7))
			}
			env.Clock.Advance(time.Minute)
			if err := h2.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !adminUp(t, a, 7) {
				t.Fatal("the revert did not land")
			}
			if c := change(t, env, id); c.State != storage.PortReverted {
				t.Fatalf("after expiry: %+v", c)
			}
			var said bool
			for _, m := range env.Outbox() {
				if strings.HasPrefix(m.ThreadKey, portKey(id)) && strings.Contains(m.Body, "Gi0/7 on sw-1 is back up") {
					said = true
				}
			}
			if !said {
				t.Error("the revert was not said in the request's thread")
			}
			var actions []string
			for _, e := range env.Audit() {
				actions = append(actions, e.Action)
			}
			if got := strings.Join(actions, ","); !strings.Contains(got, "device.port.request,device.port.set,device.port.revert") {
				t.Errorf("audit: %s", got)
			}
		})
	}
}

// TestPortReadBackMismatch: a SET the agent accepts but the port does not
// follow is reported, not assumed; a revert that does not land is retried.
func TestPortReadBackMismatch(t *testing.T) {
	env, h, a := portEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, 0)
	a.Stuck(t, true)
	out := env.Text("bob", `/device port sw-1 Gi0/8 up --for 30m --reason "printer"`)
	if !strings.Contains(out, "reads back down, not up") {
		t.Fatalf("mismatch not reported: %s", out)
	}
	id := changeID(t, out)
	if c := change(t, env, id); c.State != storage.PortActive || !strings.Contains(c.Error, "reads back down") {
		t.Fatalf("after a mismatched SET: %+v", c)
	}
	// Port 7 is changed for real, then sticks when it should come back.
	a.Stuck(t, false)
	id7 := changeID(t, env.Text("bob", `/device port sw-1 Gi0/7 down --for 30m --reason "loop"`))
	a.Stuck(t, true)
	env.Clock.Advance(30 * time.Minute)
	if err := h.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := change(t, env, id7); c.State != storage.PortRevertFailed || c.Attempts != 1 || !strings.Contains(c.Error, "reads back down, not up") {
		t.Fatalf("stuck revert: %+v", c)
	}
	a.Stuck(t, false)
	env.Clock.Advance(RevertRetry)
	if err := h.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := change(t, env, id7); c.State != storage.PortReverted || !adminUp(t, a, 7) {
		t.Fatalf("retried revert: %+v\n%s", c, a.Log())
	}
}

// TestPortApprovals: with approvals: 1 the port changes only once someone
// other than the requester approves.
func TestPortApprovals(t *testing.T) {
	env, _, a := portEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, 1)
	out := env.Text("bob", `/device port sw-1 Gi0/7 down --for 1h --reason "flooding"`)
	id := changeID(t, out)
	n := strconv.FormatInt(id, 10)
	if !strings.Contains(out, "waits for 1 approval") || !adminUp(t, a, 7) {
		t.Fatalf("request: %s", out)
	}
	if out := env.Text("bob", "/device port approve "+n); !strings.Contains(out, "cannot approve") || !adminUp(t, a, 7) {
		t.Fatalf("self-approval: %s", out)
	}
	if out := env.Text("carol", "/device port approve "+n); !strings.Contains(out, "is down") || adminUp(t, a, 7) {
		t.Fatalf("approval: %s", out)
	}
}
