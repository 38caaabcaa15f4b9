package main

import (
	"encoding/json"
	"testing"

	"opsbot/bot"
	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
)

// TestErrorReplies checks that the bench tells error replies from answers,
// on answers encoded as the adapters encode them.
func TestErrorReplies(t *testing.T) {
	ok := bot.Reply{Title: "Filed ticket #3", Text: "printer jams", Severity: bot.SeveritySuccess}
	plain := bot.Reply{Text: "Commands: /ticket, /access"}
	bad := bot.Reply{Text: "missing \"SUMMARY\"\nUsage: /ticket new \"SUMMARY\"", Severity: bot.SeverityDanger}
	encode := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	slack := func(r bot.Reply) []byte { return encode(slackbot.Render(r).Webhook(false)) }
	interaction := func(r bot.Reply) []byte { return encode(map[string]any{"type": 4, "data": discord.Render(r)}) }
	for _, tc := range []struct {
		name   string
		read   func([]byte) (string, bool)
		body   []byte
		want   string
		failed bool
	}{
		{"slack ok", slackReply, slack(ok), ":large_green_circle: Filed ticket #3: printer jams", false},
		{"slack plain", slackReply, slack(plain), "Commands: /ticket, /access", false},
		{"slack error", slackReply, slack(bad), `:red_circle: missing "SUMMARY" Usage: /ticket new "SUMMARY"`, true},
		{"slack storage down", slackReply, encode(map[string]string{"text": bot.TryAgain}), bot.TryAgain, true},
		{"slack garbage", slackReply, []byte("<html>"), "undecodable answer: <html>", true},
		{"discord ok", discordReply, interaction(ok), "Filed ticket #3 printer jams", false},
		{"discord plain", discordReply, interaction(plain), "Commands: /ticket, /access", false},
		{"discord error", discordReply, interaction(bad), `missing "SUMMARY" Usage: /ticket new "SUMMARY"`, true},
		{"discord deferred", discordReply, []byte(`{"type":5,"data":{"flags":64}}`), "(response type 5, no message)", false},
		{"discord garbage", discordReply, []byte("{"), "undecodable answer: {", true},
	} {
		got, failed := tc.read(tc.body)
		if got != tc.want || failed != tc.failed {
			t.Errorf("%s: got %q, %t; want %q, %t", tc.name, got, failed, tc.want, tc.failed)
		}
	}
}
