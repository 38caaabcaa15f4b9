package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsbot/harness"
)

// dsnSecret is the password every DSN spelling below carries.
const dsnSecret = "Zq9pwSECRET7"

// secretDSNs is each way a PostgreSQL DSN can hold a password, each one
// failing: a parse error, or nothing listening on port 1.
var secretDSNs = map[string]string{
	"key=value, refused":          "host=127.0.0.1 port=1 user=opsbot password=" + dsnSecret + " dbname=x sslmode=disable",
	"key = value, parse error":    "host=127.0.0.1 port=1 user=opsbot password = " + dsnSecret + " dbname=x connect_timeout=bad",
	"quoted, parse error":         "host=127.0.0.1 port=1 password='" + dsnSecret + " with space' connect_timeout=bad",
	"quoted, refused":             "host=127.0.0.1 port=1 password = '" + dsnSecret + "' sslmode=disable",
	"URL user info, refused":      "postgres://opsbot:" + dsnSecret + "@127.0.0.1:1/x?sslmode=disable",
	"URL user info, parse error":  "postgres://opsbot:" + dsnSecret + "@127.0.0.1:1/x?connect_timeout=bad",
	"URL query, refused":          "postgresql://opsbot@127.0.0.1:1/x?sslmode=disable&password=" + dsnSecret,
	"URL query, parse error":      "postgres://opsbot@127.0.0.1:1/x?password=" + dsnSecret + "&connect_timeout=bad",
	"URL that does not parse":     "postgres://opsbot:" + dsnSecret + "@[::1/x",
	"sslpassword, refused":        "host=127.0.0.1 port=1 sslpassword=" + dsnSecret + " sslmode=disable",
	"URL query spaces, refused":   "postgres://opsbot@127.0.0.1:1/x?password=" + dsnSecret + "%20x&sslmode=disable",
	"URL escaped @, parse error":  "postgres://opsbot:a%40" + dsnSecret + "@127.0.0.1:1/x?connect_timeout=bad",
	"key=value escaped, refused":  `host=127.0.0.1 port=1 password=` + dsnSecret + `\ x sslmode=disable`,
	"quoted with quote, refused":  `host=127.0.0.1 port=1 password='` + dsnSecret + `\'s' sslmode=disable`,
	"unclosed quote, parse error": "host=127.0.0.1 port=1 password='" + dsnSecret,
}

// TestDSNSecretNowhere feeds each DSN spelling to every subcommand that
// opens the database and finds the password in none of their output, and
// each of them failing with the masked DSN or the reason.
func TestDSNSecretNowhere(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join(harness.ExampleConfig(t), "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	csv := "name,address,kind,site\nsw-9,10.0.0.9,switch,hq\n"
	commands := [][]string{
		{"serve"}, {"shell", "--user", "alice"}, {"migrate"}, {"status"}, {"config", "check"},
		{"config", "check", "--online"}, {"outbox", "list"}, {"devices", "import", "devices.csv"},
		{"discord", "register"},
	}
	for name, dsn := range secretDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := strings.Replace(string(example), `driver: sqlite `, `driver: postgres `, 1)
			cfg = strings.Replace(cfg, `"${OPSBOT_DSN:-opsbot.db}"`, "'"+strings.ReplaceAll(dsn, "'", "''")+"'", 1)
			harness.WriteFile(t, filepath.Join(dir, "opsbot.yaml"), cfg)
			harness.WriteFile(t, filepath.Join(dir, "devices.csv"), csv)
			for _, args := range commands {
				out, code := runFor(t, dir, "/help\n", 30*time.Second, append(args, "--config", "opsbot.yaml")...)
				if strings.Contains(out, dsnSecret) {
					t.Errorf("%v shows the password:\n%s", args, out)
				}
				// config check offline passes a DSN that parses; the
				// others must fail, and say something about why.
				offlineOK := args[0] == "config" && len(args) == 2 && !strings.Contains(name, "parse")
				if offlineOK {
					if code != 0 {
						t.Errorf("%v: exit %d for a DSN that parses\n%s", args, code, out)
					}
					continue
				}
				if code == 0 || !strings.Contains(out, "database") {
					t.Errorf("%v: exit %d, want a failure that names the database\n%s", args, code, out)
				}
			}
		})
	}
}

// runFor runs the binary in dir and returns its stdout and stderr together
// and its exit code; it is killed after within.
func runFor(t *testing.T, dir, stdin string, within time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, string(binary), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%v did not end within %s:\n%s", args, within, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestConfigCheckOpensDatabase: config check fails, naming the file and
// the operating system's reason, where serve could not open the SQLite
// file, and for a PostgreSQL DSN that does not parse (or, with --online,
// a server that does not answer); serve says the same.
func TestConfigCheckOpensDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	harness.WriteFile(t, filepath.Join(dir, "file"), "not a directory")
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		readOnly = "/sys" // root writes in any 0555 directory; not in sysfs
	}
	cases := []struct {
		name, db string
		online   bool
		want     []string // in the output; none means it passes
	}{
		{"sqlite here", "{driver: sqlite, dsn: ops.db}", false, nil},
		{"sqlite missing directory", "{driver: sqlite, dsn: nowhere/ops.db}", false, []string{"nowhere/ops.db", "directory nowhere does not exist"}},
		{"sqlite directory is a file", "{driver: sqlite, dsn: file/ops.db}", false, []string{"file/ops.db", "not a directory"}},
		{"sqlite read-only directory", "{driver: sqlite, dsn: " + readOnly + "/ops.db}", false, []string{readOnly + "/ops.db", "cannot create files in " + readOnly + ": "}},
		{"sqlite not a database", "{driver: sqlite, dsn: file}", false, []string{"file", "not a database"}},
		{"postgres does not parse", "{driver: postgres, dsn: 'host=db connect_timeout=soon'}", false, []string{"database.dsn: cannot parse `host=db connect_timeout=soon`", "invalid connect_timeout"}},
		{"postgres offline", "{driver: postgres, dsn: 'host=127.0.0.1 port=1 sslmode=disable'}", false, nil},
		{"postgres unreachable online", "{driver: postgres, dsn: 'host=127.0.0.1 port=1 sslmode=disable'}", true, []string{"connect", "refused"}},
	}
	if pg := os.Getenv("OPSBOT_TEST_POSTGRES"); pg != "" {
		cases = append(cases, struct {
			name, db string
			online   bool
			want     []string
		}{"postgres online", "{driver: postgres, dsn: '" + pg + "'}", true, nil})
	}
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
		harness.WriteFile(t, path, "database: "+c.db+"\n")
		args := []string{"config", "check", "--config", path}
		if c.online {
			args = append(args, "--online")
		}
		out, code := runFor(t, dir, "", 60*time.Second, args...)
		if c.want == nil {
			if code != 0 || !strings.Contains(out, "config OK") {
				t.Errorf("%s: exit %d\n%s", c.name, code, out)
			}
			continue
		}
		for _, w := range c.want {
			if code != 1 || !strings.Contains(out, w) {
				t.Errorf("%s: exit %d, want 1 and %q in:\n%s", c.name, code, w, out)
			}
		}
		if strings.Contains(c.name, "read-only") && !strings.Contains(out, "permission denied") && !strings.Contains(out, "read-only file system") {
			t.Errorf("%s: the operating system's reason is missing:\n%s", c.name, out)
		}
		if strings.HasPrefix(c.name, "sqlite") {
			out, code := runFor(t, dir, "", 60*time.Second, "serve", "--config", path)
			if code != 1 || !strings.Contains(out, c.want[0]) || !strings.Contains(out, c.want[1]) {
				t.Errorf("%s: serve exit %d, want the same reason:\n%s", c.name, code, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ops.db")); err == nil {
		t.Error("config check created the SQLite file")
	}
}
