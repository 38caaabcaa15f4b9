package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opsbot/harness"
)

// TestDevicesImport runs "opsbot devices import" as a user would: a bad
// file imports nothing and lists every bad row; a good one is then visible
// to /device lookup in the shell.
func TestDevicesImport(t *testing.T) {
	t.Parallel()
	dir := harness.ExampleConfig(t)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bad.csv", "name,address,kind,site,owner,tags,notes\n"+
		"good-1,192.0.2.1,switch,hq,it,core;floor1,ok\n"+
		"Bad Name,192.0.2.2,,,,,\n"+
		"good-2,300.1.1.1,,,,,\n"+
		"good-1,192.0.2.3,,,,,\n"+
		"lab-sw-1,192.0.2.4,,,,,\n")
	out, stderr, code := binary.Run(t, dir, "", "devices", "import", "--config", "config.example.yaml", "bad.csv")
	if code != 1 {
		t.Fatalf("bad file: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	for _, w := range []string{"nothing imported", "line 3: name \"bad name\"", "line 4: address \"300.1.1.1\"",
		"line 5: good-1 is already on line 2", "line 6: lab-sw-1 comes from the config file"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	write("good.csv", "name,address,kind,site,owner,tags,notes\n"+
		"good-1,192.0.2.1,switch,hq,it,core;floor1,\"rack 4, top\"\n"+
		"good-2,2001:db8::2,router,branch,it,edge,\n")
	out, stderr, code = binary.Run(t, dir, "", "devices", "import", "--config", "config.example.yaml", "good.csv")
	if code != 0 || !strings.Contains(out, "2 added, 0 updated") {
		t.Fatalf("good file: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	// The file may come before the flags, as with opsbot outbox.
	out, stderr, code = binary.Run(t, dir, "", "devices", "import", "good.csv", "--config", "config.example.yaml")
	if code != 0 || !strings.Contains(out, "0 added, 2 updated") {
		t.Fatalf("file before --config: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	out, stderr, code = binary.Run(t, dir, "/device lookup tag:core\n/device lookup 2001:db8::/64\n/device lookup 192.0.2.0/24\n",
		"shell", "--config", "config.example.yaml", "--user", "alice")
	if code != 0 {
		t.Fatalf("shell: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"good-1 (192.0.2.1)", "rack 4, top", "good-2 (2001:db8::2)"} {
		if !strings.Contains(out, w) {
			t.Errorf("shell output lacks %q:\n%s", w, out)
		}
	}
	for _, args := range [][]string{{"devices"}, {"devices", "import", "--config", "config.example.yaml"}, {"devices", "export"}} {
		if _, stderr, code := binary.Run(t, dir, "", args...); code != 2 || !strings.Contains(stderr, "devices import --config FILE FILE.csv") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if _, stderr, code := binary.Run(t, dir, "", "devices", "import", "--config", "config.example.yaml", "missing.csv"); code != 1 || !strings.Contains(stderr, "missing.csv") {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
}
