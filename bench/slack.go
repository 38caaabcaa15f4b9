package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"
)

// result is one request's outcome.
type result struct {
	latency time.Duration
	status  int
	err     error
	// reply is the headline of a 2xx answer; failed marks an error reply
	// (a usage line, a refusal, an internal error).
	reply  string
	failed bool
}

// stats are one run's headline figures.
type stats struct {
	okPerSec float64
	p99      time.Duration
	ok       int
}

// slackBench sends signed slash commands at a fixed rate (open loop: a slow
// answer does not slow the sender) or, with --rate 0, as fast as
// --concurrency workers can, and prints requests/s and latency.
func slackBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench slack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "opsbot base URL")
	secret := fs.String("secret", "", "Slack signing secret configured in opsbot (required)")
	rate := fs.Int("rate", 200, "requests per second; 0 sends as fast as --concurrency allows")
	duration := fs.Duration("duration", 20*time.Second, "how long to send")
	command := fs.String("command", "/help", "command line to send, e.g. '/ticket new \"VPN drops\"'")
	concurrency := fs.Int("concurrency", 64, "workers for --rate 0; in-flight limit otherwise")
	user := fs.String("user", "U0BENCH", "Slack user id to send as")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "bench slack: --secret is required (the signing_secret opsbot is configured with)")
		return 2
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency * 2, MaxIdleConnsPerHost: *concurrency * 2}}
	results, elapsed := drive(*duration, *rate, *concurrency, func() result {
		return sendSlack(client, *base, *secret, *user, *command)
	})
	_ = report(stdout, *command, *rate, elapsed, results)
	return 0
}

// report prints one run's figures and returns them. A request counts as an
// error when it failed, was answered with a status other than 2xx, or was
// answered with an error reply; only the others count towards the rate and
// the latencies.
func report(w io.Writer, command string, rate int, elapsed time.Duration, results []result) stats {
	var lat []time.Duration
	errs := map[string]int{}
	sample := ""
	for _, r := range results {
		switch {
		case r.err != nil:
			errs[r.err.Error()]++
		case r.status/100 != 2:
			errs[fmt.Sprintf("HTTP %d", r.status)]++
		case r.failed:
			errs["error reply: "+r.reply]++
		default:
			lat = append(lat, r.latency)
			if sample == "" {
				sample = r.reply
			}
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	target := "max"
	if rate > 0 {
		target = fmt.Sprintf("%d/s", rate)
	}
	st := stats{okPerSec: float64(len(lat)) / elapsed.Seconds(), p99: pct(0.99), ok: len(lat)}
	fmt.Fprintf(w, "command %q, target rate %s, %s\n", command, target, elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests: %d ok, %d errors, %.0f ok/s\n", len(lat), len(results)-len(lat), st.okPerSec)
	fmt.Fprintf(w, "ack latency: p50 %s  p99 %s  max %s\n", pct(0.50).Round(10*time.Microsecond),
		st.p99.Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	if sample != "" {
		fmt.Fprintf(w, "reply: %s\n", sample)
	}
	// The most frequent errors first; a few kinds say enough.
	kinds := slices.SortedFunc(maps.Keys(errs), func(a, b string) int {
		return cmp.Or(cmp.Compare(errs[b], errs[a]), cmp.Compare(a, b))
	})
	for i, e := range kinds {
		if i == 5 {
			fmt.Fprintf(w, "error: %d more kinds\n", len(kinds)-i)
			break
		}
		fmt.Fprintf(w, "error: %d × %s\n", errs[e], e)
	}
	return st
}

// summary prints opsbot's runs beside the baseline's.
func summary(w io.Writer, command string, rate int, d time.Duration, ops, base [2]stats) {
	target := "as fast as possible"
	if rate > 0 {
		target = fmt.Sprintf("%d/s", rate)
	}
	fmt.Fprintf(w, "\n== summary: %q, %s, %s a run\n", command, target, d)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\topsbot ok/s\topsbot p99\tbaseline ok/s\tbaseline p99\topsbot/baseline throughput")
	for i, platform := range []string{"slack", "discord"} {
		ratio := "n/a"
		if base[i].okPerSec > 0 {
			ratio = fmt.Sprintf("%.2f", ops[i].okPerSec/base[i].okPerSec)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%s\t%s\n", platform, ops[i].okPerSec, ops[i].p99.Round(10*time.Microsecond),
			base[i].okPerSec, base[i].p99.Round(10*time.Microsecond), ratio)
	}
	_ = tw.Flush()
}
