package snmp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"opsbot/snmp"
	"opsbot/snmp/snmptest"
)

func TestAgent(t *testing.T) {
	t.Parallel()
	a := snmptest.Start(t, snmptest.Options{SysName: "core-sw-test", SysLocation: "rack 4, hall B", SysContact: "noc@example.com"})
	c := snmp.NewClient(4)
	ctx := context.Background()

	for name, p := range map[string]snmp.Profile{"v1": a.V1(), "v2c": a.V2c(), "v3": a.V3()} {
		t.Run("system "+name, func(t *testing.T) {
			t.Parallel()
			s, err := c.System(ctx, a.Host, p)
			if err != nil {
				t.Fatalf("System: %v\n%s", err, a.Log())
			}
			if s.Name != "core-sw-test" || s.Location != "rack 4, hall B" || s.Contact != "noc@example.com" {
				t.Errorf("system = %+v", s)
			}
			if s.Descr == "" || s.UpTime < 0 {
				t.Errorf("descr %q uptime %v", s.Descr, s.UpTime)
			}
		})
		t.Run("interfaces "+name, func(t *testing.T) {
			t.Parallel()
			ifs, err := c.Interfaces(ctx, a.Host, p)
			if err != nil {
				t.Fatalf("Interfaces: %v", err)
			}
			var lo *snmp.Interface
			for i := range ifs {
				if ifs[i].Name == "lo" {
					lo = &ifs[i]
				}
			}
			if lo == nil {
				t.Fatalf("no lo in %+v", ifs)
			}
			if lo.AdminState != "up" || lo.OperState == "" {
				t.Errorf("lo = %+v", *lo)
			}
			if name != "v1" && !lo.HighCapacityCounters {
				t.Errorf("lo has no HC counters over %s: %+v", name, *lo)
			}
		})
	}

	t.Run("get one oid", func(t *testing.T) {
		t.Parallel()
		vals, err := c.Get(ctx, a.Host, a.V2c(), snmp.OIDSysUpTime, "1.3.6.1.2.1.1.99.0")
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != 2 || vals[0].Type != "TimeTicks" || vals[1].Raw != nil {
			t.Errorf("vals = %+v", vals)
		}
	})

	fail := []struct {
		name   string
		port   int
		mutate func(*snmp.Profile)
		want   error
		reason string
	}{
		{"wrong community", a.Port, func(p *snmp.Profile) { p.Community = "bad-community-x" }, snmp.ErrTimeout, "no answer"},
		{"v3 wrong auth passphrase", a.Port, func(p *snmp.Profile) {
			p.Version, p.User, p.AuthProtocol, p.AuthPassphrase, p.PrivProtocol, p.PrivPassphrase = "3", a.Options.User, "SHA", "not-the-passphrase", "AES", a.Options.PrivPassphrase
		}, snmp.ErrAuth, "wrong authentication passphrase"},
		{"v3 wrong priv passphrase", a.Port, func(p *snmp.Profile) {
			p.Version, p.User, p.AuthProtocol, p.AuthPassphrase, p.PrivProtocol, p.PrivPassphrase = "3", a.Options.User, "SHA", a.Options.AuthPassphrase, "AES", "not-the-passphrase"
		}, snmp.ErrTimeout, "no answer"},
		{"v3 unknown user", a.Port, func(p *snmp.Profile) {
			p.Version, p.User, p.AuthProtocol, p.AuthPassphrase = "3", "nobody", "SHA", "whatever-123"
		}, snmp.ErrAuth, "unknown user"},
		{"nothing listens", snmptest.FreeUDPPort(t), func(*snmp.Profile) {}, snmp.ErrUnreachable, "nothing listens"},
	}
	for _, tc := range fail {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := a.V2c()
			p.Port, p.Timeout, p.Retries = tc.port, 300*time.Millisecond, 0
			tc.mutate(&p)
			_, err := c.System(ctx, a.Host, p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %q, want it to say %q", err, tc.reason)
			}
			for _, secret := range []string{"not-the-passphrase", a.Options.AuthPassphrase, a.Options.PrivPassphrase, "bad-community-x", a.Options.Community} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestCancelledWhileWaitingForSlot(t *testing.T) {
	t.Parallel()
	c := snmp.NewClient(1)
	port := snmptest.FreeUDPPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Get(ctx, "127.0.0.1", snmp.Profile{Version: "2c", Community: "x", Port: port, Timeout: time.Second}, snmp.OIDSysName)
	if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseOID(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"1.3.6.1.2.1.1.5.0":  "1.3.6.1.2.1.1.5.0",
		".1.3.6.1.2.1.1.5.0": "1.3.6.1.2.1.1.5.0",
		"2.999.4294967295":   "2.999.4294967295",
		"0.0":                "0.0",
		// BER packs the first two arcs into one: 2.X fits while 80+X does.
		"2.4294967215.1": "2.4294967215.1",
	}
	for in, want := range good {
		got, err := snmp.ParseOID(in)
		if err != nil || got != want {
			t.Errorf("ParseOID(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", ".", "1", "sysName.0", "1.3.6.1.2.1.1.5.0.", "1..3", "1.3.06", "3.1", "1.40",
		"1.3.4294967296", "1.3.-1", "1.3.6; rm -rf /", "1.3.6 1", "１.３", strings.Repeat("1.", 128) + "1", "0x1.3",
		"2.4294967216", "2.4294967295.4294967295"} {
		if got, err := snmp.ParseOID(bad); err == nil {
			t.Errorf("ParseOID(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseOID(f *testing.F) {
	for _, s := range []string{"1.3.6.1.2.1.1.5.0", ".1.3", "1..3", "9", "2.4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := snmp.ParseOID(s)
		if err != nil {
			return
		}
		again, err := snmp.ParseOID(got)
		if err != nil || again != got {
			t.Fatalf("ParseOID(%q) = %q, reparse %q %v", s, got, again, err)
		}
		for _, c := range got {
			if c != '.' && (c < '0' || c > '9') {
				t.Fatalf("ParseOID(%q) = %q has %q", s, got, c)
			}
		}
	})
}

// TestSetInt: a SET with the write community lands in the fake interface
// table; the read-only community is refused, and only the fake ports exist.
func TestSetInt(t *testing.T) {
	t.Parallel()
	a := snmptest.StartIfTable(t, []snmptest.Port{
		{Index: 1, Descr: "GigabitEthernet0/1", Name: "Gi0/1", AdminUp: true, OperUp: true},
		{Index: 7, Descr: "GigabitEthernet0/7", Name: "Gi0/7", AdminUp: true, OperUp: false},
	})
	c := snmp.NewClient(2)
	ctx := context.Background()
	ifs, err := c.Interfaces(ctx, a.Host, a.V2c())
	if err != nil {
		t.Fatalf("Interfaces: %v\n%s", err, a.Log())
	}
	if len(ifs) != 2 || ifs[1].Name != "Gi0/7" || ifs[1].Descr != "GigabitEthernet0/7" || !ifs[1].AdminUp || ifs[1].OperState != "down" {
		t.Fatalf("interfaces = %+v", ifs)
	}
	if err := c.SetInt(ctx, a.Host, a.V2c(), snmp.OIDIfAdminStatus+".7", 2); err == nil {
		t.Error("SET with the read-only community succeeded")
	}
	w := a.V2c()
	w.Community = snmptest.WriteCommunity
	if err := c.SetInt(ctx, a.Host, w, snmp.OIDIfAdminStatus+".7", 2); err != nil {
		t.Fatalf("SET: %v\n%s", err, a.Log())
	}
	if p := a.Ports(t); p[0].AdminUp != true || p[1].AdminUp != false {
		t.Errorf("after SET: %+v", p)
	}
}
