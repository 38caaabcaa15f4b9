package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/config"
)

// Register replaces the application's slash commands with those generated
// from the command table, in one bulk overwrite, so running it twice
// changes nothing. With a guild id the commands are the guild's (they show
// at once); without, they are global. It returns how many it registered.
func Register(ctx context.Context, cfg config.DiscordConfig, guildID string, cmds []bot.Command, opts Options) (int, error) {
	if !snowflake(cfg.ApplicationID) {
		return 0, errors.New("discord.application_id is not set: copy it from the developer portal's General Information page")
	}
	if cfg.Token.Reveal() == "" {
		return 0, errors.New("discord.token is not set: put the bot token in DISCORD_TOKEN")
	}
	if guildID != "" && !snowflake(guildID) {
		return 0, fmt.Errorf("--guild %q: want a server id, a number such as 300000000000000001", guildID)
	}
	acs, err := ApplicationCommands(cmds)
	if err != nil {
		return 0, err
	}
	path := "/applications/" + url.PathEscape(cfg.ApplicationID) + "/commands"
	if guildID != "" {
		path = "/applications/" + url.PathEscape(cfg.ApplicationID) + "/guilds/" + url.PathEscape(guildID) + "/commands"
	}
	var got []*discordgo.ApplicationCommand
	api := newClient(cfg.APIURL, cfg.Token, opts.HTTPClient)
	if err := api.do(ctx, "register commands", http.MethodPut, path, true, acs, &got); err != nil {
		return 0, err
	}
	return len(acs), nil
}

// RegisteredCommands decodes the command table from the JSON body of a
// bulk overwrite (the PUT Register sends), the table Discord builds
// interactions from and InteractionData reads. A body that is not a JSON
// array of named commands is an error, so a tool that captured the wrong
// request finds out here rather than with a confusing "not registered".
func RegisteredCommands(body []byte) ([]*discordgo.ApplicationCommand, error) {
	var acs []*discordgo.ApplicationCommand
	if err := json.Unmarshal(body, &acs); err != nil {
		return nil, fmt.Errorf("decode registered commands: %w", err)
	}
	if len(acs) == 0 {
		return nil, errors.New("decode registered commands: the table is empty")
	}
	for i, c := range acs {
		if c == nil || c.Name == "" {
			return nil, fmt.Errorf("decode registered commands: command %d has no name", i)
		}
	}
	return acs, nil
}
