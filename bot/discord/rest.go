package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"opsbot/bot"
	"opsbot/config"
)

// DefaultAPIURL is Discord's REST base; discord.api_url replaces it.
const DefaultAPIURL = "https://discord.com/api/v10"

// requestTimeout bounds every REST call.
const requestTimeout = 15 * time.Second

// maxRetryAfter caps the wait a 429 may ask for, so a garbled header cannot
// park a message for days.
const maxRetryAfter = time.Hour

// client is the small REST client for the few calls opsbot makes. It is our
// own rather than discordgo's Session so that the base URL is per instance
// (discordgo's endpoints are package variables) and so that every failure
// says whether retrying can help. Payloads use discordgo's types.
type client struct {
	base  string
	token config.Secret
	http  *http.Client
}

func newClient(apiURL string, token config.Secret, hc *http.Client) *client {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: requestTimeout}
	}
	return &client{base: strings.TrimRight(apiURL, "/"), token: token, http: hc}
}

// apiError is what Discord answers on failure: {"code": 50001, "message": "Missing Access"}.
type apiError struct {
	Status     int     `json:"-"`
	Code       int     `json:"code"`
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
	Global     bool    `json:"global"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != 0 {
		return fmt.Sprintf("discord: HTTP %d: %s (code %d)", e.Status, msg, e.Code)
	}
	return fmt.Sprintf("discord: HTTP %d: %s", e.Status, msg)
}

// do sends one request. what names the call in errors; the path is never
// quoted in an error because interaction paths carry the interaction's
// token. auth adds the bot token; interaction webhooks need none.
func (c *client) do(ctx context.Context, what, method, path string, auth bool, in, out any) error {
	return c.send(ctx, what, method, path, auth, in, nil, out)
}

// send is do with files: without any it sends in as JSON; with some, a
// multipart/form-data body of in (with its attachments list) as
// payload_json and each file as files[n].
func (c *client) send(ctx context.Context, what, method, path string, auth bool, in any, files []upload, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var body io.Reader
	contentType := ""
	switch {
	case len(files) > 0:
		b, ct, err := multipartBody(in, files)
		if err != nil {
			return bot.Permanent(fmt.Errorf("%s: encode: %w", what, err))
		}
		body, contentType = bytes.NewReader(b), ct
	case in != nil:
		b, err := json.Marshal(in)
		if err != nil {
			return bot.Permanent(fmt.Errorf("%s: encode: %w", what, err))
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return bot.Permanent(fmt.Errorf("%s: build request: %w", what, redact(err)))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/opsbot/opsbot, 1) opsbot")
	if auth {
		if c.token.Reveal() == "" {
			return bot.Permanent(fmt.Errorf("%s: discord.token is not set", what))
		}
		req.Header.Set("Authorization", "Bot "+c.token.Reveal())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			// Nothing reached Discord: certainly not done.
			return bot.Retryable(fmt.Errorf("%s: %w", what, redact(err)), 0)
		}
		// The request may have reached Discord and only the answer was
		// lost: a plain error tells the notifier the outcome is unknown,
		// so it looks the message up (Find) before posting it again.
		return fmt.Errorf("%s: %w", what, redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return bot.Retryable(fmt.Errorf("%s: read answer: %w", what, redact(err)), 0)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || len(raw) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return bot.Permanent(fmt.Errorf("%s: decode answer: %w", what, err))
		}
		return nil
	}
	ae := &apiError{Status: resp.StatusCode}
	_ = json.Unmarshal(raw, ae)
	err = fmt.Errorf("%s: %w", what, ae)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return bot.Retryable(err, retryAfter(resp.Header, ae.RetryAfter))
	case resp.StatusCode >= 500:
		return bot.Retryable(err, 0)
	default:
		return bot.Permanent(err)
	}
}

// retryAfter is the longest wait Discord asked for, from the JSON body's
// retry_after (seconds, fractional) and the Retry-After and
// X-RateLimit-Reset-After headers; at least a second, at most an hour.
func retryAfter(h http.Header, body float64) time.Duration {
	wait := seconds(body)
	for _, k := range []string{"Retry-After", "X-RateLimit-Reset-After"} {
		if v, err := strconv.ParseFloat(strings.TrimSpace(h.Get(k)), 64); err == nil {
			wait = max(wait, seconds(v))
		}
	}
	return min(max(wait, time.Second), maxRetryAfter)
}

func seconds(f float64) time.Duration {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f > maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(math.Ceil(f * float64(time.Second)))
}

// redact drops the URL from a net/http error: interaction URLs hold the
// interaction's token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isPermanent reports whether err is a failure retrying will not fix.
func isPermanent(err error) bool {
	retry, _ := bot.RetryInfo(err)
	return !retry
}
