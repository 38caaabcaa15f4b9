package access_test

import (
	"strings"
	"testing"

	"opsbot/bot"
	"opsbot/storage/storagetest"
)

// TestAccessListMenu: /access list offers "Show a request", a menu over
// /access show of the listed requests; the choice shows the request.
func TestAccessListMenu(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storagetest.Backends(t)[0], "")
	f.expect("dave", `/access request prod-db --for 2h --reason "deploy"`, "Requested #1")
	if r := f.Run("bob", "/access list"); len(r.Menus) != 0 {
		t.Errorf("a list of one has a menu: %+v", r.Menus)
	}
	f.expect("dave", `/access request lab --for 1h`, "Requested #2")
	r := f.Run("bob", "/access list")
	if len(r.Menus) != 1 {
		t.Fatalf("menus = %+v", r.Menus)
	}
	m := r.Menus[0]
	if m.Command != "/access show" || m.Param != "id" || m.TypeAhead || len(m.Options) != 2 {
		t.Fatalf("menu = %+v", m)
	}
	var two bot.Choice
	for _, c := range m.Options {
		if c.Value == "2" {
			two = c
		}
	}
	if !strings.Contains(two.Label, "#2 lab") || !strings.Contains(two.Label, "@dave") {
		t.Errorf("option = %+v", two)
	}
	cmd, sub, _ := m.Target()
	if got := f.Text("bob", bot.MenuLine(cmd, sub, two.Value)); !strings.Contains(got, "lab") || strings.Contains(got, "prod-db") {
		t.Errorf("choosing #2:\n%s", got)
	}
}
