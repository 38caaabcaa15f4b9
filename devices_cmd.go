package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"opsbot/clock"
	"opsbot/handlers/devices"
	"opsbot/storage"
)

const devicesUsage = "devices import --config FILE FILE.csv"

// devicesCmd runs "opsbot devices import": it adds or updates devices from
// a CSV file, all rows or none.
func devicesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintf(stderr, "usage: opsbot %s\n", devicesUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("devices import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "opsbot.yaml", "config file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: opsbot %s\n\nThe CSV file has a header row with the columns name,address,kind,site,owner,tags,notes\n(and optionally profile); tags are separated by semicolons. Every row is checked\nfirst; if any is bad, nothing is imported.\n\nFlags:\n", devicesUsage)
		fs.PrintDefaults()
	}
	// The file may come before or after the flags.
	var files []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "opsbot devices import: name exactly one CSV file")
		fs.Usage()
		return exitUsage
	}
	file := files[0]
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitFail
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "opsbot devices import: %v\n", err)
		return exitFail
	}
	defer f.Close()
	store, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		fmt.Fprintf(stderr, "opsbot devices import: %v\n", err)
		return exitFail
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
		fmt.Fprintf(stderr, "opsbot devices import: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "imported %s: %d added, %d updated\n", file, res.Added, res.Updated)
	return exitOK
}
