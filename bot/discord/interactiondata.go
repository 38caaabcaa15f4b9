package discord

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// InteractionData is the data of the interaction Discord sends when someone
// fills in the slash command a text line stands for, given the registered
// commands (ApplicationCommands' output): a subcommand arrives as an option
// of type 1 holding its typed options, in the order the command declares
// them. It is CommandLine's inverse, for load generators and tools that must
// send what Discord would. Options typed as --name VALUE, --name=VALUE or
// --switch fill the option of that name; the other words fill the remaining
// options in order, one word each, so text with spaces is quoted, as
// CommandLine writes it. What Discord's client would not let through (an
// unknown option, a missing required one, a value of the wrong type or
// outside the choices) is an error.
func InteractionData(cmds []*discordgo.ApplicationCommand, line string) (discordgo.ApplicationCommandInteractionData, error) {
	var none discordgo.ApplicationCommandInteractionData
	name, toks, err := bot.SplitCommand(line)
	if err != nil {
		return none, err
	}
	var cmd *discordgo.ApplicationCommand
	for _, c := range cmds {
		if c != nil && c.Name == name && (c.Type == 0 || c.Type == discordgo.ChatApplicationCommand) {
			cmd = c
			break
		}
	}
	if cmd == nil {
		return none, fmt.Errorf("/%s is not a registered slash command", name)
	}
	data := discordgo.ApplicationCommandInteractionData{ID: cmd.ID, Name: cmd.Name, CommandType: discordgo.ChatApplicationCommand}
	where := "/" + cmd.Name
	params := cmd.Options
	var sub *discordgo.ApplicationCommandOption
	if hasSubcommands(cmd) {
		if len(toks) > 0 && !toks[0].Quoted {
			if sub = subcommand(cmd, strings.ToLower(toks[0].Text)); sub != nil {
				toks = toks[1:]
			}
		}
		if sub == nil {
			sub = subcommand(cmd, DefaultSub)
		}
		if sub == nil {
			var names []string
			for _, o := range cmd.Options {
				names = append(names, o.Name)
			}
			return none, fmt.Errorf("%s needs a subcommand: one of %s", where, strings.Join(names, ", "))
		}
		where += " " + sub.Name
		params = sub.Options
	}
	opts, err := fillOptions(where, params, toks)
	if err != nil {
		return none, err
	}
	if sub != nil {
		opts = []*discordgo.ApplicationCommandInteractionDataOption{
			{Name: sub.Name, Type: discordgo.ApplicationCommandOptionSubCommand, Options: opts}}
	}
	data.Options = opts
	return data, nil
}

func hasSubcommands(c *discordgo.ApplicationCommand) bool {
	for _, o := range c.Options {
		if o != nil && o.Type == discordgo.ApplicationCommandOptionSubCommand {
			return true
		}
	}
	return false
}

func subcommand(c *discordgo.ApplicationCommand, name string) *discordgo.ApplicationCommandOption {
	for _, o := range c.Options {
		if o != nil && o.Type == discordgo.ApplicationCommandOptionSubCommand && o.Name == name {
			return o
		}
	}
	return nil
}

// fillOptions reads the words after the (sub)command as the parser would:
// named options first, then the positional words in declaration order.
func fillOptions(where string, params []*discordgo.ApplicationCommandOption, toks []bot.Token) ([]*discordgo.ApplicationCommandInteractionDataOption, error) {
	byName := map[string]*discordgo.ApplicationCommandOption{}
	for _, p := range params {
		if p != nil {
			byName[p.Name] = p
		}
	}
	given := map[string]*discordgo.ApplicationCommandInteractionDataOption{}
	var pos []bot.Token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.Quoted || !strings.HasPrefix(t.Text, "--") || t.Text == "--" {
			pos = append(pos, t)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(t.Text, "--"), "=")
		name = strings.ToLower(name)
		p, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%s has no option %q", where, name)
		}
		if given[name] != nil {
			return nil, fmt.Errorf("%s: option %s is given twice", where, name)
		}
		switch {
		case hasVal:
		case p.Type == discordgo.ApplicationCommandOptionBoolean:
			val = "true"
		case i+1 < len(toks) && (toks[i+1].Quoted || !strings.HasPrefix(toks[i+1].Text, "--")):
			i++
			val = toks[i].Text
		default:
			return nil, fmt.Errorf("%s: option %s needs a value", where, name)
		}
		o, err := dataOption(where, p, val)
		if err != nil {
			return nil, err
		}
		given[name] = o
	}
	for _, p := range params {
		if p == nil || given[p.Name] != nil || len(pos) == 0 {
			continue
		}
		o, err := dataOption(where, p, pos[0].Text)
		if err != nil {
			return nil, err
		}
		given[p.Name] = o
		pos = pos[1:]
	}
	if len(pos) > 0 {
		return nil, fmt.Errorf("%s: nothing takes %q; put text with spaces in quotes", where, pos[0].Text)
	}
	out := []*discordgo.ApplicationCommandInteractionDataOption{}
	for _, p := range params {
		if p == nil {
			continue
		}
		if o := given[p.Name]; o != nil {
			out = append(out, o)
		} else if p.Required {
			return nil, fmt.Errorf("%s: option %s is required", where, p.Name)
		}
	}
	return out, nil
}

// dataOption is one filled option with its value typed as Discord sends it:
// strings as strings, integers and booleans as JSON numbers and booleans, a
// user as its id.
func dataOption(where string, p *discordgo.ApplicationCommandOption, raw string) (*discordgo.ApplicationCommandInteractionDataOption, error) {
	o := &discordgo.ApplicationCommandInteractionDataOption{Name: p.Name, Type: p.Type}
	bad := func(want string) (*discordgo.ApplicationCommandInteractionDataOption, error) {
		return nil, fmt.Errorf("%s: option %s wants %s, not %q", where, p.Name, want, raw)
	}
	switch p.Type {
	case discordgo.ApplicationCommandOptionString:
		if len(p.Choices) == 0 {
			o.Value = raw
			break
		}
		var names []string
		for _, c := range p.Choices {
			if strings.EqualFold(c.Name, raw) {
				o.Value = c.Value
				break
			}
			names = append(names, c.Name)
		}
		if o.Value == nil {
			return bad("one of " + strings.Join(names, ", "))
		}
	case discordgo.ApplicationCommandOptionInteger:
		s := raw
		if p.MinValue != nil && *p.MinValue >= 1 {
			// A record number, which people may type as #12.
			s = strings.TrimPrefix(s, "#")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || math.Abs(float64(n)) > 1<<53 ||
			p.MinValue != nil && float64(n) < *p.MinValue || p.MaxValue != 0 && float64(n) > p.MaxValue {
			return bad("a whole number in range")
		}
		o.Value = n
	case discordgo.ApplicationCommandOptionBoolean:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("true or false")
		}
		o.Value = v
	case discordgo.ApplicationCommandOptionUser:
		id, ok := strings.CutPrefix(raw, "<@")
		id, ok2 := strings.CutSuffix(id, ">")
		id = strings.TrimPrefix(id, "!")
		if !ok || !ok2 || !snowflake(id) {
			return bad("a mention such as <@100000000000000001> (Discord sends users by id)")
		}
		o.Value = id
	default:
		return nil, fmt.Errorf("%s: option %s has type %d, which opsbot does not register", where, p.Name, p.Type)
	}
	return o, nil
}
