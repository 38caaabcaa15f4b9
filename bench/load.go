package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/config"
)

// loadBench runs the whole comparison: signed Slack slash commands and
// signed Discord interactions against an opsbot serve (started here with a
// fresh key pair unless --url names one), then the same requests against a
// bare net/http server that only verifies signatures; it prints throughput,
// latency, the server's CPU and peak RSS, and opsbot's share of the
// baseline's throughput.
func loadBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "a running opsbot to load (needs --secret and --discord-key); empty starts one")
	secret := fs.String("secret", "", "Slack signing secret of the opsbot at --url")
	dkey := fs.String("discord-key", "", "hex Ed25519 private key (seed) whose public key the opsbot at --url trusts")
	pid := fs.Int("pid", 0, "process id of the opsbot at --url, for CPU and RSS")
	db := fs.String("db", "sqlite", "database for a started opsbot: sqlite or postgres")
	dsn := fs.String("dsn", os.Getenv("OPSBOT_TEST_POSTGRES"), "PostgreSQL DSN for --db postgres")
	rate := fs.Int("rate", 0, "requests per second; 0 sends as fast as --concurrency allows")
	duration := fs.Duration("duration", 8*time.Second, "how long each of the four runs sends")
	concurrency := fs.Int("concurrency", 32, "workers (or in-flight limit with --rate)")
	command := fs.String("command", "/help", "command line to send")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var priv ed25519.PrivateKey
	base, srvPID := *target, *pid
	if base == "" {
		*secret = randomHex(16)
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
		addr, p, stop, err := startOpsbot(*db, *dsn, *secret, hex.EncodeToString(priv.Public().(ed25519.PublicKey)), stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bench load: %v\n", err)
			return 1
		}
		defer stop()
		base, srvPID = "http://"+addr, p
	} else {
		seed, err := hex.DecodeString(*dkey)
		if *secret == "" || err != nil || len(seed) != ed25519.SeedSize {
			fmt.Fprintln(stderr, "bench load: with --url, give --secret and --discord-key (64 hex digits)")
			return 2
		}
		priv = ed25519.NewKeyFromSeed(seed)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency * 2, MaxIdleConnsPerHost: *concurrency * 2}}
	fmt.Fprintf(stdout, "machine: %d cores (%s/%s), %s, %s; database %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"), *db)

	run := func(name, base string, pid int) float64 {
		cpu0, _ := cpuSeconds(pid)
		var res []result
		var elapsed time.Duration
		switch {
		case strings.HasSuffix(name, "slack"):
			res, elapsed = drive(*duration, *rate, *concurrency, func() result { return sendSlack(client, base, *secret, *command) })
		default:
			res, elapsed = drive(*duration, *rate, *concurrency, func() result { return sendDiscord(client, base, priv, *command) })
		}
		fmt.Fprintf(stdout, "\n== %s\n", name)
		ok := report(stdout, *command, *rate, elapsed, res)
		if pid > 0 {
			cpu1, err := cpuSeconds(pid)
			hwm, err2 := peakRSS(pid)
			if err == nil && err2 == nil {
				fmt.Fprintf(stdout, "server: %.2f CPU seconds (%.0f%% of one core), peak RSS %s\n", cpu1-cpu0,
					100*(cpu1-cpu0)/elapsed.Seconds(), hwm)
			}
		}
		return ok
	}
	slackOps := run("opsbot slack", base, srvPID)
	discordOps := run("opsbot discord", base, srvPID)

	bl, err := startBaseline(*secret, hex.EncodeToString(priv.Public().(ed25519.PublicKey)))
	if err != nil {
		fmt.Fprintf(stderr, "bench load: baseline: %v\n", err)
		return 1
	}
	defer bl.Close()
	slackBase := run("baseline slack (bare net/http, signature check only, in the bench process)", "http://"+bl.Addr().String(), 0)
	discordBase := run("baseline discord (bare net/http, signature check only, in the bench process)", "http://"+bl.Addr().String(), 0)
	fmt.Fprintln(stdout)
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	fmt.Fprintf(stdout, "opsbot/baseline throughput: slack %s, discord %s\n", ratio(slackOps, slackBase), ratio(discordOps, discordBase))
	return 0
}

// drive sends for d at rate per second (open loop) or, with rate 0, as fast
// as conc workers can, and returns every result and the time taken.
func drive(d time.Duration, rate, conc int, send func() result) ([]result, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
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
	if rate <= 0 {
		for range conc {
			wg.Go(func() {
				for ctx.Err() == nil {
					record(send())
				}
			})
		}
	} else {
		slots := make(chan struct{}, conc*16)
		interval := time.Second / time.Duration(rate)
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
	return results, time.Since(start)
}

func sendSlack(client *http.Client, base, secret, command string) result {
	name, text, _ := strings.Cut(command, " ")
	body := url.Values{"user_id": {"U0BENCH"}, "channel_id": {"C0BENCH"}, "command": {name}, "text": {text},
		"trigger_id": {randomHex(8)}}.Encode()
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	for k, v := range slackbot.SignatureHeaders(secret, time.Now(), []byte(body)) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return timed(client, req)
}

// sendDiscord sends a slash command interaction: the command's name, with
// the rest of the line (if any) in one "text" option, which commands that
// take free text accept.
func sendDiscord(client *http.Client, base string, key ed25519.PrivateKey, command string) result {
	name, _, _ := strings.Cut(strings.TrimPrefix(command, "/"), " ")
	id := strconv.FormatUint(uint64(time.Now().UnixNano())>>1|1<<60, 10) + randomDigits(2)
	body, _ := json.Marshal(map[string]any{"id": id, "application_id": "300000000000000001", "type": 2, "token": "bench",
		"version": 1, "channel_id": "200000000000000009",
		"member": map[string]any{"user": map[string]any{"id": "100000000000000099", "username": "bench"}},
		"data":   map[string]any{"id": "500000000000000001", "name": name, "type": 1}})
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/discord/interactions", bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...))))
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("Content-Type", "application/json")
	return timed(client, req)
}

func timed(client *http.Client, req *http.Request) result {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{latency: time.Since(start), status: resp.StatusCode}
}

// startBaseline serves /slack/commands and /discord/interactions with
// nothing but the signature checks opsbot makes.
func startBaseline(secret, pubHex string) (net.Listener, error) {
	sv := slackbot.NewVerifier(config.Secret(secret), time.Now)
	dv, err := discord.NewVerifier(pubHex, time.Now)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if sv.Verify(r.Header, body) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"text":"ok"}`))
	})
	mux.HandleFunc("POST /discord/interactions", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if dv.Verify(r.Header.Get("X-Signature-Ed25519"), r.Header.Get("X-Signature-Timestamp"), body) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":4,"data":{"content":"ok"}}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = http.Serve(ln, mux) }()
	return ln, nil
}

var listenRe = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// startOpsbot builds opsbot and serves it with Slack and Discord on, their
// APIs pointing nowhere (replies are synchronous), and returns its address,
// process id and a stop function.
func startOpsbot(db, dsn, secret, pubHex string, stderr io.Writer) (string, int, func(), error) {
	dir, err := os.MkdirTemp("", "opsbot-bench")
	if err != nil {
		return "", 0, nil, err
	}
	bin := filepath.Join(dir, "opsbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, fmt.Errorf("build opsbot (run the bench from the module root): %v\n%s", err, out)
	}
	switch db {
	case "sqlite":
		dsn = filepath.Join(dir, "bench.db")
	case "postgres":
		if dsn == "" {
			os.RemoveAll(dir)
			return "", 0, nil, errors.New("--db postgres needs --dsn (or OPSBOT_TEST_POSTGRES)")
		}
	default:
		os.RemoveAll(dir)
		return "", 0, nil, fmt.Errorf("--db %q: want sqlite or postgres", db)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: info}
database: {driver: %s, dsn: %q}
slack: {enabled: true, mode: http, bot_token: xoxb-bench, signing_secret: %s, api_url: "http://127.0.0.1:1/api/"}
discord: {enabled: true, mode: http, token: bench, application_id: "300000000000000001", public_key: %s, api_url: "http://127.0.0.1:1/api/v10"}
`, db, dsn, secret, pubHex)
	path := filepath.Join(dir, "opsbot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pw.Close()
		os.RemoveAll(dir)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a, cmd.Process.Pid, stop, nil
	case <-time.After(60 * time.Second):
		stop()
		return "", 0, nil, errors.New("opsbot did not start within 60s")
	}
}

// cpuSeconds is the user+system CPU time of a process (/proc/PID/stat).
func cpuSeconds(pid int) (float64, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15, in clock ticks (100 a second on Linux).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100, nil
}

// peakRSS is a process's VmHWM from /proc/PID/status.
func peakRSS(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " "), nil
		}
	}
	return "", errors.New("no VmHWM")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
