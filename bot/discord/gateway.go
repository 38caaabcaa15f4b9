package discord

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// apiTransport sends the requests discordgo makes to Discord's API base to
// another base (discord.api_url), within the gateway session's context.
type apiTransport struct {
	// ctx is the session's: a lookup must not outlive Run.
	ctx      context.Context
	from, to string
	next     http.RoundTripper
}

func (t *apiTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	if rest, ok := strings.CutPrefix(r.URL.String(), t.from); ok {
		u, err := r.URL.Parse(t.to + rest)
		if err != nil {
			return nil, fmt.Errorf("discord api url: %w", err)
		}
		r.URL, r.Host = u, u.Host
	}
	return t.next.RoundTrip(r)
}
