package bot

import (
	"context"
	"strings"
)

// Message is a chat message an adapter hands to the domain: the source of a
// ticket filed from a message, or a reply in a ticket's thread.
type Message struct {
	Platform Platform
	// Channel is the platform's channel id; Guild is Discord's server id.
	Channel string
	Guild   string
	// ID is the message's platform id (Slack's ts, Discord's snowflake).
	ID string
	// Thread is the id of the message this one is a reply under; "" for a
	// message at the top of its channel.
	Thread string
	Author Person
	// Bot is true for messages a bot (opsbot included) wrote.
	Bot  bool
	Text string
	// Link opens the message in the platform's client.
	Link string
}

// Intake turns chat messages into tickets and thread replies into ticket
// comments. The tickets handler implements it; adapters call it.
type Intake interface {
	// FileFromMessage files a ticket from m on behalf of by, once per
	// message however often it is asked, and returns the reply for by.
	FileFromMessage(ctx context.Context, m Message, by Person) (Reply, error)
	// ThreadReply records a reply in a ticket's thread as a comment, once
	// per message; replies elsewhere or by other people are ignored.
	ThreadReply(ctx context.Context, m Message) error
}

// Choice is one suggestion of a type-ahead list: what the person sees and
// the value that goes into the command.
type Choice struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// CompleteFunc suggests values for an argument from what has been typed so
// far, as the person may see them. It must answer in milliseconds: Slack
// and Discord wait about three seconds for the whole round trip.
type CompleteFunc func(ctx context.Context, p Person, prefix string) []Choice

// Complete answers a type-ahead request for one argument or flag of a
// command; nil when the argument has no completer.
func (r *Router) Complete(ctx context.Context, p Person, command, sub, param, prefix string) []Choice {
	cmd, ok := r.byName[strings.ToLower(command)]
	if !ok {
		return nil
	}
	s, ok := cmd.sub(strings.ToLower(sub))
	if !ok {
		return nil
	}
	if len(s.Roles) > 0 && !hasAnyRole(p, s.Roles) {
		return nil
	}
	for _, a := range append(append([]Param{}, s.Args...), s.Flags...) {
		if a.Name == param && a.Complete != nil {
			return a.Complete(ctx, p, strings.TrimSpace(prefix))
		}
	}
	return nil
}

func hasAnyRole(p Person, roles []string) bool {
	for _, r := range roles {
		if p.HasRole(r) {
			return true
		}
	}
	return false
}

// menus checks the menus of a handler's reply against the command table:
// a menu whose command or argument does not exist is a bug, logged and
// dropped rather than shown as a menu that cannot work. A menu over an
// argument with a completer is marked TypeAhead and, when the handler gave
// no options, filled from the completer as the person who asked.
func (r *Router) menus(ctx context.Context, req *Request, reply Reply) Reply {
	if len(reply.Menus) == 0 {
		return reply
	}
	kept := make([]Menu, 0, len(reply.Menus))
	for _, m := range reply.Menus {
		param, ok := r.menuParam(m)
		if !ok {
			r.log.Error("reply menu names no first argument of a command; menu dropped", "request_id", req.ID,
				"command", req.Name(), "menu_command", m.Command, "menu_param", m.Param)
			continue
		}
		if param.Complete != nil {
			m.TypeAhead = true
			if len(m.Options) == 0 {
				cmd, sub, _ := m.Target()
				m.Options = r.Complete(ctx, req.Person, cmd, sub, param.Name, "")
				m.Options = m.Options[:min(len(m.Options), MaxMenuOptions)]
			}
		}
		if len(m.Options) == 0 && !m.TypeAhead {
			continue // nothing to choose from
		}
		kept = append(kept, m)
	}
	reply.Menus = kept
	return reply
}

// menuParam is the argument a menu fills: the first positional argument of
// the subcommand its Command names.
func (r *Router) menuParam(m Menu) (Param, bool) {
	command, sub, ok := m.Target()
	if !ok {
		return Param{}, false
	}
	cmd, ok := r.byName[command]
	if !ok {
		return Param{}, false
	}
	s, ok := cmd.sub(sub)
	if !ok || len(s.Args) == 0 || s.Args[0].Name != m.Param {
		return Param{}, false
	}
	return s.Args[0], true
}
