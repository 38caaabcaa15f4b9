// Command checks is the load program for the check scheduler: it schedules
// many HTTP checks against one loopback server for a bounded time, records
// every result through the real incident pipeline (SQLite by default), and
// prints checks/s, the p50/p99 delay between scheduled and actual start, CPU
// seconds per 1,000 checks and peak RSS.
//
//	go run ./bench/checks -checks 10000 -every 30s -duration 2m
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/checks"
	"opsbot/checks/outbox"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/incidents"
	"opsbot/snmp"
	"opsbot/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/checks:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("checks", 10000, "number of http checks")
	every := flag.Duration("every", 30*time.Second, "interval of every check")
	dur := flag.Duration("duration", 2*time.Minute, "how long to run")
	workers := flag.Int("workers", 64, "checks running at once")
	driver := flag.String("driver", "sqlite", "database: sqlite or postgres")
	dsn := flag.String("dsn", "", "database DSN (default: a temporary SQLite file)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()

	cfg := config.Default()
	cfg.CheckSettings.Workers = *workers
	cfg.Channels = map[string]config.Channel{"ops": {}}
	for i := range *n {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("web-%05d", i), Kind: config.KindHTTP,
			URL: srv.URL + "/healthz", Method: "GET", Every: config.Duration(*every), Timeout: config.Duration(5 * time.Second),
			Channel: "ops", Failures: 2, Successes: 1})
	}
	cfg.Database = config.DatabaseConfig{Driver: *driver, DSN: *dsn}
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "bench-checks")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Database = config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "bench.db")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	store, err := storage.Open(context.Background(), cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	clk := clock.Real{}
	dir := bot.NewDirectory(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	snmpClient := snmp.NewClient(cfg.Devices.MaxConcurrent)
	h, err := incidents.New(handlers.Deps{Config: cfg, Store: store, Outbox: outbox.New(cfg, dir, clk), Dir: dir,
		Clock: clk, Log: log, Reg: prometheus.NewRegistry(), SNMP: snmpClient})
	if err != nil {
		return err
	}

	var mu sync.Mutex
	var delays []time.Duration
	var failed int
	sink := func(ctx context.Context, r checks.Run) error {
		mu.Lock()
		delays = append(delays, r.Started.Sub(r.Scheduled))
		if !r.Result.OK {
			failed++
		}
		mu.Unlock()
		return h.Record(ctx, r)
	}
	sched := checks.NewScheduler(clk, *workers, sink, checks.NewMetrics(nil))
	env := checks.Env{Config: cfg, DB: store.DB, Clock: clk, Transports: checks.NewTransports(), SNMP: snmpClient}
	for _, c := range cfg.Checks {
		j, err := checks.JobFor(c, env)
		if err != nil {
			return err
		}
		if err := sched.Add(j); err != nil {
			return err
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ru0 := rusage()
	start := time.Now()
	_ = sched.Run(ctx)
	elapsed := time.Since(start)
	ru1 := rusage()

	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	slices.Sort(delays)
	pct := func(p float64) time.Duration {
		if len(delays) == 0 {
			return 0
		}
		return delays[min(len(delays)-1, int(p*float64(len(delays))))]
	}
	runs := len(delays)
	results, _ := storage.CountCheckResults(context.Background(), store.DB, "")
	fmt.Printf("checks=%d every=%s workers=%d duration=%s db=%s nproc=%d GOMAXPROCS=%d\n",
		*n, *every, *workers, elapsed.Round(time.Second), cfg.Database.Driver, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("runs=%d failed=%d results_stored=%d checks/s=%.1f\n", runs, failed, results, float64(runs)/elapsed.Seconds())
	fmt.Printf("start delay p50=%s p99=%s max=%s\n", pct(0.50), pct(0.99), pct(1))
	if runs > 0 {
		fmt.Printf("cpu=%.2fs cpu-s per 1000 checks=%.3f\n", cpu, cpu/float64(runs)*1000)
	}
	fmt.Printf("peak RSS=%.1f MB\n", float64(ru1.Maxrss)/1024)
	return nil
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
