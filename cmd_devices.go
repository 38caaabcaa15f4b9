package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"opsbot/clock"
	"opsbot/handlers/devices"
	"opsbot/storage"
)

const devicesUsage = "devices import --config FILE FILE.csv"

// devicesHelp follows the synopsis in --help.
const devicesHelp = `

The CSV file has a header row with the columns name,address,kind,site,owner,tags,notes
(and optionally profile); tags are separated by semicolons. Every row is checked
first; if any is bad, nothing is imported.`

// devicesCmd runs "opsbot devices import": it adds or updates devices from
// a CSV file, all rows or none.
func devicesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintf(stderr, "usage: opsbot %s\n", devicesUsage)
		return exitUsage
	}
	cmd := newCommand("devices import", devicesUsage+devicesHelp, stderr)
	// The file may come before or after the flags.
	files, code, ok := cmd.parseArgs(args[1:])
	if !ok {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "opsbot devices import: name exactly one CSV file")
		cmd.fs.Usage()
		return exitUsage
	}
	file := files[0]
	cfg, ok := loadConfig(cmd.path, stderr)
	if !ok {
		return exitFail
	}
	f, err := os.Open(file)
	if err != nil {
		return cmd.fail(err)
	}
	defer f.Close()
	store, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		return cmd.fail(err)
	}
	defer store.Close()
	actor := "cli"
	if u := os.Getenv("USER"); u != "" {
		actor = "cli:" + u
	}
	res, err := devices.Import(ctx, store, cfg, f, actor, clock.Real{}.Now())
	var ie *devices.ImportError
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "opsbot devices import: %s: %v\n", file, ie)
		return exitFail
	}
	if err != nil {
		return cmd.fail(err)
	}
	fmt.Fprintf(stdout, "imported %s: %d added, %d updated, %d assigned\n", file, res.Added, res.Updated, res.Assigned)
	return exitOK
}
