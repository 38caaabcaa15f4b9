// Package devices is the /device command: the device inventory (from the
// config, from CSV files and from chat), fast lookups over an in-memory
// snapshot of it, and live SNMP queries and reachability checks.
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
)

// RoleAdmin may add, edit and remove devices from chat.
const RoleAdmin = "admin"

// ListLimit caps how many devices one reply lists.
const ListLimit = 15

// Handler serves /device.
type Handler struct {
	cfg   *config.Config
	store *storage.Store
	clock clock.Clock
	log   *slog.Logger
	snmp  *snmp.Client
	// outbox carries port change cards and revert notes.
	outbox *notify.Outbox

	// snap is the current inventory snapshot; reloads are serialised by mu.
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex

	// pingPorts are the TCP ports /device ping tries.
	pingPorts []int
}

type snapshot struct {
	ix    *Index
	stamp storage.DeviceStamp
}

// New loads the config's devices into storage (the config is the source of
// truth for them) and builds the first snapshot.
func New(d handlers.Deps) (*Handler, error) {
	if d.SNMP == nil {
		return nil, errors.New("devices: no SNMP client")
	}
	h := &Handler{cfg: d.Config, store: d.Store, clock: d.Clock, log: d.Log,
		snmp: d.SNMP, outbox: d.Outbox, pingPorts: []int{22, 443}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.syncConfig(ctx); err != nil {
		return nil, err
	}
	if _, err := h.reload(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// syncConfig upserts the config's inventory.
func (h *Handler) syncConfig(ctx context.Context) error {
	devs := make([]storage.Device, 0, len(h.cfg.Devices.Inventory))
	for _, c := range h.cfg.Devices.Inventory {
		devs = append(devs, storage.Device{Name: c.Name, Address: c.Address, Kind: c.Kind, Site: c.Site,
			Owner: c.Owner, Tags: joinTags(c.Tags), Notes: c.Notes})
	}
	return h.store.Tx(ctx, func(tx *gorm.DB) error {
		added, changed, removed, err := storage.SyncConfigDevices(tx, devs, h.clock.Now())
		if err != nil {
			return err
		}
		if added+changed+removed > 0 {
			h.log.Info("devices from config", "added", added, "changed", changed, "removed", removed)
			return storage.WriteAudit(tx, storage.AuditEntry{At: h.clock.Now(), Actor: "config", Platform: "config",
				Action: "device.sync", Subject: "devices",
				Detail: fmt.Sprintf("added %d, changed %d, removed %d", added, changed, removed)})
		}
		return nil
	})
}

// reload rebuilds the snapshot from storage.
func (h *Handler) reload(ctx context.Context) (*Index, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	stamp, err := storage.GetDeviceStamp(ctx, h.store.DB)
	if err != nil {
		return nil, err
	}
	if cur := h.snap.Load(); cur != nil && cur.stamp == stamp {
		return cur.ix, nil
	}
	devs, err := storage.ListDevices(ctx, h.store.DB)
	if err != nil {
		return nil, err
	}
	ix := NewIndex(devs)
	h.snap.Store(&snapshot{ix: ix, stamp: stamp})
	return ix, nil
}

// index returns a current snapshot: one cheap query tells whether another
// process (a CSV import, another replica) changed the inventory.
func (h *Handler) index(ctx context.Context) (*Index, error) {
	cur := h.snap.Load()
	stamp, err := storage.GetDeviceStamp(ctx, h.store.DB)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.stamp == stamp {
		return cur.ix, nil
	}
	return h.reload(ctx)
}

// Complete suggests device names for type-ahead menus from the in-memory
// index: names starting with prefix first, then names containing it.
func (h *Handler) Complete(ctx context.Context, _ bot.Person, prefix string) []bot.Choice {
	ix, err := h.index(ctx)
	if err != nil {
		h.log.Warn("complete devices", "err", err)
		return nil
	}
	names := ix.Complete(prefix, 25)
	out := make([]bot.Choice, len(names))
	for i, n := range names {
		out[i] = bot.Choice{Label: n, Value: n}
	}
	return out
}

// Command is the /device command table.
func (h *Handler) Command() bot.Command {
	name := bot.Param{Name: "name", Kind: bot.KindString, Required: true, Placeholder: "NAME", Complete: h.Complete}
	facts := []bot.Param{
		{Name: "kind", Kind: bot.KindString, Placeholder: "KIND", Help: "switch, router, firewall, printer…"},
		{Name: "site", Kind: bot.KindString, Placeholder: "SITE"},
		{Name: "owner", Kind: bot.KindString, Placeholder: "TEAM"},
		{Name: "tags", Kind: bot.KindString, Placeholder: "a,b", Help: "comma-separated tags"},
		{Name: "notes", Kind: bot.KindString, Placeholder: `"..."`},
		{Name: "profile", Kind: bot.KindString, Placeholder: "PROFILE", Help: "a profile under devices.profiles in the config; default devices.snmp"},
	}
	ack := func(req *bot.Request) string { return fmt.Sprintf("Looking up %s…", req.String("name")) }
	return bot.Command{Name: "device", Summary: "Look up devices and query them live over SNMP", Subs: append([]bot.Sub{
		{Name: "lookup", Summary: "Find devices by name, IP address, CIDR, tag or part of a name",
			Args: []bot.Param{{Name: "query", Kind: bot.KindText, Required: true, Placeholder: "QUERY",
				Help: "core-sw-1, 10.0.0.1, 10.1.2.0/24, tag:core, or part of a name"}},
			Run: h.lookup},
		{Name: "show", Summary: "Show a device's facts and live SNMP values",
			Args: []bot.Param{name},
			Flags: []bot.Param{{Name: "interfaces", Kind: bot.KindBool, Help: "add the interface table"},
				{Name: "oid", Kind: bot.KindString, Placeholder: "OID", Help: "read one numeric OID, e.g. 1.3.6.1.2.1.1.3.0"}},
			Slow: true, Ack: ack, Run: h.show},
		h.portSub(),
		{Name: "ping", Summary: "Check whether a device accepts TCP connections (ports 22 and 443)",
			Args: []bot.Param{name}, Slow: true, Ack: ack, Run: h.ping},
		{Name: "add", Summary: "Add a device to the inventory", Roles: []string{RoleAdmin},
			Args:  []bot.Param{name, {Name: "address", Kind: bot.KindString, Required: true, Placeholder: "ADDRESS"}},
			Flags: facts, Run: h.add},
		{Name: "edit", Summary: "Change a device added from chat or CSV", Roles: []string{RoleAdmin},
			Args:  []bot.Param{name},
			Flags: append([]bot.Param{{Name: "address", Kind: bot.KindString, Placeholder: "ADDRESS"}}, facts...),
			Run:   h.edit},
		{Name: "remove", Summary: "Remove a device added from chat or CSV", Roles: []string{RoleAdmin},
			Args: []bot.Param{name}, Run: h.remove},
	}, h.assignmentSubs(name)...)}
}

// device finds a device by exact name, or says which names are close.
func (h *Handler) device(ctx context.Context, name string) (storage.Device, error) {
	ix, err := h.index(ctx)
	if err != nil {
		return storage.Device{}, err
	}
	if d, ok := ix.Get(name); ok {
		return d, nil
	}
	msg := fmt.Sprintf("No device is called %q.", clip(name, 64))
	if s := ix.suggest(strings.ToLower(name), 3); len(s) > 0 {
		msg += " Did you mean " + strings.Join(s, ", ") + "?"
	}
	return storage.Device{}, bot.Errorf("%s Find it with /device lookup %s", msg, clip(name, 64))
}

// profile is the device's effective SNMP profile. Secrets never leave it
// except to the SNMP client.
func (h *Handler) profile(d storage.Device) (snmp.Profile, error) {
	p, err := h.configProfile(d)
	return snmp.FromConfig(p), err
}

// configProfile is the device's effective SNMP profile as configured,
// write credentials included.
func (h *Handler) configProfile(d storage.Device) (config.SNMPProfile, error) {
	if d.Source == storage.DeviceFromConfig {
		for _, c := range h.cfg.Devices.Inventory {
			if c.Name == d.Name {
				return c.SNMP(h.cfg.Devices.SNMP), nil
			}
		}
	}
	p, ok := h.cfg.Devices.Profile(d.Profile)
	if !ok {
		return config.SNMPProfile{}, bot.Errorf("%s uses the SNMP profile %q, which is no longer under devices.profiles in the config; set another with /device edit %s --profile NAME",
			d.Name, d.Profile, d.Name)
	}
	return p, nil
}

// facts are a device's stored fields as reply fields.
func facts(d storage.Device, p *snmp.Profile) []bot.Field {
	var f []bot.Field
	add := func(name, value string, short bool) {
		if value != "" {
			f = append(f, bot.Field{Name: name, Value: value, Short: short})
		}
	}
	add("Address", d.Address, true)
	add("Kind", d.Kind, true)
	add("Site", d.Site, true)
	add("Owner", d.Owner, true)
	add("Tags", strings.Join(d.TagList(), ", "), true)
	if p != nil {
		add("SNMP", p.String(), true)
	}
	add("Source", d.Source, true)
	add("Notes", d.Notes, false)
	return f
}

func title(d storage.Device) string { return fmt.Sprintf("%s (%s)", d.Name, d.Address) }

func (h *Handler) lookup(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	q := strings.TrimSpace(req.String("query"))
	if q == "" {
		return bot.Reply{}, bot.Errorf("Say what to look for: /device lookup core-sw-1 (or an IP, 10.0.0.0/24, tag:core, or part of a name)")
	}
	if len(q) > 255 {
		return bot.Reply{}, bot.Errorf("That query is %d characters long; device names and addresses are at most 255.", len(q))
	}
	if err := checkCIDR(q); err != nil {
		return bot.Reply{}, err
	}
	ix, err := h.index(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	r := ix.Lookup(q, ListLimit)
	switch {
	case r.Total == 0:
		text := fmt.Sprintf("No device matches %q.", clip(q, 64))
		if len(r.Suggestions) > 0 {
			text += " Did you mean " + strings.Join(r.Suggestions, ", ") + "?"
		}
		return bot.Reply{Text: text, Severity: bot.SeverityWarning}, nil
	case r.Total == 1:
		d := r.Devices[0]
		return bot.Reply{Title: title(d), Fields: facts(d, nil), Footer: "Live values: /device show " + d.Name,
			Buttons: []bot.Button{{Label: "Show live", Command: "/device show " + d.Name, Style: bot.ButtonPrimary}}}, nil
	}
	var b strings.Builder
	for _, d := range r.Devices {
		fmt.Fprintf(&b, "%s — %s", d.Name, d.Address)
		for _, s := range []string{d.Kind, d.Site} {
			if s != "" {
				b.WriteString(" · " + s)
			}
		}
		if d.Tags != "" {
			b.WriteString(" · tags " + strings.ReplaceAll(d.Tags, ",", ", "))
		}
		b.WriteString("\n")
	}
	if more := r.Total - len(r.Devices); more > 0 {
		fmt.Fprintf(&b, "…and %d more; narrow the query.", more)
	}
	// A menu of the listed devices runs /device show; over a chat's type-ahead
	// it also finds the ones past the list.
	menu := bot.Menu{Placeholder: "Show a device", Command: "/device show", Param: "name"}
	for _, d := range r.Devices {
		menu.Options = append(menu.Options, bot.Choice{Label: d.Name, Value: d.Name})
	}
	return bot.Reply{Title: fmt.Sprintf("%d devices match %q (by %s)", r.Total, clip(q, 64), r.Kind),
		Text: strings.TrimRight(b.String(), "\n"), Menus: []bot.Menu{menu}}, nil
}

// checkCIDR refuses a query that can only be meant as a CIDR (no name,
// address or tag has a slash) but is not one, saying why.
func checkCIDR(q string) error {
	if !strings.Contains(q, "/") || strings.HasPrefix(strings.ToLower(q), "tag:") {
		return nil
	}
	_, err := netip.ParsePrefix(q)
	if err == nil {
		return nil
	}
	reason := err.Error()
	if i := strings.LastIndex(reason, "): "); i >= 0 {
		reason = reason[i+3:]
	}
	return bot.Errorf("%q is not a CIDR (%s): write an address and a prefix length, e.g. 10.1.2.0/24 or 2001:db8::/32.",
		clip(q, 64), reason)
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	var oid string
	if req.Has("oid") {
		o, err := snmp.ParseOID(req.String("oid"))
		if err != nil {
			return bot.Reply{}, bot.Errorf("--oid %q is not a numeric OID: %v. Example: /device show %s --oid 1.3.6.1.2.1.1.3.0",
				clip(req.String("oid"), 64), err, clip(req.String("name"), 64))
		}
		oid = o
	}
	d, err := h.device(ctx, req.String("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	p, err := h.profile(d)
	if err != nil {
		return bot.Reply{}, err
	}
	reply := bot.Reply{Title: title(d), Fields: facts(d, &p)}
	held, err := h.holderFields(ctx, d)
	if err != nil {
		return bot.Reply{}, err
	}
	reply.Fields = append(reply.Fields, held...)
	sys, err := h.snmp.System(ctx, d.Address, p)
	if err != nil {
		return h.snmpFailed(reply, d, p, err), nil
	}
	live := []bot.Field{
		{Name: "sysName", Value: sys.Name, Short: true},
		{Name: "Uptime", Value: humanDuration(sys.UpTime), Short: true},
		{Name: "sysLocation", Value: sys.Location, Short: true},
		{Name: "sysContact", Value: sys.Contact, Short: true},
		{Name: "sysDescr", Value: clip(sys.Descr, 300)},
	}
	for _, f := range live {
		if f.Value != "" {
			reply.Fields = append(reply.Fields, f)
		}
	}
	reply.Severity = bot.SeveritySuccess
	if oid != "" {
		vals, err := h.snmp.Get(ctx, d.Address, p, oid)
		if err != nil {
			return h.snmpFailed(reply, d, p, err), nil
		}
		v := "(no such object)"
		if len(vals) == 1 && vals[0].Raw != nil {
			v = fmt.Sprintf("%s (%s)", clip(vals[0].String(), 500), vals[0].Type)
		}
		reply.Fields = append(reply.Fields, bot.Field{Name: oid, Value: v})
	}
	if req.Bool("interfaces") {
		ifs, err := h.snmp.Interfaces(ctx, d.Address, p)
		if err != nil {
			return h.snmpFailed(reply, d, p, err), nil
		}
		reply.Fields = append(reply.Fields, bot.Field{Name: "Interfaces", Value: interfaceTable(ifs, 50)})
	}
	return reply, nil
}

// snmpFailed keeps the stored facts and says plainly why the live part is
// missing; the log gets the details.
func (h *Handler) snmpFailed(reply bot.Reply, d storage.Device, p snmp.Profile, err error) bot.Reply {
	h.log.Warn("snmp query failed", "device", d.Name, "address", d.Address, "err", err)
	reply.Severity = bot.SeverityWarning
	var se *snmp.Error
	reason := "the query failed"
	if errors.As(err, &se) {
		reason = se.Reason
	}
	switch {
	case errors.Is(err, snmp.ErrTimeout):
		reply.Text = fmt.Sprintf("No SNMP answer within %s", duration(p.Budget()))
		if p.Retries > 0 {
			reply.Text += fmt.Sprintf(" (%d tries of %s)", p.Retries+1, duration(p.Timeout))
		}
		reply.Text += ". Check the address, firewalls and the community or v3 credentials (" + p.String() + ")."
	case errors.Is(err, snmp.ErrAuth):
		reply.Text = fmt.Sprintf("It refused our SNMPv3 credentials: %s. Check user and passphrases of its profile (%s).", reason, p.String())
	case errors.Is(err, snmp.ErrUnreachable):
		reply.Text = fmt.Sprintf("Nothing answers SNMP on UDP port %d (the host says the port is closed).", p.Port)
	default:
		reply.Text = fmt.Sprintf("SNMP failed: %s.", reason)
	}
	return reply
}

// interfaceTable renders interfaces as fixed-width text, at most max rows.
func interfaceTable(ifs []snmp.Interface, max int) string {
	if len(ifs) == 0 {
		return "No interfaces reported."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-6s %-6s %10s %14s %14s %8s %8s\n", "Interface", "Admin", "Oper", "Speed", "In", "Out", "InErr", "OutErr")
	for _, i := range ifs[:min(max, len(ifs))] {
		fmt.Fprintf(&b, "%-16s %-6s %-6s %10s %14s %14s %8d %8d\n", clip(i.Name, 16), i.AdminState, i.OperState,
			speed(i.SpeedMbps), bytesText(i.InOctets), bytesText(i.OutOctets), i.InErrors, i.OutErrors)
	}
	if len(ifs) > max {
		fmt.Fprintf(&b, "…and %d more interfaces\n", len(ifs)-max)
	}
	return strings.TrimRight(b.String(), "\n")
}

func speed(mbps uint64) string {
	switch {
	case mbps == 0:
		return "-"
	case mbps >= 1000 && mbps%1000 == 0:
		return fmt.Sprintf("%dG", mbps/1000)
	default:
		return fmt.Sprintf("%dM", mbps)
	}
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// duration formats a timeout: 300ms, 2s, 1m30s.
func duration(d time.Duration) string {
	if d%time.Second != 0 {
		return d.String()
	}
	return bot.FormatDuration(d)
}

// humanDuration is an uptime such as "12d 3h 4m".
func humanDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm", days, hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	default:
		return fmt.Sprintf("%dm", mins)
	}
}

// clip shortens s to n runes for echoing untrusted input.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
