package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/harness/fakediscord"
	"opsbot/harness/fakeslack"
	"opsbot/report"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/report from the fixed digest")

// docsNow is Monday 30 November 2026, 08:00 UTC: the week is 23–29 November.
var docsNow = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// docsChecks are a plausible estate's checks with how often each failed
// (one run in N; 0 never).
var docsChecks = []struct {
	name string
	team string
	fail int
}{
	{"vpn-gw-berlin", "it", 9}, {"mail-smtp", "it", 23}, {"intranet", "it", 41}, {"core-sw-1", "it", 70},
	{"printer-3rd-floor", "it", 12}, {"ldap", "it", 150}, {"wiki", "it", 0}, {"dns-internal", "it", 400},
	{"backup-freshness-etc", "it", 0}, {"tls-shop.example.com", "ops", 0}, {"shop-api", "ops", 55},
	{"shop-db-replica", "ops", 33}, {"payments-webhook", "ops", 230}, {"cdn-edge", "ops", 0},
	{"status-page", "ops", 0}, {"grafana", "ops", 800}, {"ci-runner-1", "ops", 17}, {"ci-runner-2", "ops", 0},
	{"git", "ops", 0}, {"chat-bridge", "ops", 120}, {"nas-1", "it", 0}, {"ups-rack-a", "it", 0},
}

// docsDigest seeds a week of realistic activity and computes its digest.
func docsDigest(t *testing.T) bot.Reply {
	t.Helper()
	store := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	db := store.DB
	cfg := config.Default()
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // the week before, too
	var rs []storage.CheckResult
	for ci, c := range docsChecks {
		cfg.Checks = append(cfg.Checks, config.Check{Name: c.name, Team: c.team})
		for i := range 14 * 24 * 4 { // every 15 minutes
			at := start.Add(time.Duration(i)*15*time.Minute + time.Duration(ci)*time.Second)
			ok := c.fail == 0 || (i*7+ci*13)%c.fail != 0
			// vpn-gw-berlin was down on Wednesday afternoon.
			if c.name == "vpn-gw-berlin" && at.After(time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)) && at.Before(time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)) {
				ok = false
			}
			rs = append(rs, storage.CheckResult{Check: c.name, At: at, OK: ok})
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateInBatches(rs, 500).Error)
	var ins []storage.Incident
	for i, day := range []int{16, 17, 17, 19, 20, 23, 24, 25, 25, 25, 26, 27, 29} {
		opened := time.Date(2026, 11, day, 9+i%8, 7*i%60, 0, 0, time.UTC)
		ack, res := opened.Add(time.Duration(3+i*2)*time.Minute), opened.Add(time.Duration(25+i*9)*time.Minute)
		ins = append(ins, storage.Incident{Check: docsChecks[i%len(docsChecks)].name, Kind: "http", Channel: "ops",
			State: storage.IncidentResolved, OpenedAt: opened, FailingSince: opened, AckedAt: &ack, ResolvedAt: &res})
	}
	must(db.Create(&ins).Error)
	prios := []string{"normal", "normal", "high", "normal", "urgent", "low", "high"}
	var tks []storage.Ticket
	for i := range 90 {
		created := start.Add(time.Duration(i) * 3 * time.Hour).Add(time.Duration(i%5) * 17 * time.Minute)
		t := storage.Ticket{Summary: fmt.Sprintf("ticket %d", i), Status: storage.TicketResolved, Priority: prios[i%len(prios)],
			Queue: []string{"it", "it", "facilities"}[i%3], Requester: "erin", FiledBy: "erin", CreatedAt: created, UpdatedAt: created}
		fr, frDue, resDue := created.Add(time.Duration(10+i%50)*time.Minute), created.Add(time.Hour), created.Add(8*time.Hour)
		res := created.Add(time.Duration(2+i%11) * time.Hour)
		if t.Priority != "low" {
			t.FirstResponseAt, t.FirstResponseDue, t.ResolveDue = &fr, &frDue, &resDue
		}
		if i%4 == 3 {
			t.Status, res = storage.TicketOpen, time.Time{}
		} else {
			t.ResolvedAt = &res
		}
		t.Active = storage.TicketActive(t.Status)
		tks = append(tks, t)
	}
	must(db.Create(&tks).Error)
	states := []string{storage.AccessRevoked, storage.AccessRevoked, storage.AccessDenied, storage.AccessActive, storage.AccessExpired}
	var ars []storage.AccessRequest
	for i := range 25 {
		created := start.Add(time.Duration(i) * 13 * time.Hour)
		a := storage.AccessRequest{Resource: []string{"prod-db", "vpn"}[i%2], Role: "read", Requester: "erin", Duration: 8 * time.Hour,
			State: states[i%len(states)], ApprovalsNeeded: 1, PendingUntil: created.Add(24 * time.Hour), CreatedAt: created, UpdatedAt: created}
		switch a.State {
		case storage.AccessRevoked, storage.AccessActive:
			g := created.Add(20 * time.Minute)
			a.GrantedAt = &g
		default:
			c := created.Add(3 * time.Hour)
			a.ClosedAt = &c
		}
		ars = append(ars, a)
	}
	must(db.Create(&ars).Error)
	for day := 16; day <= 30; day++ {
		for _, job := range []string{"etc", "shop-db", "nas-snapshot"} {
			if job == "nas-snapshot" && day > 26 {
				continue // stale since Friday
			}
			st := time.Date(2026, 11, day, 2, 0, 0, 0, time.UTC)
			fin := st.Add(12 * time.Minute)
			must(db.Create(&storage.BackupRun{Job: job, State: storage.BackupSucceeded, Trigger: "schedule", RequestedBy: "opsbot",
				Owner: "docs", HeartbeatAt: fin, StartedAt: st, FinishedAt: &fin}).Error)
		}
	}
	cfg.Tickets.SLA = map[string]config.SLA{"urgent": {}, "high": {}, "normal": {}}
	for _, j := range []string{"etc", "shop-db", "nas-snapshot"} {
		cfg.Backups.Jobs = append(cfg.Backups.Jobs, config.BackupJob{Name: j, FreshWithin: config.Duration(26 * time.Hour)})
	}
	p, err := report.NewPeriod(report.Week, docsNow, time.UTC)
	must(err)
	d, err := report.Compute(context.Background(), db, cfg, p, "", docsNow)
	must(err)
	r, err := d.Reply()
	must(err)
	r.InChannel = true
	return r
}

// TestDocsReport keeps docs/report true: a week's digest of fixed,
// realistic data, its three charts as PNG, and what carries it to each
// platform, recorded from the real senders against the fake platforms:
// Slack's calls (the external upload flow, then the Block Kit message and
// the share) and Discord's multipart request. The recorded requests carry
// the committed PNGs, so their lengths hold on any machine; the charts
// themselves are checked to decode. go test -run TestDocsReport .
// -update-docs rewrites them.
func TestDocsReport(t *testing.T) {
	t.Parallel()
	r := docsDigest(t)
	dir := filepath.Join("docs", "report")
	if *updateDocs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, img := range r.Images {
			if err := os.WriteFile(filepath.Join(dir, img.Name), img.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, img := range r.Images {
		data, err := os.ReadFile(filepath.Join(dir, img.Name))
		if err != nil {
			t.Fatalf("%v (go test -run TestDocsReport . -update-docs writes it)", err)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("docs/report/%s: %v", img.Name, err)
		}
		r.Images[i].Data = data
	}
	key := "report:weekly:2026-11-23T00:00:00Z"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	const slackToken = "xoxb-docs-token"
	fs := fakeslack.New(t, slackToken)
	fs.AddMember("C01OPS")
	ss := slackbot.NewSender(config.SlackConfig{BotToken: config.Secret(slackToken), APIURL: fs.URL()}, log)
	if _, err := ss.Post(ctx, bot.Target{Platform: bot.Slack, Channel: "C01OPS", Name: "#ops"}, bot.Outgoing{Key: key, Reply: r}); err != nil {
		t.Fatal(err)
	}
	calls := fs.Transcript()

	const discordToken = "docs-discord-token"
	fd := fakediscord.New(t, discordToken)
	store := storagetest.Open(t, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(t)})
	ds := discord.NewSender(config.DiscordConfig{Token: config.Secret(discordToken), ApplicationID: fakediscord.ApplicationID, APIURL: fd.URL()},
		store, clock.NewFake(docsNow), log, discord.Options{})
	if _, err := ds.Post(ctx, bot.Target{Platform: bot.Discord, Channel: "200000000000000001", Name: "#ops"}, bot.Outgoing{Key: key, Reply: r}); err != nil {
		t.Fatal(err)
	}
	c := fd.Wait(t)
	var parts []map[string]any
	for _, fl := range c.Files {
		parts = append(parts, map[string]any{"part": "files[" + strconv.Itoa(fl.Index) + "]", "filename": fl.Name,
			"content_type": fl.Type, "bytes": len(fl.Data)})
	}
	docs := map[string]any{
		"slack.json":   calls,
		"discord.json": map[string]any{"request": c.Method + " /api/v10" + c.Path, "content_type": "multipart/form-data", "payload_json": c.Body, "file_parts": parts},
	}
	for name, doc := range docs {
		got, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join(dir, name)
		if *updateDocs {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/report/%s is not what the senders send (go test -run TestDocsReport . -update-docs): %v", name, err)
		}
	}
}
