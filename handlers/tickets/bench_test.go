package tickets_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/harness/handlertest"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// seedTickets stores n tickets in batched inserts: one in five still open,
// the rest closed, from a thousand requesters.
func seedTickets(b *testing.B, env *handlertest.Env, n int) {
	b.Helper()
	const batch = 500
	start := handlertest.Start.Add(-365 * 24 * time.Hour)
	rows := make([]storage.Ticket, 0, batch)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute)
		t := storage.Ticket{Summary: fmt.Sprintf("seeded problem %d", i), Status: storage.TicketClosed, Priority: "normal",
			Queue: "it", Requester: fmt.Sprintf("slack:U%07d", i%1000), CreatedAt: at, UpdatedAt: at}
		t.FiledBy = t.Requester
		if i%5 == 0 {
			t.Status, t.Assignee = storage.TicketOpen, "carol"
		}
		t.Active = storage.TicketActive(t.Status)
		rows = append(rows, t)
		if len(rows) == batch || i == n-1 {
			if err := env.Deps.Store.DB.CreateInBatches(rows, batch).Error; err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
}

// BenchmarkTickets measures /ticket new and /ticket list --open through the
// router on SQLite with 100,000 tickets stored, and prints commands per second.
func BenchmarkTickets(b *testing.B) {
	const stored = 100_000
	env, _ := newEnv(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)}, testConfig())
	seedTickets(b, env, stored)
	for _, bc := range []struct{ name, who, line, want string }{
		{"new", "dave", `/ticket new "VPN drops every hour" --priority high`, "Filed ticket #"},
		{"list_open", "carol", `/ticket list --open`, "Showing the newest 20"},
		{"list_mine", "dave", `/ticket list --mine`, "Your open tickets"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r := env.Run(bc.who, bc.line)
				if r.Severity == bot.SeverityDanger || !strings.Contains(r.Title+r.Footer, bc.want) {
					b.Fatalf("%s: %+v", bc.line, r)
				}
			}
			perSec := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSec, "cmds/s")
			fmt.Printf("%s with %d tickets stored (SQLite): %.0f per second\n", bc.line, stored, perSec)
		})
	}
}

// BenchmarkTicketsParallel files tickets from 16 goroutines per core at once,
// as a busy chat does: on SQLite the transactions that queue behind one
// another are committed together (storage's group commit).
func BenchmarkTicketsParallel(b *testing.B) {
	env, _ := newEnv(b, storagetest.Backend{Name: "sqlite", Config: storagetest.SQLite(b)}, testConfig())
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := env.Run("dave", `/ticket new "VPN drops every hour" --priority high`); r.Severity == bot.SeverityDanger {
				b.Errorf("/ticket new: %+v", r)
				return
			}
		}
	})
	perSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "cmds/s")
	fmt.Printf("/ticket new from %d goroutines (SQLite): %.0f per second\n", 16*runtime.GOMAXPROCS(0), perSec)
}
