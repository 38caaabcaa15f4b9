package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// apiURL is the Web API base: config's api_url, or Slack's own.
func apiURL(configured string) string {
	if configured == "" {
		return slack.APIURL
	}
	if !strings.HasSuffix(configured, "/") {
		configured += "/"
	}
	return configured
}

// runSocket holds a Socket Mode connection until ctx ends. slack-go opens
// the connection with apps.connections.open and reconnects when Slack
// drops it or asks it to; this loop logs those and serves the envelopes.
func (a *Adapter) runSocket(ctx context.Context) error {
	api := slack.New(a.cfg.BotToken.Reveal(), slack.OptionAppLevelToken(a.cfg.AppToken.Reveal()),
		slack.OptionAPIURL(apiURL(a.cfg.APIURL)))
	sm := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
	go a.keepConnected(ctx, sm)
	for {
		select {
		case <-ctx.Done():
			return nil
		case evt := <-sm.Events:
			if evt.Request == nil {
				a.socketEvent(ctx, sm, evt)
				continue
			}
			// Envelopes are served side by side, as HTTP requests are: one
			// command waiting out its budget holds up no other.
			a.inflight.Add(1)
			go func() {
				defer a.inflight.Done()
				a.socketEvent(ctx, sm, evt)
			}()
		}
	}
}

// keepConnected runs the Socket Mode client until ctx ends. slack-go
// reconnects by itself when a connection drops; when it gives up (Slack
// unreachable, token refused) this waits, doubling up to a minute, and
// starts it again rather than take the whole process down.
func (a *Adapter) keepConnected(ctx context.Context, sm *socketmode.Client) {
	wait := time.Second
	for ctx.Err() == nil {
		err := sm.RunContext(ctx)
		if ctx.Err() != nil {
			return
		}
		a.log.Error("slack socket mode stopped; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// acker is the part of the Socket Mode client that answers envelopes.
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// socketEvent serves one Socket Mode event: commands and clicks go to the
// router; every envelope is acknowledged, with the immediate answer as its
// payload when there is one. Slack's "disconnect" request never arrives
// here: slack-go ends the connection on it and reconnects by itself, so
// the log shows it as connecting and connected again.
func (a *Adapter) socketEvent(ctx context.Context, sm acker, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.Info("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		a.log.Warn("slack socket mode connection failed; reconnecting", "err", errString(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("slack socket mode: app_token refused (invalid_auth)")
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		payload, err := a.envelope(ctx, *evt.Request)
		if err != nil {
			a.log.Warn("slack socket mode envelope", "type", evt.Request.Type, "err", err)
		}
		var ackErr error
		if payload != nil {
			ackErr = sm.Ack(*evt.Request, payload)
		} else {
			ackErr = sm.Ack(*evt.Request)
		}
		if ackErr != nil {
			a.log.Warn("slack socket mode ack", "err", ackErr)
		}
	}
}

// envelope maps one Socket Mode envelope onto the same paths HTTP requests
// take and returns the acknowledgement payload (nil for none).
func (a *Adapter) envelope(ctx context.Context, req socketmode.Request) (any, error) {
	switch req.Type {
	case socketmode.RequestTypeSlashCommands:
		var sc Command
		if err := json.Unmarshal(req.Payload, &sc); err != nil {
			return nil, fmt.Errorf("parse slash command: %w", err)
		}
		if sc.UserID == "" || sc.Command == "" {
			return nil, errors.New("slash command without user_id or command")
		}
		id := sc.TriggerID
		if id == "" {
			id = req.EnvelopeID
		}
		msg, err := a.command(ctx, sc, requestKey("command", id, nil))
		if err != nil || msg == nil {
			return nil, err
		}
		return msg, nil
	case socketmode.RequestTypeInteractive:
		var p Interaction
		if err := json.Unmarshal(req.Payload, &p); err != nil {
			return nil, fmt.Errorf("parse interaction: %w", err)
		}
		id := p.TriggerID
		if id == "" {
			id = req.EnvelopeID
		}
		switch p.Type {
		case "block_suggestion":
			return a.suggest(ctx, p), nil
		case "message_action":
			return nil, a.shortcut(ctx, p, requestKey("interaction", id, nil))
		}
		if !p.runnable() || p.User.ID == "" {
			return nil, nil
		}
		return nil, a.click(ctx, p, requestKey("interaction", id, nil))
	case socketmode.RequestTypeEventsAPI:
		e, err := ParseEvent(req.Payload)
		if err != nil {
			return nil, err
		}
		return nil, a.event(ctx, e)
	}
	return nil, nil
}

func errString(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(v)
}
