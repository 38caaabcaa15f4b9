// Package harness is the set-up every suite that runs the real opsbot shares:
// the unit tests of the root package, the reliability and replica tests and
// the load bench. It builds the binary, writes configs, starts `opsbot serve`
// and waits until it listens, and sends requests signed the way Slack (v0
// HMAC-SHA256 over `v0:timestamp:body`) and Discord (Ed25519 over
// `timestamp+body`) sign them.
//
// The platform fakes are not here: they are harness/fakeslack and
// harness/fakediscord.
package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary is the path of an opsbot binary built from this module.
type Binary string

// ModuleRoot is the directory of opsbot's go.mod, wherever the caller runs.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("find the module: not inside opsbot's module (run from its tree)")
	}
	return filepath.Dir(mod), nil
}

// Build builds opsbot from the module root into dir.
func Build(dir string) (Binary, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "opsbot")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build opsbot: %w\n%s", err, out)
	}
	return Binary(bin), nil
}

// Main is the TestMain of a suite that runs the real program: it builds
// opsbot once into bin, runs the tests, removes the binary and exits with
// the tests' result.
func Main(m *testing.M, bin *Binary) {
	dir, err := os.MkdirTemp("", "opsbot-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin, err = Build(dir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Run runs the binary in dir with stdin and returns its stdout, stderr and
// exit code; a failure to run it at all fails the test.
func (b Binary) Run(t testing.TB, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(string(b), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// ExampleConfig copies the module's config.example.yaml into a fresh
// directory, so that the SQLite file it names lands there, and returns the
// directory.
func ExampleConfig(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	WriteFile(t, filepath.Join(dir, "config.example.yaml"), string(data))
	return dir
}

// WriteFile writes text to path, readable by its owner only (configs hold
// secrets).
func WriteFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteConfig writes cfg as dir/opsbot.yaml and returns its path.
func WriteConfig(t testing.TB, dir, cfg string) string {
	t.Helper()
	path := filepath.Join(dir, "opsbot.yaml")
	WriteFile(t, path, cfg)
	return path
}

// WaitUntil polls cond every 50 ms until it holds, failing the test with
// what it waited for after within.
func WaitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RandomHex is n random bytes in hex: trigger ids, secrets.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
