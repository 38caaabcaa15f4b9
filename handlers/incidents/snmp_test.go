package incidents

import (
	"strings"
	"testing"
	"time"

	"opsbot/config"
	"opsbot/handlers/devices"
	"opsbot/harness/handlertest"
	"opsbot/snmp/snmptest"
	"opsbot/storage/storagetest"
)

// /device show and snmp checks built from the same Deps share one SNMP
// client: with devices.max_concurrent 1, a lookup of a device that never
// answers makes /check run of an snmp check give up waiting for the slot.
func TestSNMPCheckSharesDeviceLookupLimit(t *testing.T) {
	t.Parallel()
	a := snmptest.Start(t, snmptest.Options{SysName: "lab-sw"})
	quiet := snmptest.StartQuiet(t)

	cfg := testConfig("http://127.0.0.1:1/")
	cfg.Devices.MaxConcurrent = 1
	cfg.Devices.SNMP = config.SNMPProfile{Version: "2c", Community: config.Secret(a.Options.Community), Port: a.Port,
		Timeout: config.Duration(time.Second), Retries: 0}
	cfg.Devices.Inventory = []config.Device{
		{Name: "lab-sw", Address: a.Host},
		{Name: "quiet-sw", Address: "127.0.0.1", SNMPOverride: &config.SNMPProfile{
			Port: quiet.Port, Timeout: config.Duration(3 * time.Second)}},
	}
	cfg.Checks = []config.Check{{Name: "lab", Kind: config.KindSNMP, Device: "lab-sw", OID: "1.3.6.1.2.1.1.5.0",
		Compare: config.Compare{Op: "==", Value: "lab-sw"}, Every: config.Duration(time.Minute),
		Timeout: config.Duration(500 * time.Millisecond), Channel: "ops", Failures: 1, Successes: 1}}
	env := handlertest.New(t, storagetest.Backends(t)[0], cfg)
	dev, err := devices.New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := New(env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	env.Use(append(inc.Commands(), dev.Command())...)

	if got := env.Text("bob", "/check run lab"); !strings.Contains(got, "Check lab: ok") {
		t.Fatalf("/check run lab with the slot free: %q", got)
	}
	show := make(chan string, 1)
	go func() { show <- env.Text("alice", "/device show quiet-sw") }()
	select {
	case <-quiet.Heard:
	case <-time.After(10 * time.Second):
		t.Fatal("/device show never reached the quiet device")
	}
	got := env.Text("bob", "/check run lab")
	if want := "snmp get .1.3.6.1.2.1.1.5.0 from lab-sw: gave up waiting for a free SNMP slot"; !strings.Contains(got, want) {
		t.Errorf("/check run lab while /device show holds the slot: %q, want it to say %q", got, want)
	}
	if got := <-show; !strings.Contains(got, "quiet-sw (127.0.0.1)\nNo SNMP answer within 3s") {
		t.Errorf("/device show quiet-sw: %q", got)
	}
	if got := env.Text("bob", "/check run lab"); !strings.Contains(got, "Check lab: ok") {
		t.Errorf("/check run lab after the lookup: %q", got)
	}
}
