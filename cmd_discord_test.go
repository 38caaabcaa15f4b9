package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const e2eDiscordToken = "e2e-discord-token-SECRET"

// fakeDiscordAPI accepts a bulk overwrite of application commands with the
// right bot token, as Discord does, and records what it was sent.
func fakeDiscordAPI(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bot "+e2eDiscordToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"401: Unauthorized","code":0}`)
			return
		}
		if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/commands") {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"404: Not Found","code":0}`)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func TestDiscordRegisterCommand(t *testing.T) {
	t.Parallel()
	api, calls := fakeDiscordAPI(t)
	dir := t.TempDir()
	write := func(name, token string) {
		cfg := fmt.Sprintf("database: {driver: sqlite, dsn: ops.db}\ndiscord: {token: %q, application_id: \"500000000000000001\", api_url: %q}\n", token, api.URL+"/api/v10")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yaml", e2eDiscordToken)
	write("bad.yaml", "wrong-"+e2eDiscordToken)

	out, stderr, code := binary.Run(t, dir, "", "discord", "register", "--config", "good.yaml", "--guild", "400000000000000001")
	if code != 0 || !regexp.MustCompile(`registered [1-9][0-9]* commands in server 400000000000000001`).MatchString(out) {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	c := calls()
	if len(c) != 1 || !strings.HasPrefix(c[0], "PUT /api/v10/applications/500000000000000001/guilds/400000000000000001/commands [") ||
		!strings.Contains(c[0], `"name":"help"`) || !strings.Contains(c[0], `"name":"ticket"`) {
		t.Fatalf("calls %q", c)
	}
	_, stderr, code = binary.Run(t, dir, "", "discord", "register", "--config", "bad.yaml")
	if code != 1 || !strings.Contains(stderr, "401") || strings.Contains(stderr, e2eDiscordToken) {
		t.Fatalf("bad token: exit %d, %q", code, stderr)
	}
	if _, stderr, code := binary.Run(t, dir, "", "discord", "register", "--help"); code != 0 || !strings.Contains(stderr, "Usage: opsbot discord register") {
		t.Fatalf("--help: exit %d %q", code, stderr)
	}
	if _, stderr, code := binary.Run(t, dir, "", "discord"); code != 2 || !strings.Contains(stderr, "usage: opsbot discord register") {
		t.Fatalf("no subcommand: exit %d %q", code, stderr)
	}
}
