package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"opsbot/bot"
	"opsbot/clock"
	"opsbot/storage"
)

const outboxUsage = `Usage:
  opsbot outbox list  --config FILE [--state S] [--limit N]   show notifications, newest first
  opsbot outbox retry --config FILE ID|--failed                send again now (a held, failed or dropped one, or all failed)
  opsbot outbox drop  --config FILE ID                         never send it; its channel moves on

States: pending (queued until a process that can deliver its platform sends
it: serve with that platform enabled), sending, sent, held (its last send may
have arrived but cannot be checked: fix what it says, look in the channel, then
retry to post it or drop it), failed, dropped.
`

// outboxCmd is the operators' view of the notification outbox.
func outboxCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, outboxUsage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, outboxUsage)
		return exitOK
	case "list":
		return outboxList(ctx, args[1:], stdout, stderr)
	case "retry", "drop":
		return outboxChange(ctx, args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "opsbot outbox: unknown subcommand %q\n\n%s", args[0], outboxUsage)
	return exitUsage
}

func outboxList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("outbox list", "outbox list --config FILE [--state S] [--limit N]", stderr)
	var state string
	var limit int
	cmd.fs.StringVar(&state, "state", "", "only this state: "+strings.Join(storage.OutboxStates, ", "))
	cmd.fs.IntVar(&limit, "limit", 50, "at most this many (1-10000)")
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	if state != "" && !slices.Contains(storage.OutboxStates, state) {
		fmt.Fprintf(stderr, "opsbot outbox list: unknown state %q (use one of %s)\n", state, strings.Join(storage.OutboxStates, ", "))
		return exitUsage
	}
	if limit < 1 || limit > 10000 {
		fmt.Fprintf(stderr, "opsbot outbox list: --limit %d is out of range (use 1 to 10000)\n", limit)
		return exitUsage
	}
	_, store, code := cmd.openStore(ctx)
	if store == nil {
		return code
	}
	defer store.Close()
	msgs, err := store.ListOutbox(ctx, state, limit)
	if err != nil {
		return cmd.fail(err)
	}
	if len(msgs) == 0 {
		fmt.Fprintln(stdout, "no notifications")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTO\tKEY\tATTEMPTS\tWHEN\tLAST ERROR")
	for _, m := range msgs {
		var to bot.Target
		_ = json.Unmarshal([]byte(m.Target), &to)
		dest := string(to.Platform) + " " + to.Name
		when := ""
		switch m.State {
		case storage.OutboxPending:
			when = "next " + m.NextAttemptAt.Format(time.RFC3339)
		case storage.OutboxSent:
			if m.SentAt != nil {
				when = "sent " + m.SentAt.Format(time.RFC3339)
			}
		default:
			when = "queued " + m.QueuedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.State, oneLine(dest, 40), oneLine(m.Key, 60),
			m.Attempts, when, oneLine(m.LastError, 80))
	}
	tw.Flush()
	// A held message waits for a person: say in full why and what to do.
	for _, m := range msgs {
		if m.State == storage.OutboxHeld {
			fmt.Fprintf(stdout, "\nheld %d (%s): %s\n", m.ID, m.Key, strings.Join(strings.Fields(m.LastError), " "))
		}
	}
	return exitOK
}

// outboxChange runs retry or drop on one message (or, for retry, all failed).
func outboxChange(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	synopsis := "outbox drop --config FILE ID"
	if verb == "retry" {
		synopsis = "outbox retry --config FILE ID|--failed"
	}
	cmd := newCommand("outbox "+verb, synopsis, stderr)
	var failed bool
	if verb == "retry" {
		cmd.fs.BoolVar(&failed, "failed", false, "retry every failed notification")
	}
	// A negative number is a mistyped ID, not an unknown flag.
	for _, a := range args {
		if n, err := strconv.ParseInt(a, 10, 64); err == nil && n < 0 {
			fmt.Fprintf(stderr, "opsbot outbox %s: %q is not a notification ID (a number from opsbot outbox list, e.g. 12)\n", verb, a)
			return exitUsage
		}
	}
	// The ID may come before or after the flags.
	pos, code, ok := cmd.parseArgs(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 1:
		fmt.Fprintf(stderr, "opsbot outbox %s: one ID at a time, got %q\n", verb, pos)
		return exitUsage
	case failed && len(pos) == 1:
		fmt.Fprintf(stderr, "opsbot outbox retry: give an ID or --failed, not both\n")
		return exitUsage
	case !failed && len(pos) == 0:
		fmt.Fprintf(stderr, "opsbot outbox %s: which notification? Give its ID from opsbot outbox list\n", verb)
		cmd.fs.Usage()
		return exitUsage
	}
	var id int64
	if len(pos) == 1 {
		var err error
		id, err = strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
		if err != nil || id < 1 {
			fmt.Fprintf(stderr, "opsbot outbox %s: %q is not a notification ID (a number from opsbot outbox list, e.g. 12)\n", verb, oneLine(pos[0], 40))
			return exitUsage
		}
	}
	_, store, code := cmd.openStore(ctx)
	if store == nil {
		return code
	}
	defer store.Close()
	now := clock.Real{}.Now()
	if failed {
		n, err := store.RetryFailedOutbox(ctx, now)
		if err != nil {
			return cmd.fail(err)
		}
		fmt.Fprintf(stdout, "%d failed notifications are pending again\n", n)
		return exitOK
	}
	var m storage.OutboxMessage
	var err error
	if verb == "retry" {
		m, err = store.RetryOutbox(ctx, id, now)
	} else {
		m, err = store.DropOutbox(ctx, id)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fmt.Fprintf(stderr, "opsbot outbox %s: no notification %d (see opsbot outbox list)\n", verb, id)
		return exitFail
	case err != nil: // a storage.ErrOutboxState says why in words
		return cmd.fail(err)
	}
	if verb == "retry" {
		fmt.Fprintf(stdout, "notification %d (%s) is pending again; a running opsbot sends it at its next poll\n", m.ID, m.Key)
	} else {
		fmt.Fprintf(stdout, "notification %d (%s) dropped; it will not be sent\n", m.ID, m.Key)
	}
	return exitOK
}

// oneLine keeps a table cell on one line and at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
