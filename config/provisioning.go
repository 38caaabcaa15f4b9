package config

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ProvisioningConfig holds what onboarding and offboarding do for each kind
// of person.
type ProvisioningConfig struct {
	// Templates maps a template's name to the steps for a person of that
	// kind (key templates).
	Templates map[string]Template `yaml:"templates"`
}

// Template lists what a person of one kind needs on their first day, and
// so what is taken back on their last.
type Template struct {
	// Access lists the access to request (key access).
	Access []TemplateAccess `yaml:"access"`
	// Commands create accounts, and remove them again (key commands).
	Commands []TemplateCommand `yaml:"commands"`
	// Devices lists the devices to hand out, by kind (key devices).
	Devices []TemplateDevice `yaml:"devices"`
	// Tickets lists the tickets to file for the helpdesk (key tickets).
	Tickets []TemplateTicket `yaml:"tickets"`
}

// TemplateAccess is one access request of a template.
type TemplateAccess struct {
	// Resource names a resource under access.resources (key resource).
	Resource string `yaml:"resource"`
	// Role is one of the resource's roles (key role).
	Role string `yaml:"role"`
	// Duration is how long the grant lasts, at most the resource's
	// max_duration (key duration).
	Duration Duration `yaml:"duration"`
	// Permanent asks for access that lasts until offboarding instead of a
	// duration (key permanent).
	Permanent bool `yaml:"permanent"`
}

// TemplateCommand creates an account with one argv and removes it with
// another; arguments may hold the placeholders in Placeholders.
type TemplateCommand struct {
	// Name names the step on the checklist (key name).
	Name string `yaml:"name"`
	// Create runs on the start date (key create).
	Create []string `yaml:"create"`
	// Remove runs at offboarding (key remove; optional).
	Remove []string `yaml:"remove"`
	// Timeout limits each run (key timeout, default 2m).
	Timeout Duration `yaml:"timeout"`
}

// TemplateDevice is a device to hand out: a free one of the kind.
type TemplateDevice struct {
	// Kind is an inventory kind such as laptop or phone (key kind).
	Kind string `yaml:"kind"`
}

// TemplateTicket is a ticket filed for the helpdesk at onboarding.
type TemplateTicket struct {
	// Summary is the ticket's summary; it may hold placeholders (key summary).
	Summary string `yaml:"summary"`
	// Queue names a queue under tickets.queues (key queue; default
	// tickets.default_queue).
	Queue string `yaml:"queue"`
}

// Placeholders are the only values a template's commands and ticket
// summaries may use, as {{.Person}}: never free text from chat.
var Placeholders = []string{"Person", "Email", "SlackID", "DiscordID", "Template", "Start"}

// placeholderRE finds {{ ... }} in an argument.
var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Expand replaces the placeholders in s with their values; vals is keyed by
// the names in Placeholders. A string that passed validation holds no other
// braces.
func Expand(s string, vals map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimPrefix(placeholderRE.FindStringSubmatch(m)[1], ".")
		return vals[name]
	})
}

// placeholders checks that s uses only {{.Name}} with a name from
// Placeholders, and no stray braces.
func (v *validator) placeholders(path, s string) {
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		name, ok := strings.CutPrefix(m[1], ".")
		if !ok || !slices.Contains(Placeholders, name) {
			v.addf(path, "unknown placeholder %q%s (use %s)", m[0], didYouMean(strings.TrimPrefix(m[1], "."), Placeholders), placeholderList())
		}
	}
	if rest := placeholderRE.ReplaceAllString(s, ""); strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		v.addf(path, "unbalanced {{ or }} in %q (placeholders are written {{.Person}})", s)
	}
}

func placeholderList() string {
	out := make([]string, len(Placeholders))
	for i, p := range Placeholders {
		out[i] = "{{." + p + "}}"
	}
	return orList(out)
}

// provisioning checks the templates: every resource, role, queue and
// placeholder they name.
func (v *validator) provisioning() {
	for _, name := range slices.Sorted(maps.Keys(v.c.Provisioning.Templates)) {
		t := v.c.Provisioning.Templates[name]
		path := join("provisioning.templates", name)
		if !nameRE.MatchString(name) || len(name) > maxName {
			v.addf(path, "%q is not a valid template name (%s)", name, nameRule(name))
			continue
		}
		if len(t.Access)+len(t.Commands)+len(t.Devices)+len(t.Tickets) == 0 {
			v.addf(path, "empty template: list access, commands, devices or tickets")
		}
		for i, a := range t.Access {
			v.templateAccess(index(join(path, "access"), i), a)
		}
		cmds := seen{}
		for i, c := range t.Commands {
			p := index(join(path, "commands"), i)
			v.uniqueName(cmds, join(p, "name"), c.Name, "command")
			v.argv(join(p, "create"), c.Create)
			for j, arg := range c.Create {
				v.placeholders(index(join(p, "create"), j), arg)
			}
			if c.Remove != nil {
				v.argv(join(p, "remove"), c.Remove)
			}
			for j, arg := range c.Remove {
				v.placeholders(index(join(p, "remove"), j), arg)
			}
			v.notNegative(join(p, "timeout"), int(c.Timeout))
		}
		for i, d := range t.Devices {
			v.name(join(index(join(path, "devices"), i), "kind"), d.Kind)
		}
		for i, tk := range t.Tickets {
			p := index(join(path, "tickets"), i)
			switch s := strings.TrimSpace(tk.Summary); {
			case s == "":
				v.addf(join(p, "summary"), "required: what the helpdesk should do, e.g. \"Desk and badge for {{.Person}}\"")
			case len(s) > 200:
				v.addf(join(p, "summary"), "is %d characters long; at most 200", len(s))
			default:
				v.placeholders(join(p, "summary"), s)
			}
			if tk.Queue != "" {
				v.ref(join(p, "queue"), "queue", tk.Queue, v.known.queues, "tickets.queues")
			}
		}
	}
}

// templateAccess checks one access entry against its resource.
func (v *validator) templateAccess(path string, a TemplateAccess) {
	res, ok := v.c.Resource(a.Resource)
	if a.Resource == "" {
		v.addf(join(path, "resource"), "required: a resource under access.resources")
	} else if !ok {
		known := make([]string, len(v.c.Access.Resources))
		for i, r := range v.c.Access.Resources {
			known[i] = r.Name
		}
		v.addf(join(path, "resource"), "%s", unknown("resource", a.Resource, known, "access.resources"))
	}
	switch {
	case !ok:
	case len(res.Roles) == 0 && a.Role != "":
		v.addf(join(path, "role"), "%s has no roles; leave role out", res.Name)
	case len(res.Roles) > 0 && a.Role == "":
		v.addf(join(path, "role"), "required: one of %s's roles (%s)", res.Name, orList(res.Roles))
	case len(res.Roles) > 0 && !slices.Contains(res.Roles, a.Role):
		v.addf(join(path, "role"), "%s has no role %q%s (use %s)", res.Name, a.Role, didYouMean(a.Role, res.Roles), orList(res.Roles))
	}
	switch {
	case a.Permanent && a.Duration != 0:
		v.addf(path, "set duration or permanent: true, not both")
	case !a.Permanent && a.Duration <= 0:
		v.addf(join(path, "duration"), "required: how long the grant lasts, e.g. 8h, or permanent: true")
	case ok && !a.Permanent && res.MaxDuration > 0 && a.Duration > res.MaxDuration:
		v.addf(join(path, "duration"), "%s is longer than %s's max_duration %s", a.Duration, res.Name, res.MaxDuration)
	}
}
