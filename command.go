package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"opsbot/config"
	"opsbot/storage"
)

// Exit codes: 0 done, 1 failed, 2 bad usage.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand's flags, --config among them, and where it
// reports problems.
type command struct {
	name   string // as typed after opsbot, e.g. "outbox list"
	fs     *flag.FlagSet
	path   string // the --config file
	stderr io.Writer
}

// newCommand starts a subcommand's flags with --config; its help shows the
// synopsis, then the flags.
func newCommand(name, synopsis string, stderr io.Writer) *command {
	c := &command{name: name, fs: flag.NewFlagSet(name, flag.ContinueOnError), stderr: stderr}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: opsbot %s\n\nFlags:\n", synopsis)
		c.fs.PrintDefaults()
	}
	c.fs.StringVar(&c.path, "config", "opsbot.yaml", "config file")
	return c
}

// parse parses args, which hold flags only; ok is false when it printed help
// or an error, with the exit code to return.
func (c *command) parse(args []string) (code int, ok bool) {
	if err := c.fs.Parse(args); err != nil {
		return parseExit(err), false
	}
	if c.fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "opsbot %s: unexpected argument %q\n", c.name, c.fs.Arg(0))
		c.fs.Usage()
		return exitUsage, false
	}
	return exitOK, true
}

// parseArgs parses args in which the flags may come before or after the
// positional arguments, and returns those; ok is false as for parse.
func (c *command) parseArgs(args []string) (pos []string, code int, ok bool) {
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, parseExit(err), false
		}
		if c.fs.NArg() == 0 {
			return pos, exitOK, true
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
}

// parseExit is the exit code after the flag package printed help or an error.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// load parses args, which hold flags only, and loads the config; on failure
// it has printed why and returns nil and the exit code.
func (c *command) load(args []string) (*config.Config, int) {
	if code, ok := c.parse(args); !ok {
		return nil, code
	}
	cfg, ok := loadConfig(c.path, c.stderr)
	if !ok {
		return nil, exitFail
	}
	return cfg, exitOK
}

// openStore loads the config and opens (and migrates) its database; on
// failure it has printed why and returns a nil store and the exit code.
func (c *command) openStore(ctx context.Context) (*config.Config, *storage.Store, int) {
	cfg, ok := loadConfig(c.path, c.stderr)
	if !ok {
		return nil, nil, exitFail
	}
	store, err := storage.Open(ctx, cfg.Database)
	if err != nil {
		return nil, nil, c.fail(err)
	}
	return cfg, store, exitOK
}

// fail prints err under the command's name and returns the exit code for a
// failure.
func (c *command) fail(err error) int {
	fmt.Fprintf(c.stderr, "opsbot %s: %v\n", c.name, err)
	return exitFail
}

// loadConfig reads the config and prints every problem it has.
func loadConfig(path string, w io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(w, "opsbot: config %s:\n%v\n", path, err)
		return nil, false
	}
	return cfg, true
}
