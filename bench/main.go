// Command bench is opsbot's load program: it sends signed platform requests
// to a running opsbot and prints throughput and acknowledgement latency.
//
//	go run ./bench slack --url http://127.0.0.1:8080 --secret S --rate 200 --duration 20s --command /help
//	go run ./bench load [--db sqlite|postgres] [--duration 8s] [--rate 0]
//
// load starts its own opsbot serve (Slack and Discord on, a fresh signing
// secret and Ed25519 key pair), loads both endpoints, then the same requests
// against a bare signature-checking net/http server, and prints the ratio.
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
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown target %q (want slack or load)\n", os.Args[1])
		os.Exit(2)
	}
}
