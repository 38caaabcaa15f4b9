package config

import (
	"regexp"
	"slices"
)

// RunbookVerbs are the /run subcommands; a runbook may not take their names.
var RunbookVerbs = []string{"list", "show", "approve", "deny", "cancel", "help"}

// RunbookRef matches a parameter reference such as {{.service}} inside a
// runbook's argv element.
var RunbookRef = regexp.MustCompile(`\{\{\s*\.([A-Za-z0-9_-]+)\s*\}\}`)

func (v *validator) runbooks() {
	names := seen{}
	for i, r := range v.c.Runbooks {
		path := index("runbooks", i)
		v.uniqueName(names, join(path, "name"), r.Name, "runbook")
		if slices.Contains(RunbookVerbs, r.Name) {
			v.addf(join(path, "name"), "%q is a /run subcommand; choose another name", r.Name)
		}
		v.argv(join(path, "command"), r.Command)
		params := seen{}
		for j, p := range r.Params {
			pp := index(join(path, "params"), j)
			v.uniqueName(params, join(pp, "name"), p.Name, "parameter")
			v.oneOf(join(pp, "type"), p.Type, RunbookParamTypes...)
			if p.Pattern != "" {
				if p.Type != "string" {
					v.addf(join(pp, "pattern"), "only a string parameter takes a pattern")
				} else if _, err := regexp.Compile(p.Pattern); err != nil {
					v.addf(join(pp, "pattern"), "not a valid regular expression: %v", err)
				}
			}
			switch {
			case p.Type == "enum" && len(p.Values) == 0:
				v.addf(join(pp, "values"), "required for an enum: the allowed values, e.g. [nginx, app]")
			case p.Type != "enum" && len(p.Values) > 0:
				v.addf(join(pp, "values"), "only an enum parameter takes values")
			}
		}
		for j, arg := range r.Command {
			for _, m := range RunbookRef.FindAllStringSubmatch(arg, -1) {
				if _, ok := params[m[1]]; !ok {
					v.addf(index(join(path, "command"), j), "refers to {{.%s}}, which is not among the runbook's params", m[1])
				}
			}
		}
		v.words(join(path, "roles"), r.Roles)
		if r.Approvals < 0 {
			v.addf(join(path, "approvals"), "must not be negative")
		}
		approvers := seen{}
		for j, name := range r.Approvers {
			p := index(join(path, "approvers"), j)
			if v.personRef(p, name) {
				v.unique(approvers, p, name, "approver")
			}
		}
		if len(r.Approvers) > 0 && len(r.Approvers) == len(approvers) && len(approvers) < r.Approvals {
			v.addf(join(path, "approvals"), "needs %s but only %d approvers are listed", plural(r.Approvals, "approval"), len(approvers))
		}
		v.positive(join(path, "timeout"), r.Timeout, "2m")
		if r.Concurrency < 1 {
			v.addf(join(path, "concurrency"), "must be at least 1")
		}
		v.channelRef(join(path, "channel"), r.Channel)
	}
}
