package main

import (
	"strings"
	"testing"
)

// TestShellAccessRequest drives an access request through the real binary,
// one shell session per person, on the example config (a manual grant).
func TestShellAccessRequest(t *testing.T) {
	t.Parallel()
	dir := exampleConfig(t)
	steps := []struct{ user, in, want string }{
		{"dave", "/access request prod-db --for 9h --reason \"debug\"\n", "the maximum is 8h"},
		{"dave", "/access request prod-db --for 2h --reason \"debug $(id)\"\n", "Requested #1: prod-db (read) for 2h"},
		{"dave", "/access approve 1\n", "You cannot approve your own request #1"},
		{"carol", "/access approve 1\n", "There is no access request #1 you can see"},
		{"bob", "/access approve 1\n", "grants it by hand and confirms with /access done 1"},
		{"bob", "/access done 1\n", "Marked #1 granted"},
		{"dave", "/access list --mine\n", "#1 prod-db (read) for @dave, 2h: active"},
		{"alice", "/access audit prod-db\n", "access.grant"},
	}
	for _, s := range steps {
		out, stderr, code := opsbot(t, dir, s.in, "shell", "--config", "config.example.yaml", "--user", s.user)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("%s: %q: exit %d\nstdout:\n%s\nstderr:\n%s\nwant %q", s.user, s.in, code, out, stderr, s.want)
		}
	}
}
