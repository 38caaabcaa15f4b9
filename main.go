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
	"syscall"
	_ "time/tzdata" // cron and business-hours time zones work without system zone files
)

func main() { os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

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
