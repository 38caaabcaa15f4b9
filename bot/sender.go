package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Target is where one notification goes on one platform: a channel, or a
// person by direct message, optionally inside a thread.
type Target struct {
	Platform Platform `json:"platform"`
	// Channel is the platform's channel id; empty for a direct message.
	Channel string `json:"channel,omitempty"`
	// User is the platform's user id of the person to message directly.
	User string `json:"user,omitempty"`
	// Thread is the platform's id of the message to reply under.
	Thread string `json:"thread,omitempty"`
	// Name is the human name of the destination (#helpdesk, @alice) for
	// logs and the shell.
	Name string `json:"name,omitempty"`
}

// MessageRef identifies a message a platform accepted, so it can be edited.
type MessageRef struct {
	Channel string `json:"channel"`
	ID      string `json:"id"`
}

// Outgoing is one message to send.
type Outgoing struct {
	// Key is the message's idempotency key; senders that can use it to let
	// the platform drop a duplicate (Discord's nonce, Slack's metadata) do.
	Key   string
	Reply Reply
}

// Sender delivers notifications to one platform. Each adapter implements it;
// the outbox's notifier is its only caller.
type Sender interface {
	// Post sends a new message and returns the platform's reference to it.
	Post(ctx context.Context, to Target, msg Outgoing) (MessageRef, error)
	// Update replaces the content of a message sent before.
	Update(ctx context.Context, ref MessageRef, msg Outgoing) error
}

// Finder is implemented by senders that can tell whether a message with a
// given key already reached the platform, so a send whose outcome is unknown
// (the process died mid-request) is not posted twice.
type Finder interface {
	Find(ctx context.Context, to Target, key string) (MessageRef, bool, error)
}

// Completer is implemented by senders that deliver a message in more than
// one call (Slack: the words, then the pictures under them). When Find has
// found a message whose send outcome was unknown, the notifier calls
// Complete to deliver what the platform may still lack of it; Complete
// looks each part up first, so nothing arrives twice. The message stays
// uncertain whatever Complete answers: a permanent error (a missing scope,
// with its fix) fails it, and opsbot outbox retry then finds the message
// again rather than posting its words twice.
type Completer interface {
	Complete(ctx context.Context, to Target, ref MessageRef, msg Outgoing) error
}

// LookupError says that the platform cannot tell whether it already has a
// message: a scope is missing, or the bot is not in the channel. Posting
// again might post twice and not posting might lose it, so the notifier
// holds the message until a person retries it.
type LookupError struct {
	Err error
	// Fix is what an operator does so lookups work, e.g. "add the
	// im:history scope to the Slack app and reinstall it".
	Fix string
}

func (e *LookupError) Error() string {
	if e.Fix == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "; to fix: " + e.Fix
}

func (e *LookupError) Unwrap() error { return e.Err }

// SendError says why a send failed and whether trying again can help.
type SendError struct {
	Err error
	// Retry is true for failures that may pass: 5xx, 429, timeouts.
	Retry bool
	// RetryAfter is the wait the platform asked for (HTTP 429 Retry-After).
	RetryAfter time.Duration
}

func (e *SendError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
	}
	return e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// Retryable wraps err as a failure worth retrying after wait (0: backoff).
func Retryable(err error, wait time.Duration) error {
	return &SendError{Err: err, Retry: true, RetryAfter: wait}
}

// Permanent wraps err as a failure that will not pass by retrying.
func Permanent(err error) error { return &SendError{Err: err} }

// RetryInfo reports whether err is worth retrying and the wait asked for.
// Errors that are not SendErrors are retried: a network fault is the usual
// cause.
func RetryInfo(err error) (retry bool, wait time.Duration) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retry, se.RetryAfter
	}
	return true, 0
}
