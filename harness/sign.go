package harness

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	slackbot "opsbot/bot/slack"
)

// SlackRequest is a POST of the form body to url, signed with the Slack
// signing secret at the time at, as Slack sends slash commands and clicks.
func SlackRequest(url, secret string, at time.Time, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range slackbot.SignatureHeaders(secret, at, body) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// DiscordRequest is a POST of the interaction body to url, signed with the
// application's Ed25519 key at the time at, as Discord sends interactions.
func DiscordRequest(url string, key ed25519.PrivateKey, at time.Time, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...))))
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// Slash is the form Slack posts for the slash command line ("/ticket new
// x") typed by user in channel.
func Slash(user, channel, line, responseURL, triggerID string) []byte {
	name, text, _ := strings.Cut(line, " ")
	return []byte(url.Values{"user_id": {user}, "channel_id": {channel}, "command": {name}, "text": {text},
		"trigger_id": {triggerID}, "response_url": {responseURL}}.Encode())
}

// Send sends req with client and returns the status and the body; err is
// the failure to get an answer at all (a body cut short is returned as far
// as it came).
func Send(client *http.Client, req *http.Request) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// PostSlack sends body to path signed with secret at the time at, and
// returns the status and the answer.
func (p *Proc) PostSlack(t testing.TB, path string, body []byte, secret string, at time.Time) (int, string) {
	t.Helper()
	req, err := SlackRequest(p.URL(path), secret, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// PostDiscord sends the interaction body to /discord/interactions signed
// with key at the time at, and returns the status and the answer.
func (p *Proc) PostDiscord(t testing.TB, key ed25519.PrivateKey, body []byte, at time.Time) (int, string) {
	t.Helper()
	req, err := DiscordRequest(p.URL("/discord/interactions"), key, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	code, body, err := Send(http.DefaultClient, req)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}
