package config

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// teams checks teams: each team's channel, rotation and escalation.
func (v *validator) teams() {
	for _, name := range slices.Sorted(maps.Keys(v.c.Teams)) {
		t := v.c.Teams[name]
		path := join("teams", name)
		if !nameRE.MatchString(name) || len(name) > maxName {
			v.addf(path, "%q is not a valid team name (%s)", name, nameRule(name))
			continue
		}
		v.channelRef(join(path, "channel"), t.Channel)
		if t.Rotation != nil {
			v.rotation(join(path, "rotation"), name, *t.Rotation)
		}
		prev := Duration(0)
		for i, s := range t.Escalation {
			p := index(join(path, "escalation"), i)
			v.positive(join(p, "after"), s.After, "15m")
			if i > 0 && s.After > 0 && s.After <= prev {
				v.addf(join(p, "after"), "must be later than the step before (%s): after counts from the incident's opening", prev)
			}
			prev = max(prev, s.After)
			v.targets(join(p, "to"), s.To)
		}
	}
}

// rotation checks a team's rotation: when it hands off, and that every
// layer orders known members of the team.
func (v *validator) rotation(path, team string, r Rotation) {
	v.oneOf(join(path, "handoff"), r.Handoff, HandoffWeekly, HandoffDaily)
	if r.Handoff == HandoffWeekly && !slices.Contains(Weekdays, r.Day) {
		v.addf(join(path, "day"), "unknown day %q (use %s)", r.Day, orList(Weekdays))
	}
	if _, ok := clock(r.At); !ok {
		v.addf(join(path, "at"), "want a time of day as HH:MM such as 09:00, got %q", r.At)
	}
	v.timezone(join(path, "timezone"), r.Timezone, true)
	if _, err := time.Parse(time.DateOnly, r.Start); err != nil {
		v.addf(join(path, "start"), "want a date as YYYY-MM-DD such as 2026-01-05, got %q", r.Start)
	}
	if len(r.Layers) == 0 {
		v.addf(join(path, "layers"), "required: nobody would be on call; add layers such as [{name: primary, members: [alice, bob]}]")
	}
	layers := seen{}
	for i, l := range r.Layers {
		lp := index(join(path, "layers"), i)
		v.uniqueName(layers, join(lp, "name"), l.Name, "layer")
		if len(l.Members) == 0 {
			v.addf(join(lp, "members"), "empty layer: nobody would be on call; list people of team %s in the order they take turns", team)
		}
		members := seen{}
		for j, m := range l.Members {
			mp := index(join(lp, "members"), j)
			if !v.personRef(mp, m) || !v.unique(members, mp, m, "member") {
				continue
			}
			p := v.c.People[v.known.people.first[m]]
			if !slices.Contains(p.Teams, team) {
				v.addf(mp, "%s is not in team %s (add %s to %s.teams)", m, team, team, index("people", v.known.people.first[m]))
			}
		}
	}
}

// targets checks the targets of an escalation step: person names,
// channel:NAME and oncall:TEAM:LAYER.
func (v *validator) targets(path string, to []string) {
	if len(to) == 0 {
		v.addf(path, "required: person names, channel:NAME or oncall:TEAM:LAYER")
	}
	for i, t := range to {
		p := index(path, i)
		if name, ok := strings.CutPrefix(t, "channel:"); ok {
			if name == "" {
				v.addf(p, "want channel:NAME with NAME from channels")
				continue
			}
			v.channelRef(p, name)
			continue
		}
		if rest, ok := strings.CutPrefix(t, "oncall:"); ok {
			v.oncallRef(p, rest)
			continue
		}
		v.personRef(p, t)
	}
}

// oncallRef checks TEAM:LAYER of an oncall: target.
func (v *validator) oncallRef(path, ref string) {
	team, layer, ok := strings.Cut(ref, ":")
	if !ok || team == "" || layer == "" {
		v.addf(path, "want oncall:TEAM:LAYER such as oncall:it:primary, got %q", "oncall:"+ref)
		return
	}
	t, ok := v.c.Teams[team]
	if !ok {
		v.addf(path, "unknown team %q%s (define it under teams)", team, didYouMean(team, slices.Sorted(maps.Keys(v.c.Teams))))
		return
	}
	if t.Rotation == nil {
		v.addf(path, "team %s has no rotation: nobody is on call (set teams.%s.rotation)", team, team)
		return
	}
	if _, ok := t.Rotation.Layer(layer); !ok && len(t.Rotation.Layers) > 0 {
		var names []string
		for _, l := range t.Rotation.Layers {
			names = append(names, l.Name)
		}
		v.addf(path, "team %s has no layer %q%s (its layers: %s)", team, layer, didYouMean(layer, names), strings.Join(names, ", "))
	}
}
