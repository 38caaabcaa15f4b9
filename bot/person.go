package bot

import (
	"slices"
	"strconv"
	"strings"

	"opsbot/config"
)

// Person is someone who talks to opsbot. People listed in the configuration
// carry roles and teams; anyone else is an ordinary employee, known only by a
// platform id, who may file tickets and access requests.
type Person struct {
	Name      string
	SlackID   string
	DiscordID string
	Email     string
	Roles     []string
	// Known is true for people listed in the configuration.
	Known bool
}

// HasRole reports whether the person holds the role. The admin role holds
// every role.
func (p Person) HasRole(role string) bool {
	return slices.Contains(p.Roles, role) || slices.Contains(p.Roles, "admin")
}

// Mention is how replies name the person: @name.
func (p Person) Mention() string { return "@" + p.Name }

// Directory finds people by name or by platform id.
type Directory struct {
	byName    map[string]Person
	bySlack   map[string]Person
	byDiscord map[string]Person
}

// NewDirectory indexes the configured people.
func NewDirectory(people []config.Person) *Directory {
	d := &Directory{byName: map[string]Person{}, bySlack: map[string]Person{}, byDiscord: map[string]Person{}}
	for _, e := range people {
		p := Person{Name: e.Name, SlackID: e.SlackID, DiscordID: e.DiscordID, Email: e.Email,
			Roles: slices.Clone(e.Roles), Known: true}
		d.byName[strings.ToLower(p.Name)] = p
		if p.SlackID != "" {
			d.bySlack[p.SlackID] = p
		}
		if p.DiscordID != "" {
			d.byDiscord[p.DiscordID] = p
		}
	}
	return d
}

// ByName finds a person by configured name, or by the name an unknown
// platform user is stored under ("slack:U123", "discord:123").
func (d *Directory) ByName(name string) (Person, bool) {
	name = strings.TrimPrefix(name, "@")
	if p, ok := d.byName[strings.ToLower(name)]; ok {
		return p, true
	}
	if id, ok := strings.CutPrefix(name, "slack:"); ok && validSlackID(id) {
		return d.BySlack(id), true
	}
	if id, ok := strings.CutPrefix(name, "discord:"); ok && validSnowflake(id) {
		return d.ByDiscord(id), true
	}
	return Person{}, false
}

// BySlack returns the person with the Slack user id; someone not configured
// is an employee named "slack:ID".
func (d *Directory) BySlack(id string) Person {
	if p, ok := d.bySlack[id]; ok {
		return p
	}
	return Person{Name: "slack:" + id, SlackID: id}
}

// ByDiscord returns the person with the Discord user id; someone not
// configured is an employee named "discord:ID".
func (d *Directory) ByDiscord(id string) Person {
	if p, ok := d.byDiscord[id]; ok {
		return p
	}
	return Person{Name: "discord:" + id, DiscordID: id}
}

// Names lists the configured people's names, for suggestions.
func (d *Directory) Names() []string {
	names := make([]string, 0, len(d.byName))
	for _, p := range d.byName {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// WithRole lists the configured people who hold the role.
func (d *Directory) WithRole(role string) []Person {
	var out []Person
	for _, n := range d.Names() {
		if p := d.byName[strings.ToLower(n)]; p.HasRole(role) {
			out = append(out, p)
		}
	}
	return out
}

// validSlackID reports whether id can be a Slack user ID: upper-case
// letters and digits, starting with a letter (U…, W…).
func validSlackID(id string) bool {
	if len(id) < 2 || len(id) > 32 || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validSnowflake reports whether id can be a Discord ID: digits that fit
// in 64 bits, as Discord's IDs do.
func validSnowflake(id string) bool {
	if len(id) == 0 || len(id) > 20 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(id, 10, 64)
	return err == nil
}
