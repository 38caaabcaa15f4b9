package main

import (
	"context"
	"fmt"
	"io"

	"opsbot/bot/discord"
)

// discordRegisterCmd publishes the slash commands to Discord, in one
// server or globally.
func discordRegisterCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("discord register", "discord register --config FILE [--guild ID]", stderr)
	var guild string
	cmd.fs.StringVar(&guild, "guild", "", "register in this server only (shows at once); global when empty")
	cfg, code := cmd.load(args)
	if cfg == nil {
		return code
	}
	c, err := build(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return cmd.fail(err)
	}
	defer c.close()
	n, err := discord.Register(ctx, cfg.Discord, guild, c.router.Commands(), discord.Options{})
	if err != nil {
		return cmd.fail(err)
	}
	where := "globally (Discord may take a while to show them)"
	if guild != "" {
		where = "in server " + guild
	}
	fmt.Fprintf(stdout, "registered %d commands %s\n", n, where)
	return exitOK
}
