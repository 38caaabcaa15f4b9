package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Incoming is a command line as an adapter received it, before parsing.
type Incoming struct {
	Platform Platform
	Person   Person
	Channel  string
	Line     string
	Route    Route
	At       time.Time
}

// Call is a parsed request ready to run, or the reply that parsing produced
// (help, a parse error) when there is nothing to run.
type Call struct {
	Req   *Request
	sub   Sub
	reply *Reply
}

// Slow reports whether the call should be acknowledged first and answered
// later through the request's route.
func (c *Call) Slow() bool { return c.reply == nil && c.sub.Slow }

// AckText is the acknowledgement shown while a slow call runs.
func (c *Call) AckText() string {
	if c.sub.Ack != nil {
		return c.sub.Ack(c.Req)
	}
	return "Working on it…"
}

// TryAgain answers a request that could not be recorded as handled because
// the database did not answer: nothing ran. Every adapter says the same.
const TryAgain = "opsbot cannot reach its database right now. Nothing was changed; try again in a moment."

// Router holds the command table and runs requests through it.
type Router struct {
	cmds     []Command
	byName   map[string]Command
	dir      *Directory
	log      *slog.Logger
	now      func() time.Time
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// inactive, when set, says whether a configured person was offboarded:
	// they are then treated as an unknown employee with no roles.
	inactive func(ctx context.Context, name string) (bool, error)
	// list is /help's list of the commands, made once: the router's
	// commands are fixed when it is made.
	list string
}

// SetInactive plugs in the stored inactive state of people (offboarding);
// set it before the router handles requests. When the lookup fails the
// request is refused rather than run with the config's roles.
func (r *Router) SetInactive(f func(ctx context.Context, name string) (bool, error)) { r.inactive = f }

// unknown is how an offboarded person is seen: like an employee the config
// does not list, by platform id, with no roles and no teams. Without a
// platform id (the shell) the name gets an "inactive:" prefix, so nothing
// that looks people up in the config by name finds them either.
func unknown(p Person) Person {
	switch {
	case p.SlackID != "":
		return Person{Name: "slack:" + p.SlackID, SlackID: p.SlackID}
	case p.DiscordID != "":
		return Person{Name: "discord:" + p.DiscordID, DiscordID: p.DiscordID}
	}
	return Person{Name: "inactive:" + p.Name}
}

// NewRouter builds the command table once; two commands or subcommands with
// the same name are an error. /help is added from the same table.
func NewRouter(dir *Directory, log *slog.Logger, reg prometheus.Registerer, now func() time.Time, cmds ...Command) (*Router, error) {
	r := &Router{dir: dir, log: log, now: now, byName: map[string]Command{}}
	help := Command{Name: "help", Summary: "List the commands, or the subcommands of one", Subs: []Sub{{
		Args: []Param{{Name: "command", Kind: KindString, Placeholder: "COMMAND"}},
		Run:  r.help,
	}}}
	for _, c := range append([]Command{help}, cmds...) {
		if _, dup := r.byName[c.Name]; dup {
			return nil, fmt.Errorf("command table: /%s registered twice", c.Name)
		}
		seen := map[string]bool{}
		for _, s := range c.Subs {
			if seen[s.Name] || s.Name == "help" {
				return nil, fmt.Errorf("command table: /%s %s registered twice", c.Name, s.Name)
			}
			seen[s.Name] = true
			if s.Run == nil {
				return nil, fmt.Errorf("command table: /%s %s has no handler", c.Name, s.Name)
			}
		}
		r.byName[c.Name] = c
		r.cmds = append(r.cmds, c)
	}
	r.list = r.commandList()
	r.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_commands_total", Help: "Commands handled, by command and outcome.",
	}, []string{"command", "outcome"})
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsbot_command_duration_seconds", Help: "Time to handle a command.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"command"})
	if reg != nil {
		if err := reg.Register(r.total); err != nil {
			return nil, fmt.Errorf("register command metrics: %w", err)
		}
		if err := reg.Register(r.duration); err != nil {
			return nil, fmt.Errorf("register command metrics: %w", err)
		}
	}
	return r, nil
}

// Commands returns the command table, /help first, in registration order.
func (r *Router) Commands() []Command { return slices.Clone(r.cmds) }

// Directory returns the people directory the router resolves mentions with.
func (r *Router) Directory() *Directory { return r.dir }

// Parse turns an incoming line into a call.
func (r *Router) Parse(in Incoming) *Call {
	at := in.At
	if at.IsZero() {
		at = r.now()
	}
	req := &Request{ID: newID(), Platform: in.Platform, Person: in.Person, Channel: in.Channel,
		Line: in.Line, Route: in.Route, At: at, values: map[string]any{}}
	fail := func(err error, usage string) *Call {
		ue, _ := AsUserError(err)
		msg := err.Error()
		if ue != nil && ue.Usage != "" {
			usage = ue.Usage
		}
		if usage != "" {
			msg += "\nUsage: " + usage
		}
		r.total.WithLabelValues(req.Name(), "parse_error").Inc()
		return &Call{Req: req, reply: &Reply{Text: msg, Severity: SeverityDanger}}
	}
	name, toks, err := SplitCommand(in.Line)
	if err != nil {
		req.Command = "unknown"
		return fail(err, r.guessUsage(in.Line))
	}
	cmd, ok := r.byName[name]
	if !ok {
		req.Command = "unknown"
		msg := fmt.Sprintf("/%s is not a command.", name)
		if s := Closest(name, r.names()); s != "" {
			msg += fmt.Sprintf(" Did you mean /%s?", s)
		}
		return fail(Errorf("%s Type /help for the list.", msg), "")
	}
	req.Command = cmd.Name
	sub, rest, helpOnly := r.pickSub(cmd, toks)
	if helpOnly {
		reply := r.commandHelp(cmd)
		return &Call{Req: req, reply: &reply}
	}
	if sub == nil {
		word := strings.ToLower(toks[0].Text)
		msg := fmt.Sprintf("/%s %s is not a command.", cmd.Name, word)
		var names []string
		for _, s := range cmd.Subs {
			names = append(names, s.Name)
		}
		if s := Closest(word, names); s != "" {
			msg += fmt.Sprintf(" Did you mean /%s %s?", cmd.Name, s)
		}
		return fail(Errorf("%s Type /%s help for the list.", msg, cmd.Name), "")
	}
	req.Sub = sub.Name
	for _, t := range rest {
		if !t.Quoted && (t.Text == "--help" || t.Text == "-h") {
			reply := r.subHelp(cmd, *sub)
			return &Call{Req: req, reply: &reply}
		}
	}
	values, err := binder{dir: r.dir}.bind(*sub, rest)
	if err != nil {
		return fail(err, cmd.Usage(*sub))
	}
	req.values = values
	return &Call{Req: req, sub: *sub}
}

// guessUsage finds the usage line of a line that could not be tokenized, from
// its first two words, so even a broken quote gets the right hint.
func (r *Router) guessUsage(line string) string {
	words := strings.Fields(line)
	if len(words) == 0 {
		return ""
	}
	cmd, ok := r.byName[strings.ToLower(strings.TrimPrefix(words[0], "/"))]
	if !ok {
		return ""
	}
	if len(words) > 1 {
		if s, ok := cmd.sub(strings.ToLower(words[1])); ok {
			return cmd.Usage(s)
		}
	}
	if s, ok := cmd.sub(""); ok {
		return cmd.Usage(s)
	}
	return ""
}

// pickSub finds the subcommand named by the first token. It reports helpOnly
// when the person asked for the command's help or named no subcommand of a
// command that needs one.
func (r *Router) pickSub(cmd Command, toks []Token) (*Sub, []Token, bool) {
	if len(toks) > 0 && !toks[0].Quoted {
		word := strings.ToLower(toks[0].Text)
		if word == "help" && cmd.Name != "help" {
			return nil, nil, true
		}
		if s, ok := cmd.sub(word); ok && word != "" {
			return &s, toks[1:], false
		}
	}
	if s, ok := cmd.sub(""); ok {
		return &s, toks, false
	}
	if len(toks) == 0 {
		return nil, nil, true
	}
	return nil, nil, false
}

// Run executes a call and turns its outcome into a reply. It never panics:
// a handler panic is logged with its stack and answered as an internal error.
func (r *Router) Run(ctx context.Context, c *Call) (reply Reply) {
	if c.reply != nil {
		return *c.reply
	}
	req := c.Req
	start := time.Now()
	outcome := "ok"
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("command panicked", "request_id", req.ID, "command", req.Name(),
				"person", req.Person.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			outcome = "error"
			reply = internalError(req.ID)
		}
		r.total.WithLabelValues(req.Name(), outcome).Inc()
		r.duration.WithLabelValues(req.Name()).Observe(time.Since(start).Seconds())
	}()
	if r.inactive != nil && req.Person.Known {
		gone, err := r.inactive(ctx, req.Person.Name)
		if err != nil {
			outcome = "error"
			r.log.Error("read person state", "request_id", req.ID, "person", req.Person.Name, "err", err)
			return internalError(req.ID)
		}
		if gone {
			req.Person = unknown(req.Person)
		}
	}
	if len(c.sub.Roles) > 0 && !slices.ContainsFunc(c.sub.Roles, req.Person.HasRole) {
		outcome = "denied"
		return Reply{Severity: SeverityDanger, Text: fmt.Sprintf("/%s needs the %s role; ask someone who has it.",
			req.Name(), strings.Join(c.sub.Roles, " or "))}
	}
	out, err := c.sub.Run(ctx, req)
	if err == nil {
		return r.menus(ctx, req, out)
	}
	if ue, ok := AsUserError(err); ok {
		outcome = "user_error"
		if errors.Is(err, ErrForbidden) {
			outcome = "denied"
		}
		text := ue.Msg
		if ue.Usage != "" {
			text += "\nUsage: " + ue.Usage
		}
		return Reply{Text: text, Severity: SeverityDanger}
	}
	var dup interface{ DuplicateRequest() bool }
	if errors.As(err, &dup) && dup.DuplicateRequest() {
		// A retry of a request handled already: its first attempt's
		// answer stands (the adapter gives it); this one wrote nothing.
		outcome = "retry"
		r.log.Info("command was a retry of one handled already", "request_id", req.ID, "command", req.Name())
		return Reply{Text: "opsbot handled this request already.", Severity: SeverityInfo}
	}
	outcome = "error"
	r.log.Error("command failed", "request_id", req.ID, "command", req.Name(),
		"person", req.Person.Name, "platform", string(req.Platform), "err", err)
	return internalError(req.ID)
}

// Handle parses and runs a line in one go, for adapters that need no
// acknowledgement step.
func (r *Router) Handle(ctx context.Context, in Incoming) Reply {
	return r.Run(ctx, r.Parse(in))
}

func internalError(id string) Reply {
	return Reply{Severity: SeverityDanger, Text: fmt.Sprintf(
		"Something went wrong on our side (reference %s). Nothing was changed; try again in a moment.", id)}
}

func (r *Router) names() []string {
	names := make([]string, 0, len(r.cmds))
	for _, c := range r.cmds {
		names = append(names, c.Name)
	}
	return names
}

func (r *Router) help(_ context.Context, req *Request) (Reply, error) {
	if name := strings.ToLower(strings.TrimPrefix(req.String("command"), "/")); name != "" {
		cmd, ok := r.byName[name]
		if !ok {
			msg := fmt.Sprintf("/%s is not a command.", name)
			if s := Closest(name, r.names()); s != "" {
				msg += fmt.Sprintf(" Did you mean /%s?", s)
			}
			return Reply{}, Errorf("%s Type /help for the list.", msg)
		}
		return r.commandHelp(cmd), nil
	}
	return Reply{Title: "opsbot commands", Text: r.list}, nil
}

// commandList is /help's text: every command with its summary.
func (r *Router) commandList() string {
	var b strings.Builder
	for _, c := range r.cmds {
		fmt.Fprintf(&b, "/%-9s %s\n", c.Name, c.Summary)
	}
	b.WriteString("\nType /COMMAND help for its subcommands, e.g. /ticket help.")
	return b.String()
}

func (r *Router) commandHelp(cmd Command) Reply {
	var b strings.Builder
	for i, s := range cmd.Subs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(cmd.Usage(s))
		if s.Summary != "" {
			b.WriteString("\n    " + s.Summary)
		}
		if len(s.Roles) > 0 {
			b.WriteString(" (" + strings.Join(s.Roles, " or ") + ")")
		}
	}
	return Reply{Title: "/" + cmd.Name + " — " + cmd.Summary, Text: b.String()}
}

func (r *Router) subHelp(cmd Command, s Sub) Reply {
	text := "Usage: " + cmd.Usage(s)
	for _, p := range append(slices.Clone(s.Args), s.Flags...) {
		if p.Help != "" {
			text += fmt.Sprintf("\n  %s: %s", p.Name, p.Help)
		}
	}
	return Reply{Title: strings.TrimSpace("/" + cmd.Name + " " + s.Name + " — " + s.Summary), Text: text}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
