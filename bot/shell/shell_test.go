package shell

import (
	"testing"

	"opsbot/bot"
)

func TestRenderMenus(t *testing.T) {
	t.Parallel()
	devices := []bot.Choice{{Label: "core-sw-1", Value: "core-sw-1"}, {Label: "core-sw-2", Value: "core-sw-2"},
		{Label: "core-sw-3", Value: "core-sw-3"}, {Label: "core-sw-4", Value: "core-sw-4"}}
	for _, tt := range []struct {
		name  string
		reply bot.Reply
		want  string
	}{
		{"type-ahead", bot.Reply{Title: "12 devices match \"core\"", Text: "core-sw-1 — 10.0.0.1",
			Menus: []bot.Menu{{Placeholder: "Show a device", Command: "/device show", Param: "name", Options: devices, TypeAhead: true}}},
			"12 devices match \"core\"\ncore-sw-1 — 10.0.0.1\n  Show a device: /device show NAME (e.g. core-sw-1, core-sw-2, core-sw-3, …)\n"},
		{"few", bot.Reply{Text: "Two requests", Menus: []bot.Menu{{Command: "/access show", Param: "id",
			Options: []bot.Choice{{Label: "#1 prod-db", Value: "1"}, {Label: "#2 vpn", Value: "2"}}}}},
			"Two requests\n  Pick one: /access show ID (e.g. 1, 2)\n"},
		{"typed only", bot.Reply{Text: "x", Menus: []bot.Menu{{Placeholder: "Open a ticket", Command: "/ticket show", Param: "n", TypeAhead: true}}},
			"x\n  Open a ticket: /ticket show N\n"},
		{"hostile values are shown quoted", bot.Reply{Text: "x", Menus: []bot.Menu{{Command: "/device show", Param: "name",
			Options: []bot.Choice{{Value: "x --role admin"}, {Value: `"; /access approve 1`}, {Value: "--interfaces"}}}}},
			"x\n  Pick one: /device show NAME (e.g. \"x --role admin\", \"\\\"; /access approve 1\", \"--interfaces\")\n"},
		{"invalid menu", bot.Reply{Text: "x", Menus: []bot.Menu{{Command: "device show", Param: "name", Options: devices}}}, "x\n"},
	} {
		if got := Render(tt.reply); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
