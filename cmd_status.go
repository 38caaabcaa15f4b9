package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"opsbot/bot"
)

// statusCmd lists the replicas seen recently and which one leads.
func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("status", "status --config FILE", stderr)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	cfg, store, code := cmd.openStore(ctx)
	if store == nil {
		return code
	}
	defer store.Close()
	now := time.Now().UTC()
	// A replica that has not reported for a few intervals is gone.
	reps, err := store.Replicas(ctx, now.Add(-5*time.Duration(cfg.Leader.Interval)-10*time.Second))
	if err != nil {
		return cmd.fail(err)
	}
	if len(reps) == 0 {
		fmt.Fprintln(stdout, "no replica is running")
		return exitOK
	}
	fmt.Fprintf(stdout, "%-40s %-7s %-8s %-10s %s\n", "REPLICA", "LEADER", "VERSION", "UP", "LAST SEEN")
	for _, r := range reps {
		fmt.Fprintf(stdout, "%-40s %-7s %-8s %-10s %s ago\n", r.ID, map[bool]string{true: "yes", false: "no"}[r.Leader],
			r.Version, bot.FormatDuration(now.Sub(r.StartedAt)), bot.FormatDuration(now.Sub(r.SeenAt)))
	}
	return exitOK
}
