package tickets_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"opsbot/bot"
	"opsbot/storage/storagetest"
)

// TestTicketListMenu: /ticket list offers "Open a ticket", a menu of the
// listed tickets over /ticket show whose choice shows that ticket, and
// whose type-ahead only offers tickets the chooser may see.
func TestTicketListMenu(t *testing.T) {
	t.Parallel()
	env, h := newEnv(t, storagetest.Backends(t)[0], testConfig())
	for i := 1; i <= 3; i++ {
		who := "dave"
		if i == 3 {
			who = "bob"
		}
		env.Run(who, fmt.Sprintf(`/ticket new "problem %d"`, i))
	}
	r := env.Run("carol", "/ticket list")
	if len(r.Menus) != 1 {
		t.Fatalf("menus = %+v", r.Menus)
	}
	m := r.Menus[0]
	if m.Command != "/ticket show" || m.Param != "n" || !m.TypeAhead || len(m.Options) != 3 ||
		m.Options[0] != (bot.Choice{Label: "#3 problem 3", Value: "3"}) {
		t.Fatalf("menu = %+v", m)
	}
	cmd, sub, _ := m.Target()
	if got := env.Text("carol", bot.MenuLine(cmd, sub, m.Options[1].Value)); !strings.Contains(got, "problem 2") {
		t.Errorf("choosing #2:\n%s", got)
	}
	// dave's list and type-ahead hold only his own tickets; choosing bob's
	// ticket anyway is refused by /ticket show itself.
	r = env.Run("dave", "/ticket list")
	if len(r.Menus) != 1 || len(r.Menus[0].Options) != 2 {
		t.Fatalf("dave's menu = %+v", r.Menus)
	}
	dave, _ := env.Deps.Dir.ByName("dave")
	for _, c := range h.CompleteTicket(context.Background(), dave, "") {
		if c.Value == "3" {
			t.Errorf("dave's type-ahead offers bob's ticket: %+v", c)
		}
	}
	if got := env.Text("dave", bot.MenuLine("ticket", "show", "3")); strings.Contains(got, "problem 3") {
		t.Errorf("dave chose bob's ticket and saw it:\n%s", got)
	}
	// One ticket needs no menu.
	if r := env.Run("carol", "/ticket list --limit 1"); len(r.Menus) != 0 {
		t.Errorf("a list of one has a menu: %+v", r.Menus)
	}
}
