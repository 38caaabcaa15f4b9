package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSummary: go test's verdict line per package with the count, the
// output of a failing test (and not of a passing one), build errors passed
// on, and totals with the exit code.
func TestSummary(t *testing.T) {
	t.Parallel()
	in := `{"Action":"start","Package":"opsbot/a"}
{"Action":"run","Package":"opsbot/a","Test":"TestGood"}
{"Action":"output","Package":"opsbot/a","Test":"TestGood","Output":"quiet on success\n"}
{"Action":"pass","Package":"opsbot/a","Test":"TestGood","Elapsed":0.1}
{"Action":"output","Package":"opsbot/a","Output":"ok  \topsbot/a\t0.2s\n"}
{"Action":"pass","Package":"opsbot/a","Elapsed":0.2}
{"Action":"start","Package":"opsbot/b"}
{"Action":"output","Package":"opsbot/b","Test":"TestBad","Output":"    b_test.go:9: want 2, got 3\n"}
{"Action":"fail","Package":"opsbot/b","Test":"TestBad","Elapsed":0.1}
{"Action":"output","Package":"opsbot/b","Output":"FAIL\n"}
{"Action":"fail","Package":"opsbot/b","Elapsed":0.3}
{"Action":"output","Package":"opsbot/c","Output":"?   \topsbot/c\t[no test files]\n"}
{"Action":"skip","Package":"opsbot/c"}
{"ImportPath":"opsbot/d","Action":"build-output","Output":"d/x.go:1: syntax error\n"}
{"Action":"fail","Package":"opsbot/d","FailedBuild":"opsbot/d"}
not json: go vet said something
`
	var out bytes.Buffer
	s := newSummary(&out, 4, time.Now())
	if err := s.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	code := s.finish(time.Now())
	got := out.String()
	for _, want := range []string{"ok  \topsbot/a\t0.200s\t[1/4]", "b_test.go:9: want 2, got 3\nFAIL\topsbot/b\t0.300s\t[2/4]",
		"?   \topsbot/c\t[no test files]\t[3/4]", "d/x.go:1: syntax error\nFAIL\topsbot/d\t[build failed]\t[4/4]",
		"not json: go vet said something\n", "1 packages passed, 2 failed, 1 without tests", "FAIL: opsbot/b opsbot/d\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if code != 1 || strings.Contains(got, "quiet on success") || strings.Count(got, "opsbot/a") != 1 {
		t.Errorf("exit %d, want 1, and nothing of the passing test but its package's line:\n%s", code, got)
	}
}
