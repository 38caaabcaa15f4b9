package snmp

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OIDs of the system group (SNMPv2-MIB) and the interface tables (IF-MIB).
const (
	OIDSysDescr    = "1.3.6.1.2.1.1.1.0"
	OIDSysUpTime   = "1.3.6.1.2.1.1.3.0"
	OIDSysContact  = "1.3.6.1.2.1.1.4.0"
	OIDSysName     = "1.3.6.1.2.1.1.5.0"
	OIDSysLocation = "1.3.6.1.2.1.1.6.0"

	OIDIfTable  = "1.3.6.1.2.1.2.2.1"
	OIDIfXTable = "1.3.6.1.2.1.31.1.1.1"
	// OIDIfAdminStatus is ifAdminStatus; append ".IFINDEX". 1 is up, 2 down.
	OIDIfAdminStatus = "1.3.6.1.2.1.2.2.1.7"
	// OIDIfOperStatus is ifOperStatus; append ".IFINDEX".
	OIDIfOperStatus = "1.3.6.1.2.1.2.2.1.8"
)

// System is a device's system group.
type System struct {
	Name, Descr, Contact, Location string
	// UpTime is sysUpTime (hundredths of a second since the agent started).
	UpTime time.Duration
}

// System reads sysName, sysDescr, sysUpTime, sysContact and sysLocation in
// one request.
func (c *Client) System(ctx context.Context, host string, p Profile) (System, error) {
	vals, err := c.Get(ctx, host, p, OIDSysName, OIDSysDescr, OIDSysUpTime, OIDSysContact, OIDSysLocation)
	if err != nil {
		return System{}, err
	}
	var s System
	for _, v := range vals {
		switch v.OID {
		case OIDSysName:
			s.Name = v.String()
		case OIDSysDescr:
			s.Descr = v.String()
		case OIDSysContact:
			s.Contact = v.String()
		case OIDSysLocation:
			s.Location = v.String()
		case OIDSysUpTime:
			if n, ok := v.Uint(); ok {
				s.UpTime = time.Duration(n) * 10 * time.Millisecond
			}
		}
	}
	return s, nil
}

// Interface is one row of the interface table, with the 64-bit counters and
// high speed of ifXTable where the agent has them.
type Interface struct {
	Index      int
	Name       string // ifName, or ifDescr when the agent has no ifXTable
	Descr      string
	AdminUp    bool
	AdminState string // up, down, testing
	OperState  string // up, down, testing, unknown, dormant, notPresent, lowerLayerDown
	// SpeedMbps is ifHighSpeed, or ifSpeed/1e6.
	SpeedMbps            uint64
	InOctets, OutOctets  uint64
	InErrors, OutErrors  uint64
	HighCapacityCounters bool
}

var ifStates = []string{"", "up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown"}

func ifState(v uint64) string {
	if v < uint64(len(ifStates)) && v > 0 {
		return ifStates[v]
	}
	return strconv.FormatUint(v, 10)
}

// Interfaces walks ifTable and ifXTable and returns the rows by ifIndex.
func (c *Client) Interfaces(ctx context.Context, host string, p Profile) ([]Interface, error) {
	base, err := c.Walk(ctx, host, p, OIDIfTable)
	if err != nil {
		return nil, err
	}
	// ifXTable is optional (v1-only agents lack it); its absence is no error.
	ext, err := c.Walk(ctx, host, p, OIDIfXTable)
	if err != nil && !errors.Is(err, ErrNoSuchObject) {
		return nil, err
	}
	rows := map[int]*Interface{}
	row := func(idx int) *Interface {
		r, ok := rows[idx]
		if !ok {
			r = &Interface{Index: idx}
			rows[idx] = r
		}
		return r
	}
	for _, v := range base {
		col, idx, ok := column(v.OID, OIDIfTable)
		if !ok {
			continue
		}
		r := row(idx)
		n, _ := v.Uint()
		switch col {
		case 2:
			r.Descr = v.String()
		case 5:
			if r.SpeedMbps == 0 {
				r.SpeedMbps = n / 1_000_000
			}
		case 7:
			r.AdminState, r.AdminUp = ifState(n), n == 1
		case 8:
			r.OperState = ifState(n)
		case 10:
			r.InOctets = n
		case 14:
			r.InErrors = n
		case 16:
			r.OutOctets = n
		case 20:
			r.OutErrors = n
		}
	}
	for _, v := range ext {
		col, idx, ok := column(v.OID, OIDIfXTable)
		if !ok {
			continue
		}
		r, known := rows[idx]
		if !known {
			continue
		}
		n, _ := v.Uint()
		switch col {
		case 1:
			r.Name = v.String()
		case 6:
			r.InOctets, r.HighCapacityCounters = n, true
		case 10:
			r.OutOctets, r.HighCapacityCounters = n, true
		case 15:
			if n > 0 {
				r.SpeedMbps = n
			}
		}
	}
	out := make([]Interface, 0, len(rows))
	for _, r := range rows {
		if r.Name == "" {
			r.Name = r.Descr
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

// column splits TABLE.1.COL.INDEX (an entry OID) into column and index.
func column(oid, table string) (col, idx int, ok bool) {
	rest, found := strings.CutPrefix(oid, table+".")
	if !found {
		return 0, 0, false
	}
	c, i, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	col, err1 := strconv.Atoi(c)
	idx, err2 := strconv.Atoi(i)
	return col, idx, err1 == nil && err2 == nil
}
