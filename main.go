// Command opsbot is a chat-ops bot for IT operations: helpdesk tickets,
// access requests, device lookups, backup runs and scheduled checks, in Slack,
// Discord or a local shell.
//
// main.go only dispatches: each subcommand lives in its own cmd_<name>.go,
// and what serve, shell and discord register share is built in core.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	_ "time/tzdata" // cron and business-hours time zones work without system zone files
)

func main() {
	stop := profileCPU(os.Getenv("OPSBOT_CPUPROFILE"), os.Stderr)
	code := dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// profileCPU writes a CPU profile of the whole run to path ("%p" in it
// becomes the process id) when path is set: the load programs profile the
// opsbot they start with OPSBOT_CPUPROFILE. It returns what stops it.
func profileCPU(path string, stderr io.Writer) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid())))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(stderr, "opsbot: OPSBOT_CPUPROFILE:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

const usageText = `opsbot — chat-ops for IT operations

Usage:
  opsbot serve    --config FILE                  run everything the config enables
  opsbot shell    --config FILE --user NAME      run commands from standard input as NAME
  opsbot migrate  --config FILE                  apply pending database migrations
  opsbot config check --config FILE [--online]   list every problem in a config file
  opsbot status   --config FILE                  list the replicas seen and which one leads
  opsbot outbox   list|retry|drop --config FILE  inspect and steer queued notifications
  opsbot devices  import --config FILE F.csv     add or update devices from a CSV file
  opsbot discord  register --config FILE [--guild ID]
                                                 publish the slash commands to Discord
  opsbot version                                 print the version

Run "opsbot COMMAND --help" for a command's flags.
`

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stderr)
	case "shell":
		return shellCmd(ctx, args[1:], stdin, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr)
	case "devices":
		return devicesCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "usage: opsbot config check --config FILE")
			return exitUsage
		}
		return configCheckCmd(args[2:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "outbox":
		return outboxCmd(ctx, args[1:], stdout, stderr)
	case "discord":
		if len(args) < 2 || args[1] != "register" {
			fmt.Fprintln(stderr, "usage: opsbot discord register --config FILE [--guild ID]")
			return exitUsage
		}
		return discordRegisterCmd(ctx, args[2:], stdout, stderr)
	case "version", "--version":
		return versionCmd(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "opsbot: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
}
