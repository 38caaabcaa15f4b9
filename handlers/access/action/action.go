// Package action applies and removes access: it runs a resource's grant or
// revoke command (an argv list, never a shell line, with the request's fields
// in environment variables) or calls its webhook with an HMAC-signed POST.
package action

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"opsbot/config"
	"opsbot/proc"
)

// Fields describe the request an action is applied for. They reach a command
// only as environment variables and a webhook only inside the JSON body.
type Fields struct {
	Action    string    `json:"action"` // grant or revoke
	RequestID int64     `json:"request_id"`
	Resource  string    `json:"resource"`
	Role      string    `json:"role"`
	User      string    `json:"user"`
	Email     string    `json:"email,omitempty"`
	SlackID   string    `json:"slack_id,omitempty"`
	DiscordID string    `json:"discord_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Approvers []string  `json:"approvers,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Attempt   int       `json:"attempt"`
}

// Env is the request's fields as the variables a command gets on top of
// the few that every child process takes from opsbot's environment (see
// proc).
func (f Fields) Env() map[string]string {
	return map[string]string{
		"OPSBOT_ACTION":     f.Action,
		"OPSBOT_REQUEST_ID": strconv.FormatInt(f.RequestID, 10),
		"OPSBOT_RESOURCE":   f.Resource,
		"OPSBOT_ROLE":       f.Role,
		"OPSBOT_USER":       f.User,
		"OPSBOT_USER_EMAIL": f.Email,
		"OPSBOT_SLACK_ID":   f.SlackID,
		"OPSBOT_DISCORD_ID": f.DiscordID,
		"OPSBOT_EXPIRES_AT": f.ExpiresAt.UTC().Format(time.RFC3339),
		"OPSBOT_REASON":     f.Reason,
		"OPSBOT_APPROVERS":  strings.Join(f.Approvers, ","),
		"OPSBOT_ATTEMPT":    strconv.Itoa(f.Attempt),
	}
}

// Runner applies actions. Now stamps webhook requests (the injected clock);
// Client, when nil, is a client that follows no redirects; Mask hides the
// config's secrets in what a command prints (nil hides none).
type Runner struct {
	Now    func() time.Time
	Client *http.Client
	Mask   *proc.Masker
}

// ErrManual is returned for manual actions: a person has to do them.
var ErrManual = errors.New("manual action")

// Run applies a: runs its command or calls its webhook, within its timeout.
// A nil error means it succeeded.
func (r *Runner) Run(ctx context.Context, a config.Action, f Fields) error {
	timeout := time.Duration(a.Timeout)
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case a.Manual:
		return ErrManual
	case len(a.Command) > 0:
		return r.runCommand(ctx, a.Command, f)
	case a.Webhook != nil:
		return r.callWebhook(ctx, a.Webhook, f)
	}
	return fmt.Errorf("%s: no command, webhook or manual configured", f.Action)
}

// outputLimit bounds how much of a command's output is kept for the error.
const outputLimit = 4096

func (r *Runner) runCommand(ctx context.Context, argv []string, f Fields) error {
	res := proc.Run(ctx, proc.Spec{Argv: argv, Env: f.Env(), OutputLimit: outputLimit, Mask: r.Mask})
	err := res.Err()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out: %w", ctx.Err())
	}
	if msg := lastLine(res.Output); msg != "" {
		return fmt.Errorf("%s %s: %w: %s", f.Action, argv[0], err, msg)
	}
	return fmt.Errorf("%s %s: %w", f.Action, argv[0], err)
}

// Sign returns the X-Opsbot-Signature value for a body sent at ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature made by Sign in constant time; receivers (and
// tests) use it.
func Verify(secret []byte, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

func (r *Runner) callWebhook(ctx context.Context, w *config.Webhook, f Fields) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("%s webhook: encode body: %w", f.Action, err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s webhook %s: %w", f.Action, redact(w.URL), unwrapURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "opsbot")
	req.Header.Set("X-Opsbot-Timestamp", ts)
	req.Header.Set("X-Opsbot-Signature", Sign([]byte(w.Secret.Reveal()), ts, body))
	req.Header.Set("X-Opsbot-Event", "access."+f.Action)
	client := r.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s webhook %s: %w", f.Action, redact(w.URL), unwrapURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := lastLine(string(snippet))
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("%s webhook %s: HTTP %d%s", f.Action, redact(w.URL), resp.StatusCode, msg)
	}
	return nil
}

// redact keeps scheme, host and path: query strings often carry tokens.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the full URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// lastLine is the last non-empty line of s, shortened for a chat message.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
