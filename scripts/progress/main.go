// Command progress turns `go test -json` on its standard input into what a
// person waiting for the suite wants to see: go test's own line for each
// package as it finishes (ok, FAIL, no test files), numbered against the
// total; the output of each failing test; while nothing finishes, a line
// every interval saying what still runs; and at the end "N passed, N
// failed". It exits 1 when anything failed, so scripts/test and CI see the
// result.
//
//	go test -json ./... | go run ./scripts/progress -total 40
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

func main() {
	total := flag.Int("total", 0, "how many packages the run covers, for the count")
	every := flag.Duration("every", 30*time.Second, "say what still runs when nothing finished for this long")
	flag.Parse()
	s := newSummary(os.Stdout, *total, time.Now())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				s.heartbeat(now, *every)
			}
		}
	}()
	err := s.read(os.Stdin)
	close(done)
	if err != nil {
		fmt.Fprintln(os.Stderr, "progress:", err)
		os.Exit(1)
	}
	os.Exit(s.finish(time.Now()))
}

// summary follows one run.
type summary struct {
	mu      sync.Mutex
	out     io.Writer
	total   int
	start   time.Time
	last    time.Time // when a package last finished
	running map[string]time.Time
	// output of each test, and of each package outside its tests, kept
	// until it passes.
	output         map[string][]string
	passed, failed int
	untested       int // packages without test files
	failedPkgs     []string
}

func newSummary(out io.Writer, total int, now time.Time) *summary {
	return &summary{out: out, total: total, start: now, last: now, running: map[string]time.Time{}, output: map[string][]string{}}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go vet's or the linker's own words): pass it on.
			s.print(string(line) + "\n")
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(s.out, text)
}

func (s *summary) handle(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := e.Package + " " + e.Test
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
	case "start":
		s.running[e.Package] = e.Time
	case "output":
		if e.Test == "" && isSummaryLine(e.Output) {
			return // go test's own ok/FAIL line; printed on pass/fail
		}
		s.output[key] = append(s.output[key], e.Output)
	case "pass", "skip":
		if e.Test != "" {
			delete(s.output, key)
			return
		}
		if e.Action == "skip" {
			s.untested++
			s.done(e, "?   ")
			return
		}
		s.passed++
		s.done(e, "ok  ")
	case "fail":
		if e.Test != "" {
			fmt.Fprint(s.out, strings.Join(s.output[key], ""))
			delete(s.output, key)
			return
		}
		s.failed++
		s.failedPkgs = append(s.failedPkgs, e.Package)
		fmt.Fprint(s.out, strings.Join(s.output[key], ""))
		s.done(e, "FAIL")
	}
}

// done prints go test's line for a finished package, with the count.
func (s *summary) done(e event, verdict string) {
	delete(s.running, e.Package)
	delete(s.output, e.Package+" ")
	s.last = time.Now()
	n := s.passed + s.failed + s.untested
	count := fmt.Sprintf("[%d]", n)
	if s.total > 0 {
		count = fmt.Sprintf("[%d/%d]", n, s.total)
	}
	took := fmt.Sprintf("%.3fs", e.Elapsed)
	switch {
	case e.FailedBuild != "":
		took = "[build failed]"
	case verdict == "?   ":
		took = "[no test files]"
	}
	fmt.Fprintf(s.out, "%s\t%s\t%s\t%s %s elapsed\n", verdict, e.Package, took, count, s.since(s.last))
}

// heartbeat says what still runs when nothing finished for a while, so a
// long build or a slow package does not look like a hang.
func (s *summary) heartbeat(now time.Time, every time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.last) < every {
		return
	}
	if len(s.running) == 0 {
		fmt.Fprintf(s.out, "… %s elapsed: compiling the test binaries (with -race this is the longest part)\n", s.since(now))
		return
	}
	var names []string
	for p, at := range s.running {
		names = append(names, fmt.Sprintf("%s (%s)", strings.TrimPrefix(p, "opsbot/"), now.Sub(at).Round(time.Second)))
	}
	slices.Sort(names)
	fmt.Fprintf(s.out, "… %s elapsed, still running: %s\n", s.since(now), strings.Join(names, ", "))
}

func (s *summary) since(now time.Time) string {
	return now.Sub(s.start).Round(time.Second).String()
}

// finish prints the totals and returns the exit code.
func (s *summary) finish(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "%d packages passed, %d failed, %d without tests, in %s\n", s.passed, s.failed, s.untested, s.since(now))
	if s.failed > 0 {
		fmt.Fprintf(s.out, "FAIL: %s\n", strings.Join(s.failedPkgs, " "))
		return 1
	}
	return 0
}

// isSummaryLine reports whether a package's output line is go test's own
// verdict, which progress prints itself.
func isSummaryLine(s string) bool {
	for _, p := range []string{"ok  \t", "FAIL\t", "?   \t", "PASS\n", "FAIL\n"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
