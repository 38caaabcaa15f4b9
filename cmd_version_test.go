package main

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code := binary.Run(t, t.TempDir(), "", "version")
	if code != 0 || !strings.HasPrefix(out, "opsbot dev\n") || !strings.Contains(out, "go:       go1.") || !strings.Contains(out, "revision: ") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	if got := buildInfo("v1.2.3"); !strings.HasPrefix(got, "opsbot v1.2.3\n") {
		t.Errorf("buildInfo: %q", got)
	}
}
