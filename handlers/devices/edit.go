package devices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/storage"
)

// Limits on stored fields.
const (
	maxTags  = 32
	maxNotes = 1000
)

// Fields are a device's editable facts, as typed in chat or a CSV row.
type Fields struct {
	Name, Address, Kind, Site, Owner, Notes, Profile string
	Tags                                             []string
}

// check lists every problem with f, each naming the field and the fix.
func (f Fields) check(cfg *config.Config) []string {
	var p []string
	switch {
	case f.Name == "":
		p = append(p, "name is required ("+config.NameRule("")+")")
	case len(f.Name) > 128 || !config.ValidName(f.Name):
		p = append(p, fmt.Sprintf("name %q is not valid (%s)", clip(f.Name, 64), config.NameRule(clip(f.Name, 64))))
	}
	switch {
	case f.Address == "":
		p = append(p, "address is required: an IPv4 or IPv6 address or a DNS name")
	case len(f.Address) > 253 || !config.ValidHost(f.Address):
		p = append(p, fmt.Sprintf("address %q is not an IPv4 or IPv6 address or a DNS name (no port, no brackets)", clip(f.Address, 64)))
	}
	for _, w := range []struct{ name, value string }{{"kind", f.Kind}, {"site", f.Site}, {"owner", f.Owner}} {
		if w.value != "" && (len(w.value) > 64 || !config.ValidName(w.value)) {
			p = append(p, fmt.Sprintf("%s %q is not valid (%s)", w.name, clip(w.value, 64), config.NameRule(clip(w.value, 64))))
		}
	}
	if len(f.Tags) > maxTags {
		p = append(p, fmt.Sprintf("%d tags is too many (at most %d)", len(f.Tags), maxTags))
	}
	for _, t := range f.Tags {
		if len(t) > 64 || !config.ValidName(t) {
			p = append(p, fmt.Sprintf("tag %q is not valid (%s)", clip(t, 64), config.NameRule(clip(t, 64))))
		}
	}
	if n := len([]rune(f.Notes)); n > maxNotes {
		p = append(p, fmt.Sprintf("notes are %d characters long (at most %d)", n, maxNotes))
	}
	if strings.IndexFunc(f.Notes, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		p = append(p, "notes contain a control character; use plain text")
	}
	if f.Profile != "" {
		if _, ok := cfg.Devices.Profiles[f.Profile]; !ok {
			known := slices.Sorted(func(yield func(string) bool) {
				for k := range cfg.Devices.Profiles {
					if !yield(k) {
						return
					}
				}
			})
			hint := "the config defines none; leave it out to use devices.snmp"
			if len(known) > 0 {
				hint = "use one of " + strings.Join(known, ", ")
			}
			p = append(p, fmt.Sprintf("SNMP profile %q is not under devices.profiles (%s)", clip(f.Profile, 64), hint))
		}
	}
	return p
}

func (f Fields) device() storage.Device {
	return storage.Device{Name: f.Name, Address: f.Address, Kind: f.Kind, Site: f.Site, Owner: f.Owner,
		Tags: joinTags(f.Tags), Notes: f.Notes, Profile: f.Profile}
}

// splitTags splits "a,b" (or "a;b" with sep ';'), trimming and lower-casing.
func splitTags(s string, sep string) []string {
	var out []string
	for _, t := range strings.Split(s, sep) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func joinTags(tags []string) string {
	var out []string
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// describe is a device's facts for the audit log (no secrets exist in it).
func describe(d storage.Device) string {
	return fmt.Sprintf("address=%s kind=%s site=%s owner=%s tags=%s profile=%s", d.Address, d.Kind, d.Site, d.Owner, d.Tags, d.Profile)
}

func (h *Handler) add(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	f := Fields{Name: strings.ToLower(req.String("name")), Address: req.String("address"), Kind: req.String("kind"),
		Site: req.String("site"), Owner: req.String("owner"), Tags: splitTags(req.String("tags"), ","),
		Notes: strings.TrimSpace(req.String("notes")), Profile: req.String("profile")}
	if problems := f.check(h.cfg); len(problems) > 0 {
		return bot.Reply{}, bot.Errorf("Nothing was added: %s.\nExample: /device add core-sw-1 10.0.0.1 --kind switch --site hq --tags core,floor1",
			strings.Join(problems, "; "))
	}
	d := f.device()
	d.Source, d.UpdatedBy = storage.DeviceFromChat, req.Person.Name
	d.CreatedAt, d.UpdatedAt = h.clock.Now(), h.clock.Now()
	err := h.store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.CreateDevice(tx, &d); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "device.add", "device:"+d.Name, describe(d)))
	})
	if errors.Is(err, storage.ErrDeviceExists) {
		return bot.Reply{}, bot.Errorf("A device called %s already exists; change it with /device edit %s, or pick another name.", d.Name, d.Name)
	}
	if err != nil {
		return bot.Reply{}, err
	}
	if _, err := h.reload(ctx); err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Title: "Added " + title(d), Fields: facts(d, nil), Severity: bot.SeveritySuccess, InChannel: true}, nil
}

// changeable refuses changes to config devices, which the next start would
// undo.
func changeable(d storage.Device, verb string) error {
	if d.Source == storage.DeviceFromConfig {
		return bot.Errorf("%s comes from the config file (devices.inventory); %s it there and restart opsbot.", d.Name, verb)
	}
	return nil
}

func (h *Handler) edit(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	changes := []string{"address", "kind", "site", "owner", "tags", "notes", "profile"}
	if !slices.ContainsFunc(changes, req.Has) {
		return bot.Reply{}, bot.Errorf("Say what to change, e.g. /device edit %s --address 10.0.0.2 (flags: --%s).",
			clip(req.String("name"), 64), strings.Join(changes, ", --"))
	}
	old, err := h.device(ctx, req.String("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	if err := changeable(old, "edit"); err != nil {
		return bot.Reply{}, err
	}
	f := Fields{Name: old.Name, Address: old.Address, Kind: old.Kind, Site: old.Site, Owner: old.Owner,
		Tags: old.TagList(), Notes: old.Notes, Profile: old.Profile}
	set := func(name string, dst *string) {
		if req.Has(name) {
			*dst = strings.TrimSpace(req.String(name))
		}
	}
	set("address", &f.Address)
	set("kind", &f.Kind)
	set("site", &f.Site)
	set("owner", &f.Owner)
	set("notes", &f.Notes)
	set("profile", &f.Profile)
	if req.Has("tags") {
		f.Tags = splitTags(req.String("tags"), ",")
	}
	if problems := f.check(h.cfg); len(problems) > 0 {
		return bot.Reply{}, bot.Errorf("Nothing was changed: %s.", strings.Join(problems, "; "))
	}
	d := f.device()
	d.ID, d.Source, d.CreatedAt, d.UpdatedAt, d.UpdatedBy = old.ID, old.Source, old.CreatedAt, h.clock.Now(), req.Person.Name
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.UpdateDevice(tx, &d); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "device.edit", "device:"+d.Name,
			"before "+describe(old)+"; after "+describe(d)))
	})
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, bot.Errorf("%s was removed meanwhile; add it again with /device add.", old.Name)
	}
	if err != nil {
		return bot.Reply{}, err
	}
	if _, err := h.reload(ctx); err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Title: "Changed " + title(d), Fields: facts(d, nil), Severity: bot.SeveritySuccess, InChannel: true}, nil
}

func (h *Handler) remove(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	d, err := h.device(ctx, req.String("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	if err := changeable(d, "remove"); err != nil {
		return bot.Reply{}, err
	}
	if a, err := storage.CurrentHolder(ctx, h.store.DB, d.Name); err == nil {
		return bot.Reply{}, bot.Errorf("@%s holds %s; take it back first with /device return %s --condition ok (or lost).", a.Holder, d.Name, d.Name)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, err
	}
	err = h.store.Tx(ctx, func(tx *gorm.DB) error {
		if err := storage.DeleteDevice(tx, d.Name); err != nil {
			return err
		}
		return storage.WriteAudit(tx, handlers.Audit(req, "device.remove", "device:"+d.Name, describe(d)))
	})
	if errors.Is(err, storage.ErrNotFound) {
		return bot.Reply{}, bot.Errorf("%s was already removed.", d.Name)
	}
	if err != nil {
		return bot.Reply{}, err
	}
	if _, err := h.reload(ctx); err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: fmt.Sprintf("Removed %s from the inventory.", title(d)), Severity: bot.SeveritySuccess, InChannel: true}, nil
}

// ping tries a TCP connection to each of the handler's ports at once, each
// bounded by the default SNMP timeout. SNMP itself is UDP and has no
// handshake to try, so /device show is the SNMP check.
func (h *Handler) ping(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	d, err := h.device(ctx, req.String("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	timeout := time.Duration(h.cfg.Devices.SNMP.Timeout)
	results := make([]string, len(h.pingPorts))
	open, up := 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, port := range h.pingPorts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, state := dialResult(ctx, d.Address, port, timeout)
			mu.Lock()
			defer mu.Unlock()
			results[i] = res
			if state == portOpen {
				open++
			}
			if state != portSilent {
				up++
			}
		}()
	}
	wg.Wait()
	reply := bot.Reply{Title: "Reachability of " + title(d), Text: strings.Join(results, "\n")}
	switch {
	case up > 0:
		reply.Severity = bot.SeveritySuccess
		reply.Footer = fmt.Sprintf("%s is reachable: %d of %d ports accept connections.", d.Name, open, len(h.pingPorts))
	default:
		reply.Severity = bot.SeverityWarning
		reply.Footer = fmt.Sprintf("No TCP port answered; the device may be down, filtered, or not run those services. Try /device show %s for SNMP.", d.Name)
	}
	return reply, nil
}

// What a TCP connection attempt found.
const (
	portSilent = iota // no answer: down, filtered or unresolvable
	portClosed        // refused: the host is up
	portOpen
)

// dialResult connects to host:port and describes the outcome.
func dialResult(ctx context.Context, host string, port int, timeout time.Duration) (string, int) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	took := time.Since(start)
	if err == nil {
		conn.Close()
		return fmt.Sprintf("%d/tcp open (%s)", port, took.Round(time.Millisecond)), portOpen
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%d/tcp: cannot resolve %s", port, host), portSilent
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("%d/tcp no answer within %s", port, duration(timeout)), portSilent
	case strings.Contains(err.Error(), "refused"):
		return fmt.Sprintf("%d/tcp closed (connection refused: the host is up)", port), portClosed
	default:
		return fmt.Sprintf("%d/tcp unreachable", port), portSilent
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
