package main

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"opsbot/bot/shell"
	"opsbot/config"
	"opsbot/harness"
)

// example is one command line found in the docs, and where.
type example struct {
	line, where string
}

var (
	// commandStart: text that starts with a slash command.
	commandStart = regexp.MustCompile(`^/[a-zA-Z]+(\s|$)`)
	codeSpan     = regexp.MustCompile("`([^`]+)`")
	// gap separates a code-block line's commands from each other and
	// from their explanation.
	gap = regexp.MustCompile(`\s{2,}|\s#\s`)
	// placeholder marks a usage line rather than an example: options in
	// brackets, alternatives, NAME, "N", @p. A quoted "..." is text, and
	// runs.
	placeholder = regexp.MustCompile(`[\[\]|]|(^|\s)"?[A-Z][A-Z_]*"?(\s|$)|@p(erson)?\b`)
)

// option is an option as a usage line names it.
var option = regexp.MustCompile(`--[a-z][a-z-]*`)

// quotedText is a quoted argument that is text, not a placeholder such as
// "N" or "TEXT": it has a space or a lower-case letter.
var quotedText = regexp.MustCompile(`"[^"]*[ a-z][^"]*"`)

// isUsage reports whether line is a usage line rather than an example:
// placeholders outside quoted text.
func isUsage(line string) bool {
	return placeholder.MatchString(quotedText.ReplaceAllString(line, `"x"`))
}

// notOurs are slash words the docs use that are not opsbot commands: HTTP
// paths, a container volume, Slack's own commands.
var notOurs = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/invite": true, "/COMMAND": true, "/data": true}

// readmeExamples returns every command line in README.md: each inline code
// span, and each command of a code-block line (prompt and explanation
// dropped), that starts with a slash command.
func readmeExamples(t *testing.T, root string) []example {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	add := func(s string, n int) {
		s = strings.TrimSpace(s)
		first, _, _ := strings.Cut(s, " ")
		if !commandStart.MatchString(s) || notOurs[first] {
			return
		}
		out = append(out, example{line: s, where: "README.md:" + strconv.Itoa(n)})
	}
	// A code span may run over a line end: spans are found in whole
	// paragraphs, and named by the paragraph's first line.
	var para []string
	paraLine := 0
	flush := func() {
		for _, m := range codeSpan.FindAllStringSubmatch(strings.Join(para, " "), -1) {
			add(m[1], paraLine)
		}
		para = nil
	}
	sc := bufio.NewScanner(f)
	inBlock, n := false, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			flush()
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			if strings.TrimSpace(line) == "" {
				flush()
				continue
			}
			if len(para) == 0 {
				paraLine = n
			}
			para = append(para, strings.TrimSpace(line))
			continue
		}
		l := strings.TrimPrefix(strings.TrimSpace(line), "opsbot> ")
		if strings.HasPrefix(l, "echo '/") { // a command piped into the shell
			l = strings.TrimPrefix(l, "echo '")
			l, _, _ = strings.Cut(l, "'")
		}
		for _, seg := range gap.Split(l, -1) {
			if strings.HasPrefix(seg, "#") || strings.HasPrefix(seg, "(") {
				break
			}
			add(seg, n)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestExamples returns each slash command of the Slack app manifest
// with its usage hint, as a person would type it.
func manifestExamples(t *testing.T, root string) []example {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "slack-app-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command   string `yaml:"command"`
				UsageHint string `yaml:"usage_hint"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, c := range m.Features.SlashCommands {
		out = append(out, example{line: strings.TrimSpace(c.Command + " " + c.UsageHint), where: "docs/slack-app-manifest.yaml " + c.Command})
	}
	if len(out) == 0 {
		t.Fatal("no slash commands in the manifest")
	}
	return out
}

// usageError reports whether a shell reply says the command was not
// understood: an unknown command or subcommand, or a usage error.
func usageError(reply string) bool {
	for _, s := range []string{"is not a command", "\nUsage: ", "unknown option", "unexpected \""} {
		if strings.Contains(reply, s) {
			return true
		}
	}
	return false
}

// TestReadmeExamples runs every command example of README.md and every
// usage hint of the Slack app manifest through the shell, as alice on the
// example config, and fails on an unknown command or a usage error. A usage
// line (with placeholders such as NAME or [--mine]) and a bare mention of a
// command ("/ticket pending") are not run; their command and subcommand
// must be in the command's own help.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := harness.ExampleConfig(t)
	cfg, err := config.Load(filepath.Join(dir, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.DSN = filepath.Join(dir, "opsbot.db")
	ctx := t.Context()
	c, err := build(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	alice, _ := c.dir.ByName("alice")
	run := func(line string) string {
		var out bytes.Buffer
		sh := &shell.Adapter{Router: c.router, Person: alice, Out: &out}
		if err := sh.Run(ctx, strings.NewReader(line+"\n")); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	help := map[string]string{}
	examples := append(readmeExamples(t, root), manifestExamples(t, root)...)
	if len(examples) < 50 {
		t.Fatalf("found only %d examples; is the extraction broken?", len(examples))
	}
	ran := 0
	for _, e := range examples {
		words := strings.Fields(e.line)
		if len(words) <= 2 || isUsage(e.line) {
			cmd := strings.ToLower(words[0])
			if _, ok := help[cmd]; !ok {
				help[cmd] = run(cmd + " help")
			}
			name := cmd
			if len(words) > 1 && regexp.MustCompile(`^[a-z]+$`).MatchString(words[1]) && cmd != "/help" {
				name += " " + words[1]
			}
			usage := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `( .*)?$`).FindString(help[cmd])
			if usageError(help[cmd]) || usage == "" {
				t.Errorf("%s: %q: %s is not in %s help:\n%s", e.where, e.line, name, cmd, help[cmd])
				continue
			}
			// Each option the line names is one the subcommand takes.
			if name != cmd {
				for _, opt := range option.FindAllString(e.line, -1) {
					if !strings.Contains(usage, opt+" ") && !strings.Contains(usage, opt+"]") && !strings.HasSuffix(usage, opt) {
						t.Errorf("%s: %q: %s takes no %s (its usage: %s)", e.where, e.line, name, opt, usage)
					}
				}
			}
			continue
		}
		ran++
		if reply := run(e.line); usageError(reply) {
			t.Errorf("%s: %q is not understood:\n%s", e.where, e.line, reply)
		}
	}
	t.Logf("ran %d of %d examples; checked the others' names against the help", ran, len(examples))
	if ran < 15 {
		t.Errorf("ran only %d examples; is the extraction broken?", ran)
	}
}

// TestReadmeSlackCurl runs README's curl and openssl snippet in a fresh
// directory holding only the binary and config.example.yaml, against the
// real serve it starts, and finds the ticket it filed. The snippet's
// 127.0.0.1:8080 becomes a free port (through OPSBOT_LISTEN, which the
// example config reads), so it runs beside other tests.
func TestReadmeSlackCurl(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "openssl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the snippet needs it", tool)
		}
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var snippet string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(block[1], "openssl dgst") && strings.Contains(block[1], "/slack/commands") {
			snippet = block[1]
		}
	}
	if snippet == "" {
		t.Fatal("README has no sh block that signs a Slack command with openssl")
	}
	dir := harness.ExampleConfig(t)
	data, err := os.ReadFile(string(binary))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "opsbot"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", strings.ReplaceAll(snippet, "127.0.0.1:8080", addr))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPSBOT_LISTEN="+addr)
	// serve runs in the background of the snippet: its own process group,
	// killed whole when the test ends, whatever the snippet did.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out harness.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	if err := cmd.Wait(); err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("snippet: %v\n%s\nserve.log:\n%s", err, out.String(), logs)
	}
	got := out.String()
	for _, want := range []string{`Filed ticket #1: Printer jams`, "#1 Printer jams", "@alice filed it"} {
		if !strings.Contains(got, want) {
			t.Errorf("snippet output lacks %q:\n%s", want, got)
		}
	}
	// And, apart from the snippet, the ticket is in the database it used.
	sh := exec.Command(string(binary), "shell", "--config", "try-slack.yaml", "--user", "alice")
	sh.Dir = dir
	sh.Env = append(os.Environ(), "SLACK_BOT_TOKEN=xoxb-x", "SLACK_SIGNING_SECRET=x")
	sh.Stdin = strings.NewReader("/ticket show 1\n")
	shown, err := sh.CombinedOutput()
	if err != nil || !strings.Contains(string(shown), "#1 Printer jams") || !regexp.MustCompile(`Priority: +high`).Match(shown) {
		t.Errorf("the filed ticket: %v\n%s", err, shown)
	}
}
