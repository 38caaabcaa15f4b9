// Command bench is opsbot's load program: it sends signed platform requests
// to a running opsbot and prints throughput and acknowledgement latency.
//
//	go run ./bench slack --url http://127.0.0.1:8080 --secret S --rate 200 --duration 20s --command /help
//	go run ./bench load [--db sqlite|postgres] [--duration 8s] [--rate 0] [--command '/ticket new "VPN drops"']
//
// load builds opsbot, starts opsbot serve (Slack and Discord on, a fresh
// signing secret and Ed25519 key pair; or loads the one --url names), and
// sends signed Slack slash commands and signed Discord interactions built
// the way Discord builds them from the commands opsbot registers (the
// subcommand as an option of type 1 holding its typed options). Then it
// stops opsbot and sends the same requests to a baseline: a bare net/http
// server that only verifies signatures, run as a separate process (this
// program re-executed as the hidden "baseline-serve" target) so that it
// shares the machine with the load generator as opsbot does and its CPU and
// peak RSS are measured the same way. It prints each run's requests/s,
// latency, errors (non-2xx answers and error replies) and the server's CPU
// and peak RSS, then a summary of opsbot against the baseline.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench slack|load [flags]   (bench load --help for the flags)")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "slack":
		os.Exit(slackBench(os.Args[2:], os.Stdout, os.Stderr))
	case "load":
		os.Exit(loadBench(os.Args[2:], os.Stdout, os.Stderr))
	case "baseline-serve":
		// Started by load, not listed in the usage.
		os.Exit(baselineServe(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown target %q (want slack or load)\n", os.Args[1])
		os.Exit(2)
	}
}
