// Command bench is opsbot's load program: it sends signed platform requests
// to a running opsbot and prints throughput and acknowledgement latency.
//
//	go run ./bench slack --url http://127.0.0.1:8080 --secret S --rate 200 --duration 20s --command /help
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench slack [flags]   (bench slack --help for the flags)")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "slack":
		os.Exit(slackBench(os.Args[2:], os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown target %q (want slack)\n", os.Args[1])
		os.Exit(2)
	}
}
