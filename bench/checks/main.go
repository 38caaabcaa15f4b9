// Command checks is the load program for the check scheduler: it schedules
// many HTTP checks against one loopback server (a process of its own, so
// the figures are the checker's alone) for a bounded time, records every
// result through the real incident pipeline (SQLite by default, results
// written behind as in serve), and prints checks/s, the p50/p99 delay
// between scheduled and actual start, CPU seconds per 1,000 checks and peak
// RSS. With -gatus PATH it then runs that Gatus binary on the same
// endpoints (SQLite storage, same interval, same run) and prints both and
// their ratio.
//
//	go run ./bench/checks -checks 10000 -every 30s -duration 2m
//	go run ./bench/checks -checks 200 -every 2s -duration 60s -gatus /tmp/gatus
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opsbot/bot"
	"opsbot/checks"
	"opsbot/clock"
	"opsbot/config"
	"opsbot/handlers"
	"opsbot/handlers/incidents"
	"opsbot/harness"
	"opsbot/notify"
	"opsbot/snmp"
	"opsbot/storage"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-target" {
		// Started by this program: the checked endpoint, in a process of
		// its own.
		serveTarget()
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/checks:", err)
		os.Exit(1)
	}
}

// figures is what one checker did over the measured window.
type figures struct {
	runs    int64
	cpu     float64 // seconds
	elapsed time.Duration
	peakRSS float64 // MB
}

func (f figures) per1000() float64 { return f.cpu / float64(max(f.runs, 1)) * 1000 }

func run() error {
	n := flag.Int("checks", 10000, "number of http checks")
	every := flag.Duration("every", 30*time.Second, "interval of every check")
	dur := flag.Duration("duration", 2*time.Minute, "how long to measure")
	warmup := flag.Duration("warmup", 5*time.Second, "how long to run before measuring")
	workers := flag.Int("workers", 64, "checks running at once")
	driver := flag.String("driver", "sqlite", "database: sqlite or postgres")
	dsn := flag.String("dsn", "", "database DSN (default: a temporary SQLite file)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile at the end of the run to this file")
	gatus := flag.String("gatus", "", "a Gatus binary to run on the same endpoints after opsbot, for comparison")
	floor := flag.Bool("floor", false, "also run the same checks through opsbot's scheduler with nothing recorded: the HTTP and scheduling floor")
	floorProfile := flag.String("floorprofile", "", "write a CPU profile of the -floor run to this file")
	tick := flag.Duration("tick", -1, "the grid the scheduler wakes on (0: at each check's own time; default: the one the checks' rate gives)")
	flag.Parse()

	target, stopTarget, err := startTarget()
	if err != nil {
		return err
	}
	defer stopTarget()
	url := target + "/healthz"
	fmt.Printf("checks=%d every=%s workers=%d warmup=%s measured=%s nproc=%d GOMAXPROCS=%d target=%s (own process)\n",
		*n, *every, *workers, *warmup, *dur, runtime.NumCPU(), runtime.GOMAXPROCS(0), target)

	ob, err := runOpsbot(*n, *every, *warmup, *dur, *workers, *driver, *dsn, *cpuProfile, url, *tick)
	if err != nil {
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
		f.Close()
	}
	if *floor {
		ff, err := runFloor(*n, *every, *warmup, *dur, *workers, url, *floorProfile, *tick)
		if err != nil {
			return err
		}
		fmt.Printf("floor:  scheduler and http checks, nothing recorded: runs=%d cpu=%.2fs cpu-s per 1000 checks=%.3f (%.0f%% of opsbot's)\n",
			ff.runs, ff.cpu, ff.per1000(), 100*ff.per1000()/ob.per1000())
	}
	if *gatus == "" {
		return nil
	}
	gf, err := runGatus(*gatus, *n, *every, *warmup, *dur, *workers, url)
	if err != nil {
		return err
	}
	fmt.Printf("ratio opsbot/gatus: cpu-s per 1000 checks %.3f / %.3f = %.2fx; peak RSS %.1f / %.1f MB\n",
		ob.per1000(), gf.per1000(), ob.per1000()/gf.per1000(), ob.peakRSS, gf.peakRSS)
	return nil
}

func runOpsbot(n int, every, warmup, dur time.Duration, workers int, driver, dsn, cpuProfile, url string, tick time.Duration) (figures, error) {
	cfg := config.Default()
	cfg.CheckSettings.Workers = workers
	cfg.Channels = map[string]config.Channel{"ops": {}}
	// As long as the list, as a config file's is.
	cfg.Checks = make([]config.Check, 0, n)
	for i := range n {
		c := benchCheck(i, every, url)
		c.Channel, c.Failures, c.Successes = "ops", 2, 1
		cfg.Checks = append(cfg.Checks, c)
	}
	cfg.Database = config.DatabaseConfig{Driver: driver, DSN: dsn}
	if dsn == "" {
		dir, err := os.MkdirTemp("", "bench-checks")
		if err != nil {
			return figures{}, err
		}
		defer os.RemoveAll(dir)
		cfg.Database = config.DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(dir, "bench.db")}
	}
	store, err := storage.Open(context.Background(), cfg.Database)
	if err != nil {
		return figures{}, err
	}
	defer store.Close()
	clk := clock.Real{}
	dir := bot.NewDirectory(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	snmpClient := snmp.NewClient(cfg.Devices.MaxConcurrent)
	h, err := incidents.New(handlers.Deps{Config: cfg, Store: store, Outbox: notify.New(cfg, dir, clk), Dir: dir,
		Clock: clk, Log: log, Reg: prometheus.NewRegistry(), SNMP: snmpClient})
	if err != nil {
		return figures{}, err
	}

	var mu sync.Mutex
	var delays []time.Duration
	var failed, runs int64
	// The handler's own scheduler runs the checks and records them, as in
	// serve; the program only watches its runs.
	if tick >= 0 {
		h.Scheduler().SetTick(tick)
	}
	h.Scheduler().OnRun(func(r checks.Run) {
		mu.Lock()
		delays = append(delays, r.Started.Sub(r.Scheduled))
		runs++
		if !r.Result.OK {
			failed++
		}
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), warmup+dur)
	defer cancel()
	peak := watchMemory(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); _ = h.Run(ctx) }() // returns once the last results are written

	time.Sleep(warmup)
	stopProfile, err := profileCPU(cpuProfile)
	if err != nil {
		return figures{}, err
	}
	defer stopProfile()
	mu.Lock()
	runs0, delays0 := runs, len(delays)
	mu.Unlock()
	ru0 := rusage()
	start := time.Now()
	<-schedDone
	elapsed := time.Since(start)
	ru1 := rusage()

	mu.Lock()
	measured := slices.Clone(delays[delays0:])
	f := figures{runs: runs - runs0, elapsed: elapsed, peakRSS: float64(ru1.Maxrss) / 1024,
		cpu: tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)}
	fails := failed
	mu.Unlock()
	slices.Sort(measured)
	pct := func(p float64) time.Duration {
		if len(measured) == 0 {
			return 0
		}
		return measured[min(len(measured)-1, int(p*float64(len(measured))))]
	}
	results, _ := storage.CountCheckResults(context.Background(), store.DB, "")
	fmt.Printf("opsbot: db=%s runs=%d (measured %d) failed=%d results_stored=%d checks/s=%.1f\n",
		cfg.Database.Driver, runs, f.runs, fails, results, float64(f.runs)/elapsed.Seconds())
	fmt.Printf("opsbot: start delay p50=%s p99=%s max=%s, the scheduler waking on a %s grid\n", pct(0.50), pct(0.99), pct(1),
		h.Scheduler().Tick())
	fmt.Printf("opsbot: cpu=%.2fs cpu-s per 1000 checks=%.3f peak RSS=%.1f MB\n", f.cpu, f.per1000(), f.peakRSS)
	if m := <-peak; m.rss > 0 {
		mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
		goSys := m.stats.Sys - m.stats.HeapReleased
		fmt.Printf("opsbot: at the highest sampled RSS %.1f MB: Go heap in use %.1f, heap free not returned %.1f, "+
			"stacks %.1f, other Go runtime %.1f, the binary's pages %.1f, outside Go (SQLite's allocator) %.1f MB\n",
			mb(m.rss), mb(m.stats.HeapInuse), mb(m.stats.HeapIdle-m.stats.HeapReleased), mb(m.stats.StackSys),
			mb(goSys-m.stats.HeapInuse-(m.stats.HeapIdle-m.stats.HeapReleased)-m.stats.StackSys), mb(m.file),
			mb(m.rss)-mb(min(goSys+m.file, m.rss)))
	}
	return f, nil
}

// benchCheck is the i-th of the benchmark's http checks, the same in every
// run.
func benchCheck(i int, every time.Duration, url string) config.Check {
	return config.Check{Name: fmt.Sprintf("web-%05d", i), Kind: config.KindHTTP, URL: url, Method: "GET",
		Every: config.Duration(every), Timeout: config.Duration(5 * time.Second)}
}

// runFloor runs the same checks through opsbot's scheduler and http check
// with nothing recorded: what checking alone costs, below which no storage
// design can go.
func runFloor(n int, every, warmup, dur time.Duration, workers int, url, cpuProfile string, tick time.Duration) (figures, error) {
	var runs atomic.Int64
	sched := checks.NewScheduler(clock.Real{}, workers, nil, nil)
	sched.OnRun(func(checks.Run) { runs.Add(1) })
	if tick >= 0 {
		sched.SetTick(tick)
	}
	env := checks.Env{Clock: clock.Real{}, Transports: checks.NewTransports()}
	for i := range n {
		j, err := checks.JobFor(benchCheck(i, every, url), env)
		if err != nil {
			return figures{}, err
		}
		if err := sched.Add(j); err != nil {
			return figures{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+dur)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = sched.Run(ctx) }()
	time.Sleep(warmup)
	stopProfile, err := profileCPU(cpuProfile)
	if err != nil {
		return figures{}, err
	}
	defer stopProfile()
	runs0, ru0, start := runs.Load(), rusage(), time.Now()
	<-done
	ru1 := rusage()
	return figures{runs: runs.Load() - runs0, elapsed: time.Since(start),
		cpu: tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)}, nil
}

// profileCPU starts a CPU profile into path, when it is set, and returns
// what stops it.
func profileCPU(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// memSample is the process's resident memory and the Go runtime's view of
// it at one moment.
type memSample struct {
	rss, file uint64 // resident, and of it mapped from files (the binary)
	stats     runtime.MemStats
}

// watchMemory samples memory every second until ctx ends, then sends the
// sample with the highest resident size. It runs in the measured process,
// so it is kept cheap: opsbot's figures are its CPU, and Gatus's sampler
// runs outside Gatus. (Sampling /proc/self/status every 250 ms was a
// sixth of opsbot's profile at 200 checks.) The peak RSS printed is the
// kernel's own (getrusage); this only says what the highest sample held.
func watchMemory(ctx context.Context) <-chan memSample {
	out := make(chan memSample, 1)
	go func() {
		var top memSample
		statm, err := os.Open("/proc/self/statm")
		if err != nil {
			out <- top
			return
		}
		defer statm.Close()
		buf := make([]byte, 128)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if rss, file := residentBytes(statm, buf); rss > top.rss {
				top.rss, top.file = rss, file
				runtime.ReadMemStats(&top.stats)
			}
			select {
			case <-ctx.Done():
				out <- top
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// residentBytes reads the resident and the file-backed (shared) sizes
// from /proc/self/statm, open as f, into buf: 0 where it cannot.
func residentBytes(f *os.File, buf []byte) (rss, file uint64) {
	n, err := f.ReadAt(buf, 0)
	if n == 0 && err != nil {
		return 0, 0
	}
	// size resident shared text lib data dt, in pages
	fields := strings.Fields(string(buf[:n]))
	if len(fields) < 3 {
		return 0, 0
	}
	page := uint64(os.Getpagesize())
	r, _ := strconv.ParseUint(fields[1], 10, 64)
	sh, _ := strconv.ParseUint(fields[2], 10, 64)
	return r * page, sh * page
}

// runGatus runs the Gatus binary at path on the same endpoints with SQLite
// storage and reads its CPU (from /proc) and its results (from /metrics)
// over the measured window.
func runGatus(path string, n int, every, warmup, dur time.Duration, workers int, url string) (figures, error) {
	dir, err := os.MkdirTemp("", "bench-gatus")
	if err != nil {
		return figures{}, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return figures{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "metrics: true\nconcurrency: %d\nstorage:\n  type: sqlite\n  path: %s\nweb:\n  address: 127.0.0.1\n  port: %d\nendpoints:\n",
		workers, filepath.Join(dir, "gatus.db"), port)
	for i := range n {
		fmt.Fprintf(&b, "  - name: web-%05d\n    url: %q\n    interval: %s\n    conditions: [\"[STATUS] == 200\"]\n", i, url, every)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		return figures{}, err
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "GATUS_CONFIG_PATH="+cfgPath, "GATUS_LOG_LEVEL=WARN")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return figures{}, fmt.Errorf("start gatus: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := gatusResults(base); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return figures{}, errors.New("gatus did not answer /metrics within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Gatus starts its endpoints 222 ms apart (watchdog.Monitor): measure
	// once all of them run.
	ramp := time.Duration(n)*222*time.Millisecond + every
	fmt.Printf("gatus:  waiting %s for every endpoint to start, then %s of warm-up\n", ramp.Round(time.Second), warmup)
	time.Sleep(ramp + warmup)
	r0, err := gatusResults(base)
	if err != nil {
		return figures{}, err
	}
	c0, err := harness.CPUSeconds(cmd.Process.Pid)
	if err != nil {
		return figures{}, err
	}
	start := time.Now()
	time.Sleep(dur)
	r1, err := gatusResults(base)
	if err != nil {
		return figures{}, err
	}
	c1, err := harness.CPUSeconds(cmd.Process.Pid)
	if err != nil {
		return figures{}, err
	}
	f := figures{runs: int64(r1 - r0), cpu: c1 - c0, elapsed: time.Since(start), peakRSS: mb(harness.PeakRSS(cmd.Process.Pid))}
	fmt.Printf("gatus:  %s runs measured=%d checks/s=%.1f\n", path, f.runs, float64(f.runs)/f.elapsed.Seconds())
	fmt.Printf("gatus:  cpu=%.2fs cpu-s per 1000 checks=%.3f peak RSS=%.1f MB\n", f.cpu, f.per1000(), f.peakRSS)
	return f, nil
}

// gatusResults sums gatus_results_total over every endpoint.
func gatusResults(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("gatus /metrics: %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gatus_results_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// startTarget runs the checked endpoint as this program re-executed, and
// returns its base URL.
func startTarget() (string, func(), error) {
	cmd := exec.Command(os.Args[0], "serve-target")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start target: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("target address: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

func serveTarget() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
}

func mb(v float64, _ error) float64 { return v }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
