package tickets

import (
	"strings"
	"testing"

	"opsbot/bot"
)

// TestHowToComment: a card promises that thread replies become comments
// only where opsbot receives them: Slack (events) and Discord's gateway,
// not Discord's HTTP interactions.
func TestHowToComment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p       bot.Platform
		gateway bool
		replies bool
	}{
		{bot.Slack, false, true},
		{bot.Discord, true, true},
		{bot.Discord, false, false},
	} {
		h := &Handler{discordGateway: c.gateway}
		got := h.howToComment(c.p, 7, "this thread")
		if strings.Contains(got, "Replies in this thread become comments") != c.replies ||
			(!c.replies && !strings.Contains(got, `/ticket comment 7 "TEXT"`)) {
			t.Errorf("%s (gateway %v): %q", c.p, c.gateway, got)
		}
	}
}
