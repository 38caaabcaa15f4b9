package devices

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/bot/shell"
	"opsbot/config"
	"opsbot/harness/handlertest"
	"opsbot/snmp/snmptest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// testConfig has an admin, a plain employee, two config devices and a
// named profile.
func testConfig() *config.Config {
	cfg := config.Default()
	cfg.People = []config.Person{
		{Name: "alice", Roles: []string{"admin"}, Teams: []string{"it"}},
		{Name: "bob", Teams: []string{"sales"}},
	}
	cfg.Devices.SNMP.Community = "default-community-secret"
	cfg.Devices.Profiles = map[string]config.SNMPProfile{"branch": {Community: "branch-community-secret"}}
	cfg.Devices.Inventory = []config.Device{
		{Name: "core-sw-1", Address: "10.0.0.1", Kind: "switch", Site: "hq", Owner: "it", Tags: []string{"core"}},
		{Name: "edge-rtr-1", Address: "2001:db8::1", Kind: "router", Site: "hq", Tags: []string{"edge", "core"}},
	}
	return cfg
}

func newEnv(t *testing.T, b storagetest.Backend, cfg *config.Config) (*handlertest.Env, *Handler) {
	t.Helper()
	env := handlertest.New(t, b, cfg)
	h, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(h.Command())
	return env, h
}

func TestInventory(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			steps := []struct {
				who, line string
				want      []string
				not       []string
			}{
				{"alice", "/device lookup core-sw-1", []string{"core-sw-1 (10.0.0.1)", "switch", "hq", "config"}, nil},
				{"alice", `/device add lab-ap-1 192.0.2.10 --kind ap --site lab --owner it --tags wifi,Lab --notes "ceiling, room 4"`, []string{"Added lab-ap-1 (192.0.2.10)", "wifi, lab"}, nil},
				{"alice", "/device add lab-ap-1 192.0.2.11", []string{"already exists", "/device edit lab-ap-1"}, nil},
				{"alice", "/device add Lab-AP-2 printer.example.com --profile branch", []string{"Added lab-ap-2 (printer.example.com)"}, []string{"branch-community-secret"}},
				{"alice", "/device add x 10.0.0.256", []string{"Nothing was added", "address \"10.0.0.256\""}, nil},
				{"alice", "/device add x 10.0.0.1:161", []string{"no port"}, nil},
				{"alice", "/device add 'bad name' 10.0.0.9 --tags 'a b' --profile nope", []string{"name \"bad name\"", "tag \"a b\"", "profile \"nope\"", "use one of branch"}, nil},
				{"alice", "/device add", []string{"Usage: /device add NAME ADDRESS"}, nil},
				{"bob", "/device add sneaky 10.9.9.9", []string{"needs the admin role"}, nil},
				{"bob", "/device remove lab-ap-1", []string{"needs the admin role"}, nil},
				{"alice", "/device edit lab-ap-1", []string{"Say what to change"}, nil},
				{"alice", "/device edit lab-ap-1 --address 192.0.2.99 --tags wifi", []string{"Changed lab-ap-1 (192.0.2.99)", "wifi"}, nil},
				{"alice", "/device edit lab-ap-1 --address ::1::2", []string{"Nothing was changed"}, nil},
				{"alice", "/device edit core-sw-1 --site branch", []string{"comes from the config file", "edit it there"}, nil},
				{"alice", "/device remove core-sw-1", []string{"comes from the config file"}, nil},
				{"alice", "/device remove lab-ap-9", []string{`No device is called "lab-ap-9"`, "Did you mean lab-ap-1, lab-ap-2"}, nil},
				{"alice", "/device remove lab-ap-1", []string{"Removed lab-ap-1 (192.0.2.99)"}, nil},
				{"bob", "/device lookup lab-ap", []string{"lab-ap-2 (printer.example.com)"}, []string{"lab-ap-1"}},
				{"bob", "/device lookup tag:core", []string{"2 devices match", "core-sw-1", "edge-rtr-1"}, nil},
				{"bob", "/device lookup 2001:DB8:0::1", []string{"edge-rtr-1 (2001:db8::1)"}, nil},
				{"bob", "/device lookup 10.0.0.0/8", []string{"core-sw-1 (10.0.0.1)"}, nil},
				{"bob", "/device lookup core-sw-l", []string{`No device matches "core-sw-l"`, "Did you mean core-sw-1"}, nil},
				{"bob", "/device lookup", []string{"Usage: /device lookup QUERY"}, nil},
				// A slash means a CIDR: a bad one is named as such, with the fix.
				{"bob", "/device lookup 10.0.0.0/33", []string{`"10.0.0.0/33" is not a CIDR`, "prefix length", "e.g. 10.1.2.0/24"}, []string{"No device matches"}},
				{"bob", "/device lookup ::/129", []string{`"::/129" is not a CIDR`}, nil},
				{"bob", "/device lookup 10.0.0/24", []string{`"10.0.0/24" is not a CIDR`}, nil},
				{"bob", "/device lookup 0.0.0.0/0", []string{"core-sw-1"}, nil},
			}
			for _, s := range steps {
				got := env.Text(s.who, s.line)
				for _, w := range s.want {
					if !strings.Contains(squash(got), squash(w)) {
						t.Errorf("%s %q:\n%s\nwant %q", s.who, s.line, got, w)
					}
				}
				for _, w := range append(s.not, "default-community-secret", "branch-community-secret") {
					if strings.Contains(got, w) {
						t.Errorf("%s %q:\n%s\nmust not contain %q", s.who, s.line, got, w)
					}
				}
			}
			var actions []string
			for _, a := range env.Audit() {
				actions = append(actions, a.Action+" "+a.Subject+" "+a.Actor)
			}
			want := []string{"device.sync devices config", "device.add device:lab-ap-1 alice", "device.add device:lab-ap-2 alice",
				"device.edit device:lab-ap-1 alice", "device.remove device:lab-ap-1 alice"}
			if strings.Join(actions, "|") != strings.Join(want, "|") {
				t.Errorf("audit = %q, want %q", actions, want)
			}
		})
	}
}

func TestConfigIsSourceOfTruth(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			env, _ := newEnv(t, b, cfg)
			env.Text("alice", "/device add chat-dev 192.0.2.1")
			// The next start: core-sw-1 moved, edge-rtr-1 left the config,
			// chat-dev became a config device.
			cfg2 := testConfig()
			cfg2.Devices.Inventory = []config.Device{
				{Name: "core-sw-1", Address: "10.0.0.2", Kind: "switch"},
				{Name: "chat-dev", Address: "192.0.2.2"},
			}
			env.Deps.Config = cfg2
			h2, err := New(env.Deps)
			if err != nil {
				t.Fatal(err)
			}
			devs, err := storage.ListDevices(context.Background(), env.Deps.Store.DB)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.Name+"="+d.Address+"/"+d.Source)
			}
			if want := "chat-dev=192.0.2.2/config core-sw-1=10.0.0.2/config"; strings.Join(got, " ") != want {
				t.Errorf("after resync: %q, want %q", got, want)
			}
			if _, err := New(env.Deps); err != nil { // idempotent
				t.Fatal(err)
			}
			if n := len(env.Audit()); n != 3 { // first sync, add, second sync
				t.Errorf("%d audit entries, want 3", n)
			}
			ix, _ := h2.index(context.Background())
			if _, ok := ix.Get("edge-rtr-1"); ok {
				t.Error("edge-rtr-1 still in the snapshot")
			}
		})
	}
}

// TestSnapshotSeesOtherWriters checks that a change made by another process
// (here, Import on the same store) reaches lookups without a restart.
func TestSnapshotSeesOtherWriters(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			csv := "name,address,tags\nimported-1,192.0.2.50,lab\n"
			if _, err := Import(context.Background(), env.Deps.Store, env.Deps.Config, strings.NewReader(csv), "cli", env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			if got := env.Text("bob", "/device lookup 192.0.2.50"); !strings.Contains(got, "imported-1") {
				t.Errorf("lookup after import:\n%s", got)
			}
		})
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			ctx := context.Background()
			imp := func(csv string) (ImportResult, error) {
				return Import(ctx, env.Deps.Store, env.Deps.Config, strings.NewReader(csv), "cli:test", env.Clock.Now())
			}
			bad := "name,address,kind,site,owner,tags,notes\n" +
				"ok-1,192.0.2.1,switch,hq,it,core;floor1,fine\n" +
				"BAD NAME,192.0.2.2,,,,,\n" +
				"ok-2,not an address,,,,,\n" +
				"ok-1,192.0.2.3,,,,,\n" +
				"core-sw-1,192.0.2.4,,,,,\n" +
				"ok-3,192.0.2.5,,,,,,,,\n"
			_, err := imp(bad)
			ie, ok := err.(*ImportError)
			if !ok {
				t.Fatalf("err = %v, want ImportError", err)
			}
			text := ie.Error()
			for _, w := range []string{"line 3: name \"bad name\"", "line 4: address", "line 5: ok-1 is already on line 2", "line 7: 10 fields"} {
				if !strings.Contains(text, w) {
					t.Errorf("problems lack %q:\n%s", w, text)
				}
			}
			if devs, _ := storage.ListDevices(ctx, env.Deps.Store.DB); len(devs) != 2 {
				t.Errorf("%d devices after a failed import, want the 2 config devices", len(devs))
			}
			_, err = imp("name,address\ncore-sw-1,192.0.2.4\n")
			if err == nil || !strings.Contains(err.Error(), "line 2: core-sw-1 comes from the config file") {
				t.Errorf("config device: %v", err)
			}
			for _, c := range []struct{ csv, want string }{
				{"", "the file is empty"},
				{"name,address,colour\n", `unknown column "colour"`},
				{"name,kind\nx,y\n", `no "address" column`},
				{"name,address\n", "no devices"},
				{"name,address,notes\nq1,192.0.2.9,\"unterminated\n", "line 2"},
			} {
				if _, err := imp(c.csv); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%q: err = %v, want %q", c.csv, err, c.want)
				}
			}
			res, err := imp("Name,Address,Tags,Profile\nok-1,192.0.2.1,a;b; A ,branch\nok-2,2001:db8::5,,\n")
			if err != nil || res.Added != 2 {
				t.Fatalf("good import: %+v %v", res, err)
			}
			res, err = imp("name,address\nok-1,192.0.2.100\n")
			if err != nil || res.Updated != 1 {
				t.Fatalf("update import: %+v %v", res, err)
			}
			d, err := storage.GetDevice(ctx, env.Deps.Store.DB, "ok-1")
			if err != nil || d.Address != "192.0.2.100" || d.Source != storage.DeviceFromCSV {
				t.Errorf("ok-1 = %+v, %v", d, err)
			}
		})
	}
}

// snmpEnv is a bot whose config devices point at a real snmpd.
func snmpEnv(t *testing.T) (*handlertest.Env, *snmptest.Agent) {
	t.Helper()
	a := snmptest.Start(t, snmptest.Options{SysName: "lab-core-7", SysLocation: "Rack 12, Room B", SysContact: "noc@example.com"})
	cfg := testConfig()
	cfg.Devices.SNMP = config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(2 * time.Second), Retries: 0}
	short := &config.SNMPProfile{Timeout: config.Duration(300 * time.Millisecond), Retries: 0}
	wrongComm := *short
	wrongComm.Community = "not-the-community"
	v3 := &config.SNMPProfile{Version: "3", User: a.Options.User, AuthProtocol: "SHA", AuthPassphrase: config.Secret(a.Options.AuthPassphrase),
		PrivProtocol: "AES", PrivPassphrase: config.Secret(a.Options.PrivPassphrase)}
	v3bad := *v3
	v3bad.AuthPassphrase = "not-the-passphrase"
	v3bad.Timeout, v3bad.Retries = short.Timeout, 0
	closed := *short
	closed.Port = snmptest.FreeUDPPort(t)
	cfg.Devices.Inventory = []config.Device{
		{Name: "lab-v2c", Address: "127.0.0.1", Kind: "switch", Site: "lab"},
		{Name: "lab-v1", Address: "127.0.0.1", SNMPOverride: &config.SNMPProfile{Version: "1"}},
		{Name: "lab-v3", Address: "127.0.0.1", SNMPOverride: v3},
		{Name: "lab-v3-bad", Address: "127.0.0.1", SNMPOverride: &v3bad},
		{Name: "lab-wrong-community", Address: "127.0.0.1", Site: "lab", SNMPOverride: &wrongComm},
		{Name: "lab-closed", Address: "127.0.0.1", SNMPOverride: &closed},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	env, _ := newEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, cfg)
	return env, a
}

func TestShowAgainstSnmpd(t *testing.T) {
	t.Parallel()
	env, a := snmpEnv(t)
	secrets := []string{a.Options.Community, a.Options.AuthPassphrase, a.Options.PrivPassphrase, "not-the-community", "not-the-passphrase"}
	cases := []struct {
		line string
		want []string
	}{
		{"/device show lab-v2c", []string{"lab-v2c (127.0.0.1)", "sysName: lab-core-7", "sysLocation: Rack 12, Room B", "sysContact: noc@example.com", "Uptime:", "sysDescr:", "Kind: switch", "SNMP: v2c"}},
		{"/device show lab-v1", []string{"sysName: lab-core-7", "SNMP: v1"}},
		{"/device show lab-v3", []string{"sysName: lab-core-7", "SNMP: v3 opsbot authPriv SHA/AES"}},
		{"/device show lab-v2c --interfaces", []string{"Interface", "Admin", "lo ", "up"}},
		{"/device show lab-v1 --interfaces", []string{"lo "}},
		{"/device show lab-v3 --interfaces", []string{"lo "}},
		{"/device show lab-v2c --oid 1.3.6.1.2.1.1.5.0", []string{"1.3.6.1.2.1.1.5.0: lab-core-7 (OctetString)"}},
		{"/device show lab-v2c --oid .1.3.6.1.2.1.1.99.0", []string{"(no such object)"}},
		{"/device show lab-v2c --oid sysName.0", []string{`--oid "sysName.0" is not a numeric OID`, "--oid 1.3.6.1.2.1.1.3.0"}},
		{"/device show lab-v2c --oid '1.3.6;id'", []string{"is not a numeric OID"}},
		{"/device show lab-wrong-community", []string{"lab-wrong-community (127.0.0.1)\nNo SNMP answer within 300ms", "Site: lab"}},
		{"/device show lab-v3-bad", []string{"lab-v3-bad (127.0.0.1)\nIt refused our SNMPv3 credentials", "wrong authentication passphrase", "Address: 127.0.0.1"}},
		{"/device show lab-closed", []string{"lab-closed (127.0.0.1)\nNothing answers SNMP on UDP port", "Address: 127.0.0.1"}},
		{"/device show lab-v9", []string{`No device is called "lab-v9"`, "Did you mean lab-v1"}},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			t.Parallel()
			r := env.Run("bob", c.line)
			got := shell.Render(r)
			// The title names the device; the text must not say it again
			// (a notification's one line is title: text).
			if strings.Count(r.Fallback(), "(127.0.0.1)") > 1 {
				t.Errorf("%s names the device twice: %q", c.line, r.Fallback())
			}
			for _, w := range c.want {
				if !strings.Contains(squash(got), squash(w)) {
					t.Errorf("%s:\n%s\nwant %q", c.line, got, w)
				}
			}
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("%s leaks %q:\n%s", c.line, s, got)
				}
			}
		})
	}
}

func TestShowIsSlow(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, testConfig())
	p, _ := env.Deps.Dir.ByName("bob")
	for _, line := range []string{"/device show core-sw-1", "/device ping core-sw-1"} {
		call := env.Router.Parse(incoming(p, line))
		if !call.Slow() || call.AckText() != "Looking up core-sw-1…" {
			t.Errorf("%s: slow %v ack %q", line, call.Slow(), call.AckText())
		}
	}
	if call := env.Router.Parse(incoming(p, "/device lookup core")); call.Slow() {
		t.Error("lookup should answer at once")
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().(*net.TCPAddr).Port
	closedLn, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()

	cfg := testConfig()
	cfg.Devices.Inventory = append(cfg.Devices.Inventory, config.Device{Name: "loop", Address: "127.0.0.1"})
	env, h := newEnv(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)}, cfg)
	h.pingPorts = []int{open, closed}
	got := env.Text("bob", "/device ping loop")
	for _, w := range []string{"Reachability of loop (127.0.0.1)", "/tcp open", "/tcp closed (connection refused", "loop is reachable: 1 of 2"} {
		if !strings.Contains(got, w) {
			t.Errorf("ping:\n%s\nwant %q", got, w)
		}
	}
	h.pingPorts = []int{closed}
	env.Text("alice", "/device add nowhere nonexistent.invalid")
	if got := env.Text("bob", "/device ping nowhere"); !strings.Contains(got, "cannot resolve") || !strings.Contains(got, "No TCP port answered") {
		t.Errorf("ping unresolvable:\n%s", got)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 90 * time.Second: "1m", 3*time.Hour + 4*time.Minute: "3h 4m",
		50*time.Hour + 61*time.Minute: "2d 3h 1m",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := bytesText(1536); got != "1.5 KiB" {
		t.Errorf("bytesText = %q", got)
	}
}

// TestLookupMenu: a lookup with several matches offers "Show a device", a
// menu of the matches over /device show, with type-ahead over all devices.
func TestLookupMenu(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, storagetest.Backends(t)[0], testConfig())
	r := env.Run("bob", "/device lookup tag:core")
	if len(r.Menus) != 1 {
		t.Fatalf("menus = %+v", r.Menus)
	}
	m := r.Menus[0]
	if m.Command != "/device show" || m.Param != "name" || !m.TypeAhead || len(m.Options) != 2 ||
		m.Options[0] != (bot.Choice{Label: "core-sw-1", Value: "core-sw-1"}) {
		t.Fatalf("menu = %+v", m)
	}
	if got := env.Text("bob", "/device lookup tag:core"); !strings.Contains(got, "Show a device: /device show NAME (e.g. core-sw-1, edge-rtr-1, …)") {
		t.Errorf("shell text:\n%s", got)
	}
	if r := env.Run("bob", "/device lookup core-sw-1"); len(r.Menus) != 0 || len(r.Buttons) != 1 {
		t.Errorf("one match: %+v", r)
	}
}

// squash collapses runs of spaces, which the shell uses to align fields.
func squash(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

func incoming(p bot.Person, line string) bot.Incoming {
	return bot.Incoming{Platform: bot.Shell, Person: p, Channel: "shell", Line: line, Route: bot.Route{Platform: bot.Shell}}
}
