package discord

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// Discord's limits on application commands.
const (
	maxCommands           = 100
	maxOptions            = 25
	maxChoices            = 25
	maxNameLen            = 32
	maxCommandDescription = 100
	maxChoiceLen          = 100
)

// DefaultSub is the name under which a command's default subcommand (the
// one typed with no subcommand word) appears when the command also has named
// subcommands: Discord does not let a command take both options and
// subcommands.
const DefaultSub = "default"

// ApplicationCommands turns the router's command table into Discord chat
// input commands: each Sub a subcommand, each argument and flag a typed
// option. It reports every name or limit Discord would refuse, at once.
// Descriptions longer than Discord allows are shortened, not refused.
func ApplicationCommands(cmds []bot.Command) ([]*discordgo.ApplicationCommand, error) {
	var errs []error
	if len(cmds) > maxCommands {
		errs = append(errs, fmt.Errorf("%d commands; Discord allows %d", len(cmds), maxCommands))
	}
	out := make([]*discordgo.ApplicationCommand, 0, len(cmds))
	for _, c := range cmds {
		where := "/" + c.Name
		checkName(&errs, where, c.Name)
		ac := &discordgo.ApplicationCommand{Type: discordgo.ChatApplicationCommand, Name: c.Name,
			Description: describe(c.Summary, "The /"+c.Name+" command"), Options: []*discordgo.ApplicationCommandOption{}}
		if len(c.Subs) == 1 && c.Subs[0].Name == "" {
			ac.Options = options(&errs, where, c.Subs[0])
		} else {
			if len(c.Subs) > maxOptions {
				errs = append(errs, fmt.Errorf("%s: %d subcommands; Discord allows %d", where, len(c.Subs), maxOptions))
			}
			for _, s := range c.Subs {
				name := s.Name
				if name == "" {
					name = DefaultSub
					if _, clash := findSub(c, DefaultSub); clash {
						errs = append(errs, fmt.Errorf("%s: a subcommand is named %q, which the default subcommand needs on Discord", where, DefaultSub))
					}
				}
				swhere := where + " " + name
				checkName(&errs, swhere, name)
				ac.Options = append(ac.Options, &discordgo.ApplicationCommandOption{
					Type: discordgo.ApplicationCommandOptionSubCommand, Name: name,
					Description: describe(s.Summary, "/"+c.Name+" "+name),
					Options:     options(&errs, swhere, s),
				})
			}
		}
		out = append(out, ac)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the command table does not fit Discord's rules:\n%w", errors.Join(errs...))
	}
	return append(out, messageCommands(cmds)...), nil
}

// options are a subcommand's arguments then flags, the required ones first
// as Discord insists.
func options(errs *[]error, where string, s bot.Sub) []*discordgo.ApplicationCommandOption {
	var req, opt []*discordgo.ApplicationCommandOption
	seen := map[string]bool{}
	for _, p := range append(append([]bot.Param{}, s.Args...), s.Flags...) {
		pwhere := where + " " + p.Name
		checkName(errs, pwhere, p.Name)
		if seen[p.Name] {
			*errs = append(*errs, fmt.Errorf("%s: two options named %q", where, p.Name))
		}
		seen[p.Name] = true
		o := option(errs, pwhere, p)
		if p.Required {
			req = append(req, o)
		} else {
			opt = append(opt, o)
		}
	}
	all := append(req, opt...)
	if len(all) > maxOptions {
		*errs = append(*errs, fmt.Errorf("%s: %d options; Discord allows %d", where, len(all), maxOptions))
	}
	if all == nil {
		all = []*discordgo.ApplicationCommandOption{}
	}
	return all
}

func option(errs *[]error, where string, p bot.Param) *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{Name: p.Name, Required: p.Required, Description: describe(p.Help, paramHelp(p))}
	switch p.Kind {
	case bot.KindString, bot.KindText, bot.KindDuration:
		o.Type = discordgo.ApplicationCommandOptionString
	case bot.KindInt:
		o.Type = discordgo.ApplicationCommandOptionInteger
	case bot.KindID:
		o.Type = discordgo.ApplicationCommandOptionInteger
		one := 1.0
		o.MinValue = &one
	case bot.KindPerson:
		o.Type = discordgo.ApplicationCommandOptionUser
	case bot.KindBool:
		o.Type = discordgo.ApplicationCommandOptionBoolean
	case bot.KindChoice:
		o.Type = discordgo.ApplicationCommandOptionString
		if len(p.Choices) == 0 || len(p.Choices) > maxChoices {
			*errs = append(*errs, fmt.Errorf("%s: %d choices; Discord allows 1 to %d", where, len(p.Choices), maxChoices))
		}
		for _, c := range p.Choices {
			if n := utf8.RuneCountInString(c); n == 0 || n > maxChoiceLen {
				*errs = append(*errs, fmt.Errorf("%s: choice %q must be 1 to %d characters", where, c, maxChoiceLen))
			}
			o.Choices = append(o.Choices, &discordgo.ApplicationCommandOptionChoice{Name: c, Value: c})
		}
	default:
		*errs = append(*errs, fmt.Errorf("%s: argument kind %d has no Discord option type", where, p.Kind))
	}
	// Discord refuses autocomplete on options with fixed choices.
	o.Autocomplete = p.Complete != nil && len(o.Choices) == 0 &&
		(o.Type == discordgo.ApplicationCommandOptionString || o.Type == discordgo.ApplicationCommandOptionInteger)
	return o
}

func paramHelp(p bot.Param) string {
	switch p.Kind {
	case bot.KindID:
		return "A record number such as 12"
	case bot.KindInt:
		return "A whole number"
	case bot.KindDuration:
		return "A duration such as 30m, 8h or 7d"
	case bot.KindPerson:
		return "A person"
	case bot.KindBool:
		return "Yes or no"
	case bot.KindChoice:
		return "One of " + strings.Join(p.Choices, ", ")
	default:
		return strings.ToUpper(p.Name[:min(1, len(p.Name))]) + p.Name[min(1, len(p.Name)):]
	}
}

// checkName applies Discord's rule for command and option names: 1 to 32
// letters, digits, - or _, lower-case.
func checkName(errs *[]error, where, name string) {
	n := utf8.RuneCountInString(name)
	ok := n >= 1 && n <= maxNameLen
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') || unicode.ToLower(r) != r {
			ok = false
		}
	}
	if !ok {
		*errs = append(*errs, fmt.Errorf("%s: name %q must be 1 to %d lower-case letters, digits, - or _", where, name, maxNameLen))
	}
}

// describe is s, or fallback when s is empty, cut to Discord's 100 characters.
func describe(s, fallback string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		s = fallback
	}
	return cut(s, maxCommandDescription)
}

func findSub(c bot.Command, name string) (bot.Sub, bool) {
	for _, s := range c.Subs {
		if s.Name == name {
			return s, true
		}
	}
	return bot.Sub{}, false
}

// CommandLine rebuilds the text command a slash command stands for, so it
// runs through the same parser as typed text: strings are quoted so the
// parser gets exactly the value, users become <@id> mentions.
func CommandLine(table map[string]bot.Command, data discordgo.ApplicationCommandInteractionData) (string, error) {
	stale := "; the bot's commands changed, so ask an admin to run `opsbot discord register`, or type /help"
	c, ok := table[data.Name]
	if !ok || data.CommandType != 0 && data.CommandType != discordgo.ChatApplicationCommand {
		return "", bot.Errorf("/%s is not a command%s", cut(data.Name, 40), stale)
	}
	opts := data.Options
	sub, ok := findSub(c, "")
	subName := ""
	if !(len(c.Subs) == 1 && ok) {
		if len(opts) != 1 || opts[0] == nil || opts[0].Type != discordgo.ApplicationCommandOptionSubCommand {
			return "", bot.Errorf("/%s needs a subcommand%s", c.Name, stale)
		}
		subName = opts[0].Name
		name := subName
		if name == DefaultSub {
			if _, real := findSub(c, DefaultSub); !real {
				name = ""
			}
		}
		if sub, ok = findSub(c, name); !ok {
			return "", bot.Errorf("/%s %s is not a command%s", c.Name, cut(subName, 40), stale)
		}
		subName = name
		opts = opts[0].Options
	}
	given := map[string]*discordgo.ApplicationCommandInteractionDataOption{}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if _, dup := given[o.Name]; dup {
			return "", bot.Errorf("option %s is given twice", cut(o.Name, 40))
		}
		given[o.Name] = o
	}
	var b strings.Builder
	b.WriteString("/" + c.Name)
	if subName != "" {
		b.WriteString(" " + subName)
	}
	used := 0
	gap := ""
	for _, p := range sub.Args {
		o, ok := given[p.Name]
		if !ok {
			if gap == "" {
				gap = p.Name
			}
			continue
		}
		if gap != "" {
			return "", bot.Errorf("give %s too: it comes before %s", gap, p.Name)
		}
		v, err := optionValue(p, o)
		if err != nil {
			return "", err
		}
		b.WriteString(" " + v)
		used++
	}
	for _, p := range sub.Flags {
		o, ok := given[p.Name]
		if !ok {
			continue
		}
		v, err := optionValue(p, o)
		if err != nil {
			return "", err
		}
		if p.Kind == bot.KindBool {
			b.WriteString(" --" + p.Name + "=" + v)
		} else {
			b.WriteString(" --" + p.Name + " " + v)
		}
		used++
	}
	if used != len(given) {
		for name := range given {
			if !hasParam(sub, name) {
				return "", bot.Errorf("%s is not an option of /%s%s", cut(name, 40), strings.TrimSpace(c.Name+" "+subName), stale)
			}
		}
	}
	return b.String(), nil
}

func hasParam(s bot.Sub, name string) bool {
	for _, p := range append(append([]bot.Param{}, s.Args...), s.Flags...) {
		if p.Name == name {
			return true
		}
	}
	return false
}

// optionValue is one option's value as the parser reads it.
func optionValue(p bot.Param, o *discordgo.ApplicationCommandInteractionDataOption) (string, error) {
	bad := func() (string, error) {
		return "", bot.Errorf("option %s has a value of the wrong type; ask an admin to run `opsbot discord register`", p.Name)
	}
	switch p.Kind {
	case bot.KindString, bot.KindText, bot.KindDuration, bot.KindChoice:
		s, ok := o.Value.(string)
		if !ok || o.Type != discordgo.ApplicationCommandOptionString {
			return bad()
		}
		return Quote(s), nil
	case bot.KindInt, bot.KindID:
		n, ok := integer(o.Value)
		if !ok || o.Type != discordgo.ApplicationCommandOptionInteger {
			return bad()
		}
		return strconv.FormatInt(n, 10), nil
	case bot.KindBool:
		v, ok := o.Value.(bool)
		if !ok || o.Type != discordgo.ApplicationCommandOptionBoolean {
			return bad()
		}
		return strconv.FormatBool(v), nil
	case bot.KindPerson:
		id, ok := o.Value.(string)
		if !ok || o.Type != discordgo.ApplicationCommandOptionUser || !snowflake(id) {
			return bad()
		}
		return "<@" + id + ">", nil
	}
	return bad()
}

// integer reads a JSON number that must be whole; Discord keeps integer
// options within ±2^53, where a float64 is exact.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// Quote wraps s in double quotes so that the parser reads it back as one
// word with exactly s as its text.
func Quote(s string) string { return bot.Quote(s) }

func snowflake(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
