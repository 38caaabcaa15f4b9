package report

import (
	"maps"
	"slices"

	"opsbot/config"
)

// Scope is what a digest counts: every configured check, queue, resource
// and backup job, or a team's own (those whose team: names it). A team's
// tickets are those of its queues; its access requests those for its
// resources.
type Scope struct {
	// Team is empty for everything.
	Team      string
	Checks    []string
	Queues    []string
	Resources []string
	Jobs      []config.BackupJob
	// all is true when the digest counts every queue and resource,
	// including tickets without a queue.
	all bool
}

// Teams lists the configured teams: those under teams: and those people
// belong to, sorted.
func Teams(cfg *config.Config) []string {
	set := map[string]bool{}
	for t := range cfg.Teams {
		set[t] = true
	}
	for _, p := range cfg.People {
		for _, t := range p.Teams {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// ScopeOf is the scope of team, or of everything when team is empty.
func ScopeOf(cfg *config.Config, team string) Scope {
	s := Scope{Team: team, all: team == ""}
	for _, c := range cfg.Checks {
		if s.all || c.Team == team {
			s.Checks = append(s.Checks, c.Name)
		}
	}
	for _, q := range cfg.Tickets.Queues {
		if s.all || q.Team == team {
			s.Queues = append(s.Queues, q.Name)
		}
	}
	for _, r := range cfg.Access.Resources {
		if s.all || r.Team == team {
			s.Resources = append(s.Resources, r.Name)
		}
	}
	for _, j := range cfg.Backups.Jobs {
		if s.all || j.Team == team {
			s.Jobs = append(s.Jobs, j)
		}
	}
	return s
}
