package checks

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"opsbot/config"
)

type snmpCheck struct {
	device config.Device
	prof   config.SNMPProfile
	oid    string
	cmp    config.Compare
}

func newSNMP(c config.Check, env Env) (Check, error) {
	if env.Config == nil {
		return nil, fmt.Errorf("device %s: no device inventory", c.Device)
	}
	for _, d := range env.Config.Devices.Inventory {
		if d.Name == c.Device {
			oid := c.OID
			if !strings.HasPrefix(oid, ".") {
				oid = "." + oid
			}
			return &snmpCheck{device: d, prof: d.SNMP(env.Config.Devices.SNMP), oid: oid, cmp: c.Compare}, nil
		}
	}
	return nil, fmt.Errorf("device %q is not in devices.inventory", c.Device)
}

func (s *snmpCheck) client(ctx context.Context) (*gosnmp.GoSNMP, error) {
	p := s.prof
	g := &gosnmp.GoSNMP{
		Context:            ctx,
		Target:             s.device.Address,
		Port:               uint16(p.Port),
		Timeout:            time.Duration(p.Timeout),
		Retries:            p.Retries,
		MaxOids:            gosnmp.MaxOids,
		ExponentialTimeout: false,
	}
	if g.Port == 0 {
		g.Port = 161
	}
	if g.Timeout <= 0 {
		g.Timeout = 2 * time.Second
	}
	switch p.Version {
	case "1":
		g.Version, g.Community = gosnmp.Version1, p.Community.Reveal()
	case "3":
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		g.ContextName = p.Context
		usm := &gosnmp.UsmSecurityParameters{UserName: p.User}
		g.MsgFlags = gosnmp.NoAuthNoPriv
		if p.AuthProtocol != "" {
			g.MsgFlags = gosnmp.AuthNoPriv
			usm.AuthenticationProtocol = authProto(p.AuthProtocol)
			usm.AuthenticationPassphrase = p.AuthPassphrase.Reveal()
			if p.PrivProtocol != "" {
				g.MsgFlags = gosnmp.AuthPriv
				usm.PrivacyProtocol = privProto(p.PrivProtocol)
				usm.PrivacyPassphrase = p.PrivPassphrase.Reveal()
			}
		}
		g.SecurityParameters = usm
	default:
		g.Version, g.Community = gosnmp.Version2c, p.Community.Reveal()
	}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("snmp connect %s: %w", s.device.Name, err)
	}
	return g, nil
}

func authProto(s string) gosnmp.SnmpV3AuthProtocol {
	switch strings.ToUpper(s) {
	case "MD5":
		return gosnmp.MD5
	case "SHA224":
		return gosnmp.SHA224
	case "SHA256":
		return gosnmp.SHA256
	case "SHA384":
		return gosnmp.SHA384
	case "SHA512":
		return gosnmp.SHA512
	default:
		return gosnmp.SHA
	}
}

func privProto(s string) gosnmp.SnmpV3PrivProtocol {
	switch strings.ToUpper(s) {
	case "DES":
		return gosnmp.DES
	case "AES192":
		return gosnmp.AES192
	case "AES256":
		return gosnmp.AES256
	case "AES192C":
		return gosnmp.AES192C
	case "AES256C":
		return gosnmp.AES256C
	default:
		return gosnmp.AES
	}
}

func (s *snmpCheck) Run(ctx context.Context) Result {
	start := time.Now()
	g, err := s.client(ctx)
	if err != nil {
		return fail(start, "%v", err)
	}
	defer g.Conn.Close()
	pkt, err := g.Get([]string{s.oid})
	if err != nil {
		return fail(start, "snmp get %s from %s: %s", s.oid, s.device.Name, timeoutErr(ctx, err))
	}
	if pkt.Error != gosnmp.NoError {
		return fail(start, "snmp get %s from %s: %s", s.oid, s.device.Name, pkt.Error)
	}
	if len(pkt.Variables) == 0 {
		return fail(start, "snmp get %s from %s: empty answer", s.oid, s.device.Name)
	}
	v := pkt.Variables[0]
	switch v.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return fail(start, "%s has no %s (%s)", s.device.Name, s.oid, v.Type)
	}
	if s.cmp.Op == "" {
		return ok(start)
	}
	got := snmpString(v)
	good, err := compare(got, s.cmp)
	if err != nil {
		return fail(start, "%s %s: %v", s.device.Name, s.oid, err)
	}
	if !good {
		return fail(start, "%s %s is %s, want %s %s", s.device.Name, s.oid, got, s.cmp.Op, s.cmp.Value)
	}
	return ok(start)
}

// snmpString renders a value for comparison and messages.
func snmpString(v gosnmp.SnmpPDU) string {
	switch v.Type {
	case gosnmp.OctetString:
		b, _ := v.Value.([]byte)
		return string(b)
	case gosnmp.ObjectIdentifier, gosnmp.IPAddress:
		return fmt.Sprint(v.Value)
	default:
		n := gosnmp.ToBigInt(v.Value)
		if n == nil {
			return fmt.Sprint(v.Value)
		}
		return (*big.Int)(n).String()
	}
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
