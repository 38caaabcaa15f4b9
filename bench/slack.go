package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	slackbot "opsbot/bot/slack"
)

// result is one request's outcome.
type result struct {
	latency time.Duration
	status  int
	err     error
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
	name, text, _ := strings.Cut(*command, " ")
	endpoint := strings.TrimSuffix(*base, "/") + "/slack/commands"
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency * 2, MaxIdleConnsPerHost: *concurrency * 2}}
	send := func() result {
		var id [8]byte
		_, _ = rand.Read(id[:])
		body := url.Values{"user_id": {*user}, "channel_id": {"C0BENCH"}, "command": {name}, "text": {text},
			"trigger_id": {hex.EncodeToString(id[:])}, "response_url": {""}}.Encode()
		req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		if err != nil {
			return result{err: err}
		}
		for k, v := range slackbot.SignatureHeaders(*secret, time.Now(), []byte(body)) {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return result{latency: time.Since(start), err: err}
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return result{latency: time.Since(start), status: resp.StatusCode}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var mu sync.Mutex
	var results []result
	record := func(r result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	start := time.Now()
	if *rate <= 0 {
		for range *concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					record(send())
				}
			})
		}
	} else {
		slots := make(chan struct{}, *concurrency*16)
		interval := time.Second / time.Duration(*rate)
		next := time.Now()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-time.After(time.Until(next)):
			}
			next = next.Add(interval)
			select {
			case slots <- struct{}{}:
			default:
				record(result{err: fmt.Errorf("client saturated: more than %d requests in flight", cap(slots))})
				continue
			}
			wg.Go(func() {
				defer func() { <-slots }()
				record(send())
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	_ = report(stdout, *command, *rate, elapsed, results)
	return 0
}

// report prints one run's figures and returns its successful requests per
// second.
func report(w io.Writer, command string, rate int, elapsed time.Duration, results []result) float64 {
	var lat []time.Duration
	errs := map[string]int{}
	for _, r := range results {
		switch {
		case r.err != nil:
			errs[r.err.Error()]++
		case r.status != http.StatusOK:
			errs[fmt.Sprintf("HTTP %d", r.status)]++
		default:
			lat = append(lat, r.latency)
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
	fmt.Fprintf(w, "command %q, target rate %s, %s\n", command, target, elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests: %d ok, %d errors, %.0f ok/s\n", len(lat), len(results)-len(lat), float64(len(lat))/elapsed.Seconds())
	fmt.Fprintf(w, "ack latency: p50 %s  p99 %s  max %s\n", pct(0.50).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	for e, n := range errs {
		fmt.Fprintf(w, "error: %d × %s\n", n, e)
	}
	return float64(len(lat)) / elapsed.Seconds()
}
