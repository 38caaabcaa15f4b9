package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/snmp"
	"opsbot/snmp/snmptest"
)

func TestSNMPAgainstRealSnmpd(t *testing.T) {
	t.Parallel()
	a := snmptest.Start(t, snmptest.Options{SysName: "core-sw-1"})
	cfg := config.Default()
	cfg.Devices.SNMP = config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(time.Second), Retries: 0}
	cfg.Devices.Inventory = []config.Device{
		{Name: "core-sw-1", Address: a.Host},
		{Name: "v3-sw", Address: a.Host, SNMPOverride: &config.SNMPProfile{Version: "3", User: a.Options.User,
			AuthProtocol: "SHA", AuthPassphrase: config.Secret(a.Options.AuthPassphrase),
			PrivProtocol: "AES", PrivPassphrase: config.Secret(a.Options.PrivPassphrase)}},
		{Name: "wrong-community", Address: a.Host, SNMPOverride: &config.SNMPProfile{Community: "nope"}},
	}
	env := Env{Config: cfg, SNMP: snmp.NewClient(cfg.Devices.MaxConcurrent)}
	const sysName, sysUpTime, sysObjectID = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.2.0"
	tests := []struct {
		name, device, oid string
		cmp               config.Compare
		ok                bool
		errHas            string
	}{
		{name: "reads", device: "core-sw-1", oid: sysName, ok: true},
		{name: "reads with a leading dot", device: "core-sw-1", oid: "." + sysName, ok: true},
		{name: "equals", device: "core-sw-1", oid: sysName, cmp: config.Compare{Op: "==", Value: "core-sw-1"}, ok: true},
		{name: "differs", device: "core-sw-1", oid: sysName, cmp: config.Compare{Op: "==", Value: "edge"}, errHas: "core-sw-1 .1.3.6.1.2.1.1.5.0 is core-sw-1, want == edge"},
		{name: "numeric threshold", device: "core-sw-1", oid: sysUpTime, cmp: config.Compare{Op: ">=", Value: "0"}, ok: true},
		{name: "numeric threshold fails", device: "core-sw-1", oid: sysUpTime, cmp: config.Compare{Op: "<", Value: "0"}, errHas: "want < 0"},
		// OID values compare with their leading dot, as configs write them.
		{name: "oid value", device: "core-sw-1", oid: sysObjectID, cmp: config.Compare{Op: "!=", Value: ".1.3.6.1.4.1.8072.3.2.999"}, ok: true},
		{name: "oid value differs", device: "core-sw-1", oid: sysObjectID, cmp: config.Compare{Op: "==", Value: ".1.3"}, errHas: "is .1.3.6.1.4.1."},
		{name: "not a number", device: "core-sw-1", oid: sysName, cmp: config.Compare{Op: ">", Value: "1"}, errHas: `value "core-sw-1" is not a number`},
		{name: "missing oid", device: "core-sw-1", oid: "1.3.6.1.2.1.1.99.0", errHas: "core-sw-1 has no .1.3.6.1.2.1.1.99.0 (NoSuchObject)"},
		{name: "v3 authPriv", device: "v3-sw", oid: sysName, cmp: config.Compare{Op: "==", Value: "core-sw-1"}, ok: true},
		{name: "wrong community times out", device: "wrong-community", oid: sysName, errHas: "snmp get .1.3.6.1.2.1.1.5.0 from wrong-community: no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, config.Check{Name: "snmp", Kind: config.KindSNMP, Device: tt.device, OID: tt.oid, Compare: tt.cmp,
				Timeout: config.Duration(3 * time.Second)}, env)
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}

func TestSNMPNeedsTheClient(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Devices.Inventory = []config.Device{{Name: "core-sw-1", Address: "127.0.0.1"}}
	_, err := New(config.Check{Name: "snmp", Kind: config.KindSNMP, Device: "core-sw-1", OID: "1.3.6.1.2.1.1.5.0"}, Env{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "no SNMP client") {
		t.Fatalf("err = %v, want no SNMP client", err)
	}
}

// An snmp check fails exactly as a device lookup through the same client
// does: the same kind of error, the same reason, no secret.
func TestSNMPCheckClassifiesLikeDeviceLookups(t *testing.T) {
	t.Parallel()
	a := snmptest.Start(t, snmptest.Options{SysName: "core-sw-1"})
	client := snmp.NewClient(4)
	base := config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(300 * time.Millisecond), Retries: 0}
	v3 := func(user, auth, priv string) *config.SNMPProfile {
		return &config.SNMPProfile{Version: "3", User: user, AuthProtocol: "SHA", AuthPassphrase: config.Secret(auth),
			PrivProtocol: "AES", PrivPassphrase: config.Secret(priv)}
	}
	tests := []struct {
		name   string
		over   *config.SNMPProfile
		kind   error
		reason string
	}{
		{"wrong community", &config.SNMPProfile{Community: "bad-community-x"}, snmp.ErrTimeout, "no answer"},
		{"v3 wrong auth passphrase", v3(a.Options.User, "not-the-passphrase", a.Options.PrivPassphrase), snmp.ErrAuth, "wrong authentication passphrase"},
		{"v3 unknown user", v3("nobody", "whatever-123", "whatever-123"), snmp.ErrAuth, "unknown user"},
		{"nothing listens", &config.SNMPProfile{Port: snmptest.FreeUDPPort(t)}, snmp.ErrUnreachable, "nothing listens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Devices.SNMP = base
			dev := config.Device{Name: "sw", Address: a.Host, SNMPOverride: tt.over}
			cfg.Devices.Inventory = []config.Device{dev}

			// The device lookup: what /device show sees.
			_, err := client.Get(context.Background(), a.Host, snmp.FromConfig(dev.SNMP(base)), snmp.OIDSysName)
			var se *snmp.Error
			if !errors.As(err, &se) || !errors.Is(err, tt.kind) || !strings.Contains(se.Reason, tt.reason) {
				t.Fatalf("device lookup: err = %v, want %v saying %q", err, tt.kind, tt.reason)
			}

			r := run(t, config.Check{Name: "snmp", Kind: config.KindSNMP, Device: "sw", OID: snmp.OIDSysName,
				Timeout: config.Duration(3 * time.Second)}, Env{Config: cfg, SNMP: client})
			want := "snmp get .1.3.6.1.2.1.1.5.0 from sw: " + se.Reason
			if r.OK || r.Error != want {
				t.Fatalf("check: %+v, want error %q", r, want)
			}
			for _, secret := range []string{"not-the-passphrase", "whatever-123", "bad-community-x", a.Options.Community,
				a.Options.AuthPassphrase, a.Options.PrivPassphrase} {
				if strings.Contains(r.Error, secret) {
					t.Errorf("check error %q leaks %q", r.Error, secret)
				}
			}
		})
	}
}

// An snmp check waits for the same devices.max_concurrent slots as device
// lookups: while a lookup holds the only slot, the check gives up when its
// timeout ends; once the slot is free, it runs.
func TestSNMPCheckSharesTheConcurrencyLimit(t *testing.T) {
	t.Parallel()
	a := snmptest.Start(t, snmptest.Options{SysName: "core-sw-1"})
	cfg := config.Default()
	cfg.Devices.MaxConcurrent = 1
	cfg.Devices.SNMP = config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(time.Second), Retries: 0}
	cfg.Devices.Inventory = []config.Device{{Name: "core-sw-1", Address: a.Host}}
	client := snmp.NewClient(cfg.Devices.MaxConcurrent)
	check := config.Check{Name: "snmp", Kind: config.KindSNMP, Device: "core-sw-1", OID: snmp.OIDSysName,
		Timeout: config.Duration(500 * time.Millisecond)}

	// A device that hears the lookup and never answers keeps the slot busy.
	quiet := snmptest.StartQuiet(t)
	lookup := make(chan error, 1)
	go func() {
		p := snmp.Profile{Version: "2c", Community: "public", Port: quiet.Port, Timeout: 3 * time.Second}
		_, err := client.Get(context.Background(), "127.0.0.1", p, snmp.OIDSysName)
		lookup <- err
	}()
	select {
	case <-quiet.Heard:
	case <-time.After(10 * time.Second):
		t.Fatal("the lookup never reached the quiet device")
	}

	r := run(t, check, Env{Config: cfg, SNMP: client})
	want := "snmp get .1.3.6.1.2.1.1.5.0 from core-sw-1: gave up waiting for a free SNMP slot"
	if r.OK || r.Error != want {
		t.Fatalf("check while the slot is busy: %+v, want error %q", r, want)
	}
	if err := <-lookup; !errors.Is(err, snmp.ErrTimeout) {
		t.Fatalf("lookup of the quiet device: err = %v, want a timeout", err)
	}
	if r := run(t, check, Env{Config: cfg, SNMP: client}); !r.OK {
		t.Fatalf("check with the slot free: %+v", r)
	}
}
