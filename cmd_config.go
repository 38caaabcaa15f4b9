package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
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
	fmt.Fprintln(stdout, "config OK")
	return exitOK
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
