package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	slackbot "opsbot/bot/slack"
	"opsbot/config"
	"opsbot/storage"
)

// configCheckCmd lists every problem in a config file, or says it is OK.
func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("config check", "config check --config FILE [--online]", stderr)
	online := cmd.fs.Bool("online", false, "also connect to PostgreSQL, and ask Slack whether opsbot can look its messages up in each channel")
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	// The problems are this command's output.
	cfg, ok := loadConfig(cmd.path, stdout)
	if !ok {
		return exitFail
	}
	// Open the database the way serve would, without migrating it: a DSN
	// that does not parse or a directory SQLite cannot write in fails here,
	// not at the next start.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := storage.Check(ctx, cfg.Database, *online); err != nil {
		fmt.Fprintf(stdout, "database: %v\n", err)
		return exitFail
	}
	if *online && !slackChannelsOK(cfg, stdout) {
		return exitFail
	}
	warnInactiveWithRoles(cfg, *online, stdout)
	fmt.Fprintln(stdout, "config OK")
	return exitOK
}

// warnInactiveWithRoles prints a warning for each person whom offboarding
// marked inactive in the database but who still has roles in the config
// (the roles no longer count; they only mislead a reader). When the
// database cannot be read, it says the check was skipped; a SQLite file
// that does not exist yet has nobody offboarded and is not created, and
// PostgreSQL is only asked with --online, as for the connection check.
func warnInactiveWithRoles(cfg *config.Config, online bool, stdout io.Writer) {
	withRoles := map[string]int{}
	for i, p := range cfg.People {
		if len(p.Roles) > 0 {
			withRoles[p.Name] = i
		}
	}
	if len(withRoles) == 0 {
		return
	}
	switch cfg.Database.Driver {
	case "sqlite":
		path, _, _ := strings.Cut(strings.TrimPrefix(cfg.Database.DSN, "file:"), "?")
		if _, err := os.Stat(path); err != nil {
			return
		}
	case "postgres":
		if !online {
			fmt.Fprintln(stdout, "note: skipped the check for offboarded people who still have roles: reading PostgreSQL needs --online")
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := inactivePeople(ctx, cfg.Database)
	if err != nil {
		fmt.Fprintf(stdout, "note: skipped the check for offboarded people who still have roles: cannot read the database (%v)\n", err)
		return
	}
	for _, n := range names {
		if i, ok := withRoles[n]; ok {
			fmt.Fprintf(stdout, "warning: people[%d].roles: %s was offboarded (inactive in the database), so the roles %s do not count; remove them\n",
				i, n, strings.Join(cfg.People[i].Roles, ", "))
		}
	}
}

// inactivePeople reads who is marked inactive, without migrating.
func inactivePeople(ctx context.Context, db config.DatabaseConfig) ([]string, error) {
	s, err := storage.Connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return storage.InactivePeople(ctx, s.DB)
}

// slackChannelsOK prints each configured Slack channel that opsbot cannot
// look its messages up in (it is not a member, or a scope is missing) and
// reports whether there was none.
func slackChannelsOK(cfg *config.Config, stdout io.Writer) bool {
	if !cfg.Slack.Enabled {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := slackbot.NewSender(cfg.Slack, slog.New(slog.DiscardHandler))
	ok := true
	for _, name := range slices.Sorted(maps.Keys(cfg.Channels)) {
		id := cfg.Channels[name].Slack
		if id == "" {
			continue
		}
		if err := s.CheckChannel(ctx, "#"+name, id); err != nil {
			fmt.Fprintf(stdout, "channels.%s: slack %s: %v\n", name, id, err)
			ok = false
		}
	}
	return ok
}
