package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"opsbot/bot"
	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/harness"
	"opsbot/harness/fakediscord"
	"opsbot/harness/fakeslack"
)

// loadBench runs the whole comparison: signed Slack slash commands and
// signed Discord interactions against an opsbot serve (started here with a
// fresh key pair unless --url names one), then the same requests against a
// bare net/http server in its own process that only verifies signatures; it
// prints throughput, latency, each server's CPU and peak RSS, and opsbot's
// share of the baseline's throughput.
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
	notifyOn := fs.Bool("notify", false, "route tickets to a queue whose channel is on a fake Slack in this process, so the started opsbot delivers each ticket's queue post as in production; the delivered posts are counted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "bench load: "+format+"\n", a...)
		return 1
	}
	var priv ed25519.PrivateKey
	if *target == "" {
		*secret = harness.RandomHex(16)
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	} else {
		seed, err := hex.DecodeString(*dkey)
		if *secret == "" || err != nil || len(seed) != ed25519.SeedSize {
			fmt.Fprintln(stderr, "bench load: with --url, give --secret and --discord-key (64 hex digits)")
			return 2
		}
		priv = ed25519.NewKeyFromSeed(seed)
	}
	pubHex := hex.EncodeToString(priv.Public().(ed25519.PublicKey))

	dir, err := os.MkdirTemp("", "opsbot-bench")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	bin, err := harness.Build(dir)
	if err != nil {
		return fail("%v", err)
	}
	// Discord builds an interaction from the registered commands, so the
	// bench does too: the subcommand and its typed options, not a line.
	body, err := registeredCommands(bin, dir, *secret, pubHex)
	if err != nil {
		return fail("%v", err)
	}
	acs, err := discord.RegisteredCommands(body)
	if err != nil {
		return fail("%v", err)
	}
	data, err := discord.InteractionData(acs, *command)
	if err != nil {
		return fail("--command %q as a Discord interaction: %v", *command, err)
	}
	interaction, err := json.Marshal(data)
	if err != nil {
		return fail("encode interaction data: %v", err)
	}

	var fake *fakeslack.Server
	if *notifyOn {
		if *target != "" {
			return fail("--notify needs the opsbot the bench starts (no --url)")
		}
		if fake, err = fakeslack.Start("xoxb-bench"); err != nil {
			return fail("%v", err)
		}
		defer fake.Close()
		fake.AddMember("C0HELP")
	}
	base, srvPID := *target, *pid
	stopOpsbot := func() {}
	if base == "" {
		addr, p, stop, err := startOpsbot(bin, dir, *db, *dsn, *secret, pubHex, fake)
		if err != nil {
			return fail("%v", err)
		}
		defer stop()
		base, srvPID, stopOpsbot = "http://"+addr, p, stop
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency * 2, MaxIdleConnsPerHost: *concurrency * 2}}
	fmt.Fprintf(stdout, "machine: %d cores (%s/%s), %s, %s; database %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"), *db)

	run := func(title, platform, base string, pid int) stats {
		cpu0, _ := harness.CPUSeconds(pid)
		send := func() result { return sendSlack(client, base, *secret, "U0BENCH", *command) }
		if platform == "discord" {
			send = func() result { return sendDiscord(client, base, priv, interaction) }
		}
		res, elapsed := drive(*duration, *rate, *concurrency, send)
		fmt.Fprintf(stdout, "\n== %s\n", title)
		st := report(stdout, *command, *rate, elapsed, res)
		if pid > 0 {
			cpu1, err := harness.CPUSeconds(pid)
			hwm, err2 := harness.PeakRSS(pid)
			if err == nil && err2 == nil {
				fmt.Fprintf(stdout, "server: %.2f CPU seconds (%.0f%% of one core), peak RSS %.1f MB\n", cpu1-cpu0,
					100*(cpu1-cpu0)/elapsed.Seconds(), hwm)
			}
		}
		return st
	}
	var ops, bl [2]stats
	ops[0] = run("opsbot slack", "slack", base, srvPID)
	if fake != nil {
		// Every acknowledged ticket's queue post, delivered to the fake.
		want := ops[0].ok
		start := time.Now()
		for delivered(fake) < want && time.Since(start) < time.Minute {
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(stdout, "notifications: %d of %d tickets' queue posts delivered to the fake Slack, the last %s after the load ended\n",
			delivered(fake), want, time.Since(start).Round(time.Millisecond))
	}
	ops[1] = run("opsbot discord", "discord", base, srvPID)
	// A started opsbot goes before the baseline runs, so that its
	// background work (the outbox retrying the platforms' unreachable APIs)
	// does not take CPU from them.
	stopOpsbot()

	addr, blPID, stop, err := startBaseline(*secret, pubHex, stderr)
	if err != nil {
		return fail("baseline: %v", err)
	}
	defer stop()
	bl[0] = run("baseline slack (bare net/http, signature check only, own process)", "slack", "http://"+addr, blPID)
	bl[1] = run("baseline discord (bare net/http, signature check only, own process)", "discord", "http://"+addr, blPID)
	summary(stdout, *command, *rate, *duration, ops, bl)
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

func sendSlack(client *http.Client, base, secret, user, command string) result {
	body := harness.Slash(user, "C0BENCH", command, "", harness.RandomHex(8))
	req, err := harness.SlackRequest(strings.TrimSuffix(base, "/")+"/slack/commands", secret, time.Now(), body)
	if err != nil {
		return result{err: err}
	}
	return timed(client, req, slackReply)
}

// sendDiscord sends a slash command interaction with data, the command as
// Discord sends it (discord.InteractionData), under a fresh interaction id.
func sendDiscord(client *http.Client, base string, key ed25519.PrivateKey, data json.RawMessage) result {
	id := strconv.FormatUint(uint64(time.Now().UnixNano())>>1|1<<60, 10) + randomDigits(2)
	body, err := json.Marshal(map[string]any{"id": id, "application_id": "300000000000000001", "type": 2, "token": "bench",
		"version": 1, "channel_id": "200000000000000009", "guild_id": "400000000000000009",
		"member": map[string]any{"user": map[string]any{"id": "100000000000000099", "username": "bench"}},
		"data":   data})
	if err != nil {
		return result{err: err}
	}
	req, err := harness.DiscordRequest(strings.TrimSuffix(base, "/")+"/discord/interactions", key, time.Now(), body)
	if err != nil {
		return result{err: err}
	}
	return timed(client, req, discordReply)
}

// timed sends req and reads the answer's headline with read, which also
// says whether the answer is an error reply.
func timed(client *http.Client, req *http.Request, read func([]byte) (string, bool)) result {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	r := result{latency: time.Since(start), status: resp.StatusCode, err: err}
	if err == nil && resp.StatusCode/100 == 2 {
		r.reply, r.failed = read(body)
	}
	return r
}

// slackDanger starts the text of an error reply on Slack, taken from the
// renderer so that the two cannot drift apart.
var slackDanger = strings.TrimSuffix(slackbot.Render(bot.Reply{Text: "x", Severity: bot.SeverityDanger}).Text, "x")

// slackReply is the headline of a slash command's answer, and whether it
// is an error: a danger reply (a mistake, a refusal, an internal error) or
// the answer given when storage is unreachable.
func slackReply(body []byte) (string, bool) {
	var m struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "undecodable answer: " + headline(string(body)), true
	}
	return headline(m.Text), strings.HasPrefix(m.Text, slackDanger) || m.Text == bot.TryAgain
}

// discordDanger is the embed colour of an error reply on Discord.
var discordDanger = discord.Render(bot.Reply{Text: "x", Severity: bot.SeverityDanger}).Embeds[0].Color

// discordReply is the headline of an interaction's answer, and whether it
// is an error reply (a danger embed).
func discordReply(body []byte) (string, bool) {
	var m struct {
		Type int `json:"type"`
		Data *struct {
			Content string `json:"content"`
			Embeds  []struct {
				Title       string `json:"title"`
				Description string `json:"description"`
				Color       int    `json:"color"`
			} `json:"embeds"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "undecodable answer: " + headline(string(body)), true
	}
	if m.Data == nil || m.Data.Content == "" && len(m.Data.Embeds) == 0 {
		return fmt.Sprintf("(response type %d, no message)", m.Type), false
	}
	if len(m.Data.Embeds) == 0 {
		return headline(m.Data.Content), false
	}
	e := m.Data.Embeds[0]
	return headline(strings.TrimSpace(e.Title + " " + e.Description)), e.Color == discordDanger
}

// headline is the start of a reply on one line.
func headline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:99]) + "…"
	}
	return s
}

// opsbotConfig is a configuration with Slack and Discord on over HTTP; the
// platforms' APIs point nowhere (replies are synchronous) unless discordAPI
// names one.
func opsbotConfig(db, dsn, secret, pubHex, discordAPI string, fake *fakeslack.Server) string {
	if discordAPI == "" {
		discordAPI = "http://127.0.0.1:1/api/v10"
	}
	slackAPI, queue := "http://127.0.0.1:1/api/", ""
	if fake != nil {
		slackAPI = fake.URL()
		queue = "channels:\n  helpdesk: {slack: C0HELP}\ntickets: {queues: [{name: it, channel: helpdesk}], default_queue: it}\n"
	}
	return fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: info}
database: {driver: %s, dsn: %q}
slack: {enabled: true, mode: http, bot_token: xoxb-bench, signing_secret: %s, api_url: %q}
discord: {enabled: true, mode: http, token: bench, application_id: "300000000000000001", public_key: %s, api_url: %q}
%s`, db, dsn, secret, slackAPI, pubHex, discordAPI, queue)
}

// delivered counts the messages the fake Slack accepted.
func delivered(f *fakeslack.Server) int {
	n := 0
	for _, c := range f.Posts() {
		n += c
	}
	return n
}

// registeredCommands runs opsbot discord register against a stand-in for
// Discord's API and returns the body of the bulk overwrite it receives, the
// table Discord builds interactions from (discord.RegisteredCommands
// decodes it). The table comes from the code, not from the database or the
// rest of the configuration, so a scratch SQLite file serves, also for
// --db postgres and --url.
func registeredCommands(bin harness.Binary, dir, secret, pubHex string) ([]byte, error) {
	api, err := fakediscord.Start("bench")
	if err != nil {
		return nil, err
	}
	defer api.Close()
	path := filepath.Join(dir, "register.yaml")
	cfg := opsbotConfig("sqlite", filepath.Join(dir, "register.db"), secret, pubHex, api.URL(), nil)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(string(bin), "discord", "register", "--config", path)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("opsbot discord register: %w\n%s", err, out)
	}
	for _, c := range api.All() {
		if c.Method == http.MethodPut && strings.HasSuffix(c.Path, "/commands") {
			return c.Raw, nil
		}
	}
	return nil, errors.New("opsbot discord register sent no command table")
}

// startOpsbot serves opsbot from bin with Slack and Discord on, its files in
// dir, and returns its address, process id and a stop function that may be
// called more than once.
func startOpsbot(bin harness.Binary, dir, db, dsn, secret, pubHex string, fake *fakeslack.Server) (string, int, func(), error) {
	switch db {
	case "sqlite":
		dsn = filepath.Join(dir, "bench.db")
	case "postgres":
		if dsn == "" {
			return "", 0, nil, errors.New("--db postgres needs --dsn (or OPSBOT_TEST_POSTGRES)")
		}
	default:
		return "", 0, nil, fmt.Errorf("--db %q: want sqlite or postgres", db)
	}
	path := filepath.Join(dir, "opsbot.yaml")
	if err := os.WriteFile(path, []byte(opsbotConfig(db, dsn, secret, pubHex, "", fake)), 0o600); err != nil {
		return "", 0, nil, err
	}
	p, err := bin.Start(dir, path, nil, 60*time.Second)
	if err != nil {
		return "", 0, nil, err
	}
	// Stopped as a service manager stops it (so a profile asked for with
	// OPSBOT_CPUPROFILE is written), killed if it does not end in time.
	stop := func() {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Done:
		case <-time.After(30 * time.Second):
			p.Stop()
		}
	}
	return p.Addr, p.Cmd.Process.Pid, stop, nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
