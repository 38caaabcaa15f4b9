// Package roster answers who is on call for the areas that need it (the
// /oncall command, incident paging): each team's rotation from the config,
// the overrides stored in the database, and who is active.
package roster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/oncall"
	"opsbot/storage"
)

// Roster holds every team's parsed rotation.
type Roster struct {
	cfg   *config.Config
	rots  map[string]*oncall.Rotation
	teams []string
	// Active says whether a person may be on call; nil means everyone.
	// Offboarding (stored state) plugs in here: inactive people drop out of
	// every rotation and override.
	Active oncall.Active
}

// New parses the rotations of cfg's teams.
func New(cfg *config.Config) (*Roster, error) {
	r := &Roster{cfg: cfg, rots: map[string]*oncall.Rotation{}}
	for _, name := range slices.Sorted(maps.Keys(cfg.Teams)) {
		t := cfg.Teams[name]
		if t.Rotation == nil {
			continue
		}
		rot, err := oncall.New(*t.Rotation)
		if err != nil {
			return nil, fmt.Errorf("team %s: %w", name, err)
		}
		r.rots[name] = rot
		r.teams = append(r.teams, name)
	}
	return r, nil
}

// Teams names the teams that have a rotation, sorted.
func (r *Roster) Teams() []string { return r.teams }

// Rotation returns a team's rotation.
func (r *Roster) Rotation(team string) (*oncall.Rotation, bool) {
	rot, ok := r.rots[team]
	return rot, ok
}

// Overrides returns a team's accepted overrides that overlap from to to.
func Overrides(ctx context.Context, db *gorm.DB, team string, from, to time.Time) ([]oncall.Override, error) {
	rows, err := storage.ListOverrides(ctx, db, team, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]oncall.Override, len(rows))
	for i, o := range rows {
		out[i] = oncall.Override{Layer: o.Layer, Person: o.Person, From: o.From, To: o.To}
	}
	return out, nil
}

// Now returns who holds each of a team's layers at t, in layer order (the
// first is the primary).
func (r *Roster) Now(ctx context.Context, db *gorm.DB, team string, t time.Time) ([]oncall.Shift, error) {
	rot, ok := r.rots[team]
	if !ok {
		return nil, fmt.Errorf("team %s has no rotation", team)
	}
	ovs, err := Overrides(ctx, db, team, t, t.Add(time.Nanosecond))
	if err != nil {
		return nil, err
	}
	var out []oncall.Shift
	for _, l := range rot.Layers() {
		out = append(out, rot.At(l, t, ovs, r.Active))
	}
	return out, nil
}

// Layer returns who holds one layer of a team at t; Person is "" for a gap.
func (r *Roster) Layer(ctx context.Context, db *gorm.DB, team, layer string, t time.Time) (oncall.Shift, error) {
	shifts, err := r.Now(ctx, db, team, t)
	if err != nil {
		return oncall.Shift{}, err
	}
	for _, s := range shifts {
		if s.Layer == layer {
			return s, nil
		}
	}
	return oncall.Shift{Layer: layer}, nil
}

// Ref splits an escalation target oncall:TEAM:LAYER into its team and
// layer, and reports whether it is one.
func Ref(target string) (team, layer string, ok bool) {
	rest, ok := strings.CutPrefix(target, "oncall:")
	if !ok {
		return "", "", false
	}
	team, layer, ok = strings.Cut(rest, ":")
	return team, layer, ok
}

// Member reports whether the person belongs to the team (people[].teams).
func (r *Roster) Member(person, team string) bool {
	p, ok := r.cfg.Person(person)
	return ok && slices.Contains(p.Teams, team)
}
