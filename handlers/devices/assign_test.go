package devices

import (
	"context"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/snmp/snmptest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// assignConfig adds a helpdesk agent to testConfig; SNMP for chat devices
// goes to a closed local port so /device show answers at once.
func assignConfig(t *testing.T) *config.Config {
	cfg := testConfig()
	cfg.People = append(cfg.People, config.Person{Name: "hank", Roles: []string{"helpdesk"}})
	cfg.Devices.SNMP.Port = snmptest.FreeUDPPort(t)
	cfg.Devices.SNMP.Timeout, cfg.Devices.SNMP.Retries = config.Duration(300*time.Millisecond), 0
	return cfg
}

// TestAssignments walks a laptop through two holders: only the helpdesk
// hands devices out, a held device is not handed out twice or removed,
// returns need a condition, and /device show keeps the history.
func TestAssignments(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, assignConfig(t))
			env.Text("alice", "/device add laptop-42 127.0.0.1 --kind laptop")
			env.Text("alice", "/device add phone-7 127.0.0.1 --kind phone")
			steps := []struct {
				who, line string
				want      []string
				not       []string
			}{
				{"bob", "/device assign laptop-42 @bob", []string{"needs the helpdesk role"}, nil},
				{"hank", "/device assign laptop-4 @bob", []string{`No device is called "laptop-4"`, "laptop-42"}, nil},
				{"hank", "/device assign laptop-42 @bobb", []string{`nobody called "@bobb"`, "did you mean @bob"}, nil},
				{"bob", "/device mine", []string{"You hold no devices."}, nil},
				{"hank", "/device assign laptop-42 @bob", []string{"@bob now holds laptop-42 (127.0.0.1)", "Since: 2026-03-02 09:00 UTC"}, nil},
				{"hank", "/device assign laptop-42 @bob", []string{"@bob already holds laptop-42"}, nil},
				{"alice", "/device assign laptop-42 @hank", []string{"laptop-42 is held by @bob", "/device return laptop-42"}, []string{"now holds"}},
				{"hank", "/device assign phone-7 @bob", []string{"@bob now holds phone-7"}, nil},
				{"bob", "/device mine", []string{"You hold 2 device(s)", "laptop-42 · laptop · since 2026-03-02 09:00 UTC", "phone-7 · phone"}, nil},
				{"bob", "/device list --holder @bob", []string{"needs the helpdesk role"}, nil},
				{"hank", "/device list --holder @bob", []string{"@bob holds 2 device(s)", "laptop-42", "phone-7"}, nil},
				{"hank", "/device list", []string{"Say whose devices"}, nil},
				{"hank", "/device list --holder @alice", []string{"@alice holds no devices."}, nil},
				{"alice", "/device remove laptop-42", []string{"@bob holds laptop-42", "take it back first"}, []string{"Removed"}},
				{"hank", "/device return laptop-42", []string{"Say how it came back", "--condition ok"}, nil},
				{"hank", "/device return laptop-42 --condition broken", []string{"must be one of ok, damaged, lost"}, nil},
				{"bob", "/device return laptop-42 --condition ok", []string{"needs the helpdesk role"}, nil},
				{"hank", "/device return laptop-42 --condition damaged", []string{"@bob returned laptop-42 (127.0.0.1) (damaged)"}, nil},
				{"hank", "/device return laptop-42 --condition ok", []string{"Nobody holds laptop-42"}, nil},
				{"hank", "/device assign laptop-42 @alice", []string{"@alice now holds laptop-42"}, nil},
				{"bob", "/device mine", []string{"You hold 1 device(s)", "phone-7"}, []string{"laptop-42"}},
				{"bob", "/device show laptop-42", []string{"Holder: @alice since", "assigned to @alice by @hank",
					"assigned to @bob by @hank; returned 2026-03-02 09:00 UTC (damaged) to @hank"}, nil},
				{"bob", "/device show phone-7", []string{"Holder: @bob since"}, nil},
				{"hank", "/device return laptop-42 --condition lost", []string{"@alice returned laptop-42", "(lost)"}, nil},
				{"alice", "/device remove laptop-42", []string{"Removed laptop-42"}, nil},
			}
			for _, s := range steps {
				got := env.Text(s.who, s.line)
				for _, w := range s.want {
					if !strings.Contains(squash(got), squash(w)) {
						t.Errorf("%s %q:\n%s\nwant %q", s.who, s.line, got, w)
					}
				}
				for _, w := range s.not {
					if strings.Contains(got, w) {
						t.Errorf("%s %q:\n%s\nmust not contain %q", s.who, s.line, got, w)
					}
				}
			}
			var actions []string
			for _, a := range env.Audit() {
				if strings.HasPrefix(a.Action, "device.assign") || strings.HasPrefix(a.Action, "device.return") {
					actions = append(actions, a.Action+" "+a.Subject+" "+a.Actor+" "+a.Detail)
				}
			}
			want := []string{"device.assign device:laptop-42 hank holder=bob", "device.assign device:phone-7 hank holder=bob",
				"device.return device:laptop-42 hank holder=bob condition=damaged", "device.assign device:laptop-42 hank holder=alice",
				"device.return device:laptop-42 hank holder=alice condition=lost"}
			if strings.Join(actions, "|") != strings.Join(want, "|") {
				t.Errorf("audit =\n%q\nwant\n%q", actions, want)
			}
		})
	}
}

// TestImportHolder: a holder column assigns devices to people under
// people:, refuses unknown people and devices held by someone else, and
// leaves a device alone when the holder is empty or already holds it.
func TestImportHolder(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, assignConfig(t))
			ctx := context.Background()
			imp := func(csv string) (ImportResult, error) {
				return Import(ctx, env.Deps.Store, env.Deps.Config, strings.NewReader(csv), "cli:test", env.Clock.Now())
			}
			holder := func(dev string) string {
				a, err := storage.CurrentHolder(ctx, env.Deps.Store.DB, dev)
				if err != nil {
					return ""
				}
				return a.Holder
			}
			res, err := imp("name,address,kind,holder\nlaptop-1,192.0.2.1,laptop,@Bob\nlaptop-2,192.0.2.2,laptop,\n")
			if err != nil || res.Added != 2 || res.Assigned != 1 {
				t.Fatalf("import: %+v %v", res, err)
			}
			if holder("laptop-1") != "bob" || holder("laptop-2") != "" {
				t.Fatalf("holders: %q %q", holder("laptop-1"), holder("laptop-2"))
			}
			_, err = imp("name,address,holder\nlaptop-1,192.0.2.1,hank\nlaptop-2,192.0.2.2,zed\n")
			for _, w := range []string{"line 3: holder \"zed\" is nobody under people:"} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("bad holders: %v, want %q", err, w)
				}
			}
			_, err = imp("name,address,holder\nlaptop-1,192.0.2.1,hank\n")
			if err == nil || !strings.Contains(err.Error(), "line 2: laptop-1 is held by @bob; return it first") {
				t.Errorf("held elsewhere: %v", err)
			}
			// Re-importing the same file, and a file without holders, change no assignment.
			res, err = imp("name,address,kind,holder\nlaptop-1,192.0.2.1,laptop,bob\nlaptop-2,192.0.2.2,laptop,hank\n")
			if err != nil || res.Updated != 2 || res.Assigned != 1 {
				t.Fatalf("re-import: %+v %v", res, err)
			}
			if _, err := imp("name,address\nlaptop-1,192.0.2.1\n"); err != nil {
				t.Fatal(err)
			}
			if holder("laptop-1") != "bob" || holder("laptop-2") != "hank" {
				t.Errorf("holders after re-import: %q %q", holder("laptop-1"), holder("laptop-2"))
			}
			hist, _ := storage.AssignmentHistory(ctx, env.Deps.Store.DB, "laptop-1", 10)
			if len(hist) != 1 {
				t.Errorf("laptop-1 has %d check-outs, want 1: %+v", len(hist), hist)
			}
		})
	}
}
