package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"opsbot/harness/fakediscord"
)

const e2eDiscordToken = "e2e-discord-token-SECRET"

func TestDiscordRegisterCommand(t *testing.T) {
	t.Parallel()
	api := fakediscord.New(t, e2eDiscordToken)
	dir := t.TempDir()
	write := func(name, token string) {
		cfg := fmt.Sprintf("database: {driver: sqlite, dsn: ops.db}\ndiscord: {token: %q, application_id: \"500000000000000001\", api_url: %q}\n", token, api.URL())
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
	c := api.All()
	if len(c) != 1 || c[0].Method != "PUT" || c[0].Path != "/applications/500000000000000001/guilds/400000000000000001/commands" ||
		!strings.Contains(string(c[0].Raw), `"name":"help"`) || !strings.Contains(string(c[0].Raw), `"name":"ticket"`) {
		t.Fatalf("calls %+v", c)
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
