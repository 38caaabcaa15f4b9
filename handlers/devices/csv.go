package devices

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
)

// CSVColumns are the columns an import file may have, in the documented
// order; name and address are required, profile and holder are optional.
var CSVColumns = []string{"name", "address", "kind", "site", "owner", "tags", "notes", "profile", "holder"}

// MaxImportRows bounds one import file.
const MaxImportRows = 100000

// ImportError lists every bad row of an import file; nothing was written.
type ImportError struct {
	Problems []string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("%d problem(s), nothing imported:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// ImportResult counts what an import did.
type ImportResult struct {
	Added, Updated, Assigned int
}

// Import reads a CSV file with a header row (name,address,kind,site,owner,
// tags,notes[,profile][,holder]; tags separated by semicolons) and adds or
// updates its devices in one transaction: every row is checked first, and
// any bad row means nothing is written. Devices from the config cannot be
// changed by an import. A holder (a name under people:) assigns the device
// to that person; an empty one leaves the assignment as it is. actor is
// recorded in the audit log.
func Import(ctx context.Context, store *storage.Store, cfg *config.Config, r io.Reader, actor string, now time.Time) (ImportResult, error) {
	rows, err := parseCSV(r, cfg)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = store.Tx(ctx, func(tx *gorm.DB) error {
		existing, err := storage.ListDevices(ctx, tx)
		if err != nil {
			return err
		}
		byName := map[string]storage.Device{}
		for _, d := range existing {
			byName[d.Name] = d
		}
		var problems []string
		for i, row := range rows {
			// A device the running config no longer lists but the last
			// start still synced is a config device until the next start.
			if old, ok := byName[row.fields.Name]; ok && old.Source == storage.DeviceFromConfig {
				problems = append(problems, fmt.Sprintf("line %d: %s comes from the config file (devices.inventory); change it there, or rename the row", row.line, row.fields.Name))
			}
			if row.holder == "" {
				continue
			}
			cur, err := storage.CurrentHolder(ctx, tx, row.fields.Name)
			switch {
			case err == nil && cur.Holder != row.holder:
				problems = append(problems, fmt.Sprintf("line %d: %s is held by @%s; return it first with /device return %s --condition ok, or leave holder empty",
					row.line, row.fields.Name, cur.Holder, row.fields.Name))
			case err == nil:
				rows[i].holder = "" // already theirs
			case !errors.Is(err, storage.ErrNotFound):
				return err
			}
		}
		if len(problems) > 0 {
			return &ImportError{Problems: problems}
		}
		for _, row := range rows {
			d := row.fields.device()
			d.Source, d.UpdatedBy, d.UpdatedAt = storage.DeviceFromCSV, actor, now
			if old, ok := byName[d.Name]; ok {
				d.ID, d.CreatedAt = old.ID, old.CreatedAt
				if err := storage.UpdateDevice(tx, &d); err != nil {
					return err
				}
				res.Updated++
				continue
			}
			d.CreatedAt = now
			if err := storage.CreateDevice(tx, &d); err != nil {
				return err
			}
			res.Added++
		}
		for _, row := range rows {
			if row.holder == "" {
				continue
			}
			a := storage.DeviceAssignment{Device: row.fields.Name, Holder: row.holder, AssignedBy: actor, AssignedAt: now}
			if err := storage.AssignDevice(tx, &a); err != nil {
				return err
			}
			if err := storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: actor, Platform: "cli", Action: "device.assign",
				Subject: "device:" + a.Device, Detail: fmt.Sprintf("holder=%s (import line %d)", a.Holder, row.line)}); err != nil {
				return err
			}
			res.Assigned++
		}
		return storage.WriteAudit(tx, storage.AuditEntry{At: now, Actor: actor, Platform: "cli", Action: "device.import",
			Subject: "devices", Detail: fmt.Sprintf("added %d, updated %d, assigned %d", res.Added, res.Updated, res.Assigned)})
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

type csvRow struct {
	line   int
	fields Fields
	// holder is the person the row assigns the device to, or "".
	holder string
}

// parseCSV reads and checks every row, collecting all problems.
func parseCSV(r io.Reader, cfg *config.Config) ([]csvRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ImportError{Problems: []string{"the file is empty; the first line must be the header: " + strings.Join(CSVColumns[:7], ",")}}
	}
	if err != nil {
		return nil, &ImportError{Problems: []string{csvProblem(err)}}
	}
	col := map[string]int{}
	var problems []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !slices.Contains(CSVColumns, h):
			problems = append(problems, fmt.Sprintf("line 1: unknown column %q (columns: %s)", clip(h, 32), strings.Join(CSVColumns, ",")))
		case col[h] != 0:
			problems = append(problems, fmt.Sprintf("line 1: column %q appears twice", h))
		default:
			col[h] = i + 1
		}
	}
	for _, req := range []string{"name", "address"} {
		if col[req] == 0 {
			problems = append(problems, fmt.Sprintf("line 1: the header has no %q column (header: %s)", req, strings.Join(CSVColumns[:7], ",")))
		}
	}
	if len(problems) > 0 {
		return nil, &ImportError{Problems: problems}
	}
	get := func(rec []string, name string) string {
		if i := col[name]; i > 0 && i <= len(rec) {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	var rows []csvRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, csvProblem(err))
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrQuote) || errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrBareQuote) {
				// The reader cannot find the next row reliably after a quote error.
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rows)+len(problems) >= MaxImportRows {
			problems = append(problems, fmt.Sprintf("line %d: more than %d rows; split the file", line, MaxImportRows))
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) > len(header) {
			problems = append(problems, fmt.Sprintf("line %d: %d fields but the header has %d; quote fields that contain commas", line, len(rec), len(header)))
			continue
		}
		f := Fields{Name: strings.ToLower(get(rec, "name")), Address: get(rec, "address"), Kind: get(rec, "kind"),
			Site: get(rec, "site"), Owner: get(rec, "owner"), Tags: splitTags(get(rec, "tags"), ";"),
			Notes: get(rec, "notes"), Profile: get(rec, "profile")}
		for _, p := range f.check(cfg) {
			problems = append(problems, fmt.Sprintf("line %d: %s", line, p))
		}
		if slices.ContainsFunc(cfg.Devices.Inventory, func(d config.Device) bool { return d.Name == f.Name }) {
			problems = append(problems, fmt.Sprintf("line %d: %s comes from the config file (devices.inventory); change it there, or rename the row", line, f.Name))
		}
		if first, dup := seen[f.Name]; dup && f.Name != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s is already on line %d", line, f.Name, first))
			continue
		}
		holder := strings.TrimPrefix(get(rec, "holder"), "@")
		if holder != "" {
			i := slices.IndexFunc(cfg.People, func(p config.Person) bool { return strings.EqualFold(p.Name, holder) })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("line %d: holder %q is nobody under people: in the config", line, clip(holder, 64)))
			} else {
				holder = cfg.People[i].Name
			}
		}
		seen[f.Name] = line
		rows = append(rows, csvRow{line: line, fields: f, holder: holder})
		if len(problems) > 1000 {
			problems = append(problems, "too many problems; stopped reading")
			break
		}
	}
	if len(problems) > 0 {
		return nil, &ImportError{Problems: problems}
	}
	if len(rows) == 0 {
		return nil, &ImportError{Problems: []string{"the file has a header but no devices"}}
	}
	return rows, nil
}

func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d: %v", pe.Line, pe.Err)
	}
	return err.Error()
}
