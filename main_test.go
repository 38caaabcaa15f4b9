package main

import (
	"strings"
	"testing"

	"opsbot/harness"
)

// binary is the opsbot binary built once for the end-to-end tests.
var binary harness.Binary

func TestMain(m *testing.M) { harness.Main(m, &binary) }

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, stderr, code := binary.Run(t, dir, "", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown subcommand: exit %d, %q", code, stderr)
	}
	for _, sub := range [][]string{{"serve"}, {"shell"}, {"migrate"}, {"config", "check"}} {
		_, stderr, code := binary.Run(t, dir, "", append(sub, "--help")...)
		if code != 0 || !strings.Contains(stderr, "Usage: opsbot "+sub[0]) {
			t.Errorf("%v --help: exit %d, %q", sub, code, stderr)
		}
	}
	if out, _, code := binary.Run(t, dir, "", "version"); code != 0 || !strings.HasPrefix(out, "opsbot ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
