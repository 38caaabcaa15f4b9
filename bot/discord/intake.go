package discord

import (
	"context"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// CreateTicketCommand is the name of the message context-menu command that
// files a ticket from a message (Apps → Create ticket).
const CreateTicketCommand = "Create ticket"

// maxAutocomplete is how many choices Discord shows in autocomplete.
const maxAutocomplete = 25

// messageCommands are the context-menu commands registered next to the
// slash commands: "Create ticket" when the table has /ticket.
func messageCommands(cmds []bot.Command) []*discordgo.ApplicationCommand {
	for _, c := range cmds {
		if c.Name == "ticket" {
			return []*discordgo.ApplicationCommand{{Type: discordgo.MessageApplicationCommand, Name: CreateTicketCommand}}
		}
	}
	return nil
}

// MessageLink is the URL that opens a Discord message.
func MessageLink(guild, channel, message string) string {
	if guild == "" {
		guild = "@me"
	}
	return "https://discord.com/channels/" + guild + "/" + channel + "/" + message
}

// createTicket answers the "Create ticket" context-menu command: the target
// message, resolved in the interaction, becomes a ticket filed by the
// invoker. The answer is ephemeral; the ticket card goes to the channel as
// a reply to the message.
func (a *Adapter) createTicket(ctx context.Context, it *discordgo.Interaction, data discordgo.ApplicationCommandInteractionData, respond responder) {
	answer := func(r bot.Reply) {
		r.InChannel = false
		if err := respond(ctx, a.response(ctx, r, false)); err != nil {
			a.log.Error("answer interaction", "interaction", it.ID, "err", err)
		}
	}
	userID, ok := invoker(it)
	if !ok {
		answer(bot.Reply{Text: "Discord did not say who you are; try again.", Severity: bot.SeverityDanger})
		return
	}
	var msg *discordgo.Message
	if data.Resolved != nil {
		msg = data.Resolved.Messages[data.TargetID]
	}
	if a.intake == nil || msg == nil || !snowflake(data.TargetID) || !snowflake(it.ChannelID) {
		answer(bot.Reply{Text: "That message could not be read; file the ticket with /ticket new instead.", Severity: bot.SeverityDanger})
		return
	}
	m := bot.Message{Platform: bot.Discord, Channel: it.ChannelID, Guild: it.GuildID, ID: data.TargetID,
		Text: Plain(a.router.Directory(), msg.Content), Link: MessageLink(it.GuildID, it.ChannelID, data.TargetID)}
	if msg.Author != nil && snowflake(msg.Author.ID) {
		m.Author = a.router.Directory().ByDiscord(msg.Author.ID)
		m.Bot = msg.Author.Bot
	}
	reply, err := a.intake.FileFromMessage(ctx, m, a.router.Directory().ByDiscord(userID))
	if err != nil {
		if ue, ok := bot.AsUserError(err); ok {
			answer(bot.Reply{Text: ue.Msg, Severity: bot.SeverityDanger})
			return
		}
		a.log.Error("create ticket from message", "interaction", it.ID, "err", err)
		answer(bot.Reply{Text: "Something went wrong on our side; nothing was filed. Try again in a moment.", Severity: bot.SeverityDanger})
		return
	}
	answer(reply)
}

// autocompleteResponse is the answer to an autocomplete interaction.
// discordgo's InteractionResponseData drops an empty choices list
// (omitempty), and Discord refuses an answer without one.
type autocompleteResponse struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data struct {
		Choices []*discordgo.ApplicationCommandOptionChoice `json:"choices"`
	} `json:"data"`
}

// autocomplete answers an autocomplete interaction (type 4) with the
// focused option's completions (response type 8, at most 25 choices).
func (a *Adapter) autocomplete(ctx context.Context, it *discordgo.Interaction, respond responder) {
	var choices []*discordgo.ApplicationCommandOptionChoice
	data, ok := it.Data.(discordgo.ApplicationCommandInteractionData)
	userID, known := invoker(it)
	if ok && known {
		if c, found := a.table[data.Name]; found {
			sub, opts := "", data.Options
			if len(opts) == 1 && opts[0] != nil && opts[0].Type == discordgo.ApplicationCommandOptionSubCommand {
				sub, opts = opts[0].Name, opts[0].Options
				if sub == DefaultSub {
					if _, real := findSub(c, DefaultSub); !real {
						sub = ""
					}
				}
			}
			for _, o := range opts {
				if o == nil || !o.Focused {
					continue
				}
				typed := ""
				switch v := o.Value.(type) {
				case string:
					typed = v
				case float64:
					typed = strconv.FormatInt(int64(v), 10)
				}
				person := a.router.Directory().ByDiscord(userID)
				for _, ch := range a.router.Complete(ctx, person, c.Name, sub, o.Name, typed) {
					if len(choices) == maxAutocomplete {
						break
					}
					var value any = cut(ch.Value, 100)
					if o.Type == discordgo.ApplicationCommandOptionInteger {
						n, err := strconv.ParseInt(strings.TrimPrefix(ch.Value, "#"), 10, 64)
						if err != nil {
							continue
						}
						value = n
					}
					choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: cut(ch.Label, 100), Value: value})
				}
			}
		}
	}
	if choices == nil {
		choices = []*discordgo.ApplicationCommandOptionChoice{}
	}
	resp := autocompleteResponse{Type: discordgo.InteractionApplicationCommandAutocompleteResult}
	resp.Data.Choices = choices
	if err := respond(ctx, resp); err != nil {
		a.log.Error("answer autocomplete", "interaction", it.ID, "err", err)
	}
}
