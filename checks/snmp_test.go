package checks

import (
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/handlers/devices/snmptest"
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
	const sysName, sysUpTime = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"
	tests := []struct {
		name, device, oid string
		cmp               config.Compare
		ok                bool
		errHas            string
	}{
		{name: "reads", device: "core-sw-1", oid: sysName, ok: true},
		{name: "equals", device: "core-sw-1", oid: sysName, cmp: config.Compare{Op: "==", Value: "core-sw-1"}, ok: true},
		{name: "differs", device: "core-sw-1", oid: sysName, cmp: config.Compare{Op: "==", Value: "edge"}, errHas: "is core-sw-1, want == edge"},
		{name: "numeric threshold", device: "core-sw-1", oid: sysUpTime, cmp: config.Compare{Op: ">=", Value: "0"}, ok: true},
		{name: "numeric threshold fails", device: "core-sw-1", oid: sysUpTime, cmp: config.Compare{Op: "<", Value: "0"}, errHas: "want < 0"},
		{name: "missing oid", device: "core-sw-1", oid: "1.3.6.1.2.1.1.99.0", errHas: "has no"},
		{name: "v3 authPriv", device: "v3-sw", oid: sysName, cmp: config.Compare{Op: "==", Value: "core-sw-1"}, ok: true},
		{name: "wrong community times out", device: "wrong-community", oid: sysName, errHas: "snmp get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, config.Check{Name: "snmp", Kind: config.KindSNMP, Device: tt.device, OID: tt.oid, Compare: tt.cmp,
				Timeout: config.Duration(3 * time.Second)}, Env{Config: cfg})
			if r.OK != tt.ok || !strings.Contains(r.Error, tt.errHas) {
				t.Errorf("got %+v, want ok=%v error with %q", r, tt.ok, tt.errHas)
			}
		})
	}
}
