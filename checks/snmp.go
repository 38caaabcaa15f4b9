package checks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"opsbot/config"
	"opsbot/snmp"
)

// snmpCheck reads one OID through the SNMP client that device lookups use,
// so it shares their concurrency limit, deadline and error wording.
type snmpCheck struct {
	client *snmp.Client
	device config.Device
	prof   snmp.Profile
	oid    string // without the leading dot, as the client takes it
	cmp    config.Compare
}

func newSNMP(c config.Check, env Env) (Check, error) {
	if env.Config == nil {
		return nil, fmt.Errorf("device %s: no device inventory", c.Device)
	}
	if env.SNMP == nil {
		return nil, fmt.Errorf("device %s: no SNMP client", c.Device)
	}
	for _, d := range env.Config.Devices.Inventory {
		if d.Name == c.Device {
			return &snmpCheck{client: env.SNMP, device: d, prof: snmp.FromConfig(d.SNMP(env.Config.Devices.SNMP)),
				oid: strings.TrimPrefix(c.OID, "."), cmp: c.Compare}, nil
		}
	}
	return nil, fmt.Errorf("device %q is not in devices.inventory", c.Device)
}

func (s *snmpCheck) Run(ctx context.Context) Result {
	start := time.Now()
	// Messages name the OID with its leading dot, as they always have.
	oid := "." + s.oid
	vals, err := s.client.Get(ctx, s.device.Address, s.prof, s.oid)
	if err != nil {
		reason := err.Error()
		var se *snmp.Error
		if errors.As(err, &se) {
			reason = se.Reason
		}
		return fail(start, "snmp get %s from %s: %s", oid, s.device.Name, reason)
	}
	if len(vals) == 0 {
		return fail(start, "snmp get %s from %s: empty answer", oid, s.device.Name)
	}
	v := vals[0]
	if v.Missing() {
		return fail(start, "%s has no %s (%s)", s.device.Name, oid, v.Type)
	}
	if s.cmp.Op == "" {
		return ok(start)
	}
	got := v.String()
	if v.Type == "ObjectIdentifier" {
		// Compared and shown with the leading dot, as written in configs.
		got = "." + got
	}
	good, err := compare(got, s.cmp)
	if err != nil {
		return fail(start, "%s %s: %v", s.device.Name, oid, err)
	}
	if !good {
		return fail(start, "%s %s is %s, want %s %s", s.device.Name, oid, got, s.cmp.Op, s.cmp.Value)
	}
	return ok(start)
}

// compare tests got against c: numerically for <, <=, >, >=, and for == and
// != when both sides are numbers, as text otherwise.
func compare(got string, c config.Compare) (bool, error) {
	g, gerr := strconv.ParseFloat(strings.TrimSpace(got), 64)
	w, werr := strconv.ParseFloat(c.Value, 64)
	numeric := gerr == nil && werr == nil
	switch c.Op {
	case "==":
		if numeric {
			return g == w, nil
		}
		return got == c.Value, nil
	case "!=":
		if numeric {
			return g != w, nil
		}
		return got != c.Value, nil
	}
	if !numeric {
		return false, fmt.Errorf("value %q is not a number to compare with %s %s", got, c.Op, c.Value)
	}
	switch c.Op {
	case "<":
		return g < w, nil
	case "<=":
		return g <= w, nil
	case ">":
		return g > w, nil
	case ">=":
		return g >= w, nil
	}
	return false, fmt.Errorf("unknown comparison %q", c.Op)
}
