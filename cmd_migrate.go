package main

import (
	"context"
	"fmt"
	"io"

	"opsbot/storage"
)

// migrateCmd applies the pending database migrations and lists them.
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("migrate", "migrate --config FILE", stderr)
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	// Connect, not Open: Open would apply the migrations before they are listed.
	store, err := storage.Connect(ctx, cfg.Database)
	if err != nil {
		return cmd.fail(err)
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return cmd.fail(err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
		return exitOK
	}
	for _, id := range applied {
		fmt.Fprintf(stdout, "applied %s\n", id)
	}
	return exitOK
}
