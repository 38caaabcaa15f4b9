package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Outbox message states.
const (
	OutboxPending = "pending"
	OutboxSending = "sending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
	OutboxDropped = "dropped"
	// OutboxHeld is a message whose last send may have reached the
	// platform but cannot be looked up there (a missing scope, a channel
	// the bot is not in): it waits for a person's opsbot outbox retry,
	// which posts it, rather than risk a duplicate. LastError says why
	// and what to fix.
	OutboxHeld = "held"
)

// OutboxStates lists every state, for validating operators' filters.
var OutboxStates = []string{OutboxPending, OutboxSending, OutboxSent, OutboxHeld, OutboxFailed, OutboxDropped}

// OutboxMessage is one notification to one platform destination, written in
// the same transaction as the state change that caused it and delivered by
// the notifier.
type OutboxMessage struct {
	ID int64 `gorm:"primaryKey"`
	// Key is unique: the logical message's idempotency key and the platform.
	// Writing the same key twice keeps the first.
	Key string `gorm:"size:255;not null;uniqueIndex"`
	// Lane orders delivery: messages in one lane (platform and channel or
	// person) go out one at a time, in ID order.
	Lane     string `gorm:"size:255;not null;index:idx_outbox_state_lane,priority:2"`
	Platform string `gorm:"size:16;not null"`
	// Target is the JSON of a bot.Target; Body the JSON of a bot.Reply.
	Target string `gorm:"type:text;not null"`
	Body   string `gorm:"type:text;not null"`
	// UpdatesKey names the message this one edits; ThreadKey the message
	// whose thread it replies in.
	UpdatesKey    string    `gorm:"size:255"`
	ThreadKey     string    `gorm:"size:255"`
	State         string    `gorm:"size:16;not null;index:idx_outbox_state_lane,priority:1"`
	Attempts      int       `gorm:"not null;default:0"`
	NextAttemptAt time.Time `gorm:"not null"`
	LastError     string    `gorm:"type:text"`
	// Uncertain is set when the last attempt ended without knowing whether
	// the platform accepted the message (a timeout, a crash while sending);
	// the next attempt asks the platform first.
	Uncertain bool `gorm:"not null;default:false"`
	// MessageChannel and MessageID are the platform's reference once sent.
	MessageChannel string `gorm:"size:64"`
	MessageID      string `gorm:"size:64"`
	// ClaimedBy and ClaimedUntil are the lease of the notifier sending the
	// message; a lease that runs out (the process died) lets another take it.
	ClaimedBy    string `gorm:"size:64"`
	ClaimedUntil *time.Time
	CreatedAt    time.Time `gorm:"not null;index"`
	// QueuedAt is when the message was queued or an operator last retried
	// it; the notifier gives up max_age after it.
	QueuedAt time.Time `gorm:"not null"`
	SentAt   *time.Time
}

// EnqueueOutbox inserts messages in the caller's transaction; a message whose
// key is already there is skipped, so writing a notification twice sends it
// once.
func EnqueueOutbox(tx *gorm.DB, msgs ...OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	for i := range msgs {
		if msgs[i].State == "" {
			msgs[i].State = OutboxPending
		}
		msgs[i].CreatedAt = msgs[i].CreatedAt.UTC()
		if msgs[i].QueuedAt.IsZero() {
			msgs[i].QueuedAt = msgs[i].CreatedAt
		}
		msgs[i].QueuedAt = msgs[i].QueuedAt.UTC()
		msgs[i].NextAttemptAt = msgs[i].NextAttemptAt.UTC()
	}
	// Through database/sql, not gorm's Create: this insert is in the
	// transaction of every change that notifies (see insertRow).
	q := newRawSQL(tx, 19*len(msgs))
	q.sql("INSERT INTO outbox_messages (\"key\", lane, platform, target, body, updates_key, thread_key, state, attempts, " +
		"next_attempt_at, last_error, uncertain, message_channel, message_id, claimed_by, claimed_until, created_at, queued_at, sent_at) VALUES ")
	for i, m := range msgs {
		q.row(i == 0, m.Key, m.Lane, m.Platform, m.Target, m.Body, m.UpdatesKey, m.ThreadKey, m.State, m.Attempts,
			m.NextAttemptAt, m.LastError, m.Uncertain, m.MessageChannel, m.MessageID, m.ClaimedBy, m.ClaimedUntil,
			m.CreatedAt, m.QueuedAt, m.SentAt)
	}
	if err := q.sql(" ON CONFLICT (\"key\") DO NOTHING").exec(tx); err != nil {
		return fmt.Errorf("enqueue notification %s: %w", msgs[0].Key, err)
	}
	return nil
}

// OutboxScope is what one notifier may claim: the messages of the platforms
// it can deliver, and the lanes that start with LanePrefix (its own
// process's log sink). The zero scope claims nothing.
type OutboxScope struct {
	Platforms  []string
	LanePrefix string
}

// ClaimOutbox leases up to limit messages within scope that are due at now and head their
// lane (no older message of the lane is pending or sending), marking them
// sending for owner until now+lease. A message whose lease ran out while
// sending is claimed again and marked Uncertain. On PostgreSQL the rows are
// locked with SKIP LOCKED, so replicas claiming at once never share a row.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, scope OutboxScope) ([]OutboxMessage, error) {
	var claimed []OutboxMessage
	if len(scope.Platforms) == 0 && scope.LanePrefix == "" {
		return nil, nil
	}
	q, args := dueQuery(s.driver, scope, now, limit)
	err := s.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Raw(q, args...).Scan(&claimed).Error; err != nil {
			return fmt.Errorf("find due notifications: %w", err)
		}
		for i := range claimed {
			if err := claim(tx, &claimed[i], owner, now, lease); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// dueQuery is the statement, and its arguments, that finds the heads of the
// scope's lanes that are due at now, oldest first, at most limit of them.
//
// The limit is written into the text, not bound: SQLite plans a query with
// a subquery by the bound LIMIT's value, so a bound one makes the statement
// expire whenever its bindings are cleared, which the driver does after
// every run, and it was compiled again on every claim (STMTSTATUS_REPREPARE
// counted one per run). The limit is the notifier's batch size, one text.
func dueQuery(driver string, scope OutboxScope, now time.Time, limit int) (string, []any) {
	// Which messages are ours: the platforms', and the lanes with the prefix.
	var mine []string
	args := []any{now.UTC(), now.UTC()}
	if len(scope.Platforms) > 0 {
		mine = append(mine, "m.platform IN ?")
		args = append(args, scope.Platforms)
	}
	if scope.LanePrefix != "" {
		mine = append(mine, "substr(m.lane, 1, ?) = ?")
		args = append(args, len(scope.LanePrefix), scope.LanePrefix)
	}
	lock := ""
	if driver == "postgres" {
		lock = " FOR UPDATE OF m SKIP LOCKED"
	}
	q := `SELECT m.* FROM outbox_messages m
JOIN ` + laneHeads(driver) + ` h ON h.id = m.id
WHERE ((m.state = 'pending' AND m.next_attempt_at <= ?) OR (m.state = 'sending' AND m.claimed_until <= ?))
AND (` + strings.Join(mine, " OR ") + `)
ORDER BY m.next_attempt_at, m.id LIMIT ` + strconv.Itoa(limit) + lock
	return q, args
}

// laneHeads is a subquery of the id of each lane's head: its oldest
// message still pending or sending. On PostgreSQL that is a GROUP BY over
// the queued messages. On SQLite, whose GROUP BY reads every queued message
// (a backlog of thousands in one channel, read again every few sends), it
// walks the (state, lane) index from one lane to the next and takes each
// lane's first message from it: a few index seeks a lane.
func laneHeads(driver string) string {
	if driver == "postgres" {
		return `(SELECT lane, MIN(id) AS id FROM outbox_messages WHERE state IN ('pending', 'sending') GROUP BY lane)`
	}
	// next(state, after) is the first lane after the given one with a
	// message in that state; SQLite's min(a, b) is NULL when either is, so
	// the COALESCE takes the other.
	next := func(after string) string {
		p := `(SELECT lane FROM outbox_messages WHERE state = 'pending'` + after + ` ORDER BY lane LIMIT 1)`
		s := `(SELECT lane FROM outbox_messages WHERE state = 'sending'` + after + ` ORDER BY lane LIMIT 1)`
		return `COALESCE(min(` + p + `, ` + s + `), ` + p + `, ` + s + `)`
	}
	head := func(state string) string {
		return `(SELECT id FROM outbox_messages WHERE state = '` + state + `' AND lane = lanes.lane ORDER BY id LIMIT 1)`
	}
	return `(WITH RECURSIVE lanes(lane) AS (SELECT ` + next("") + `
  UNION ALL SELECT ` + next(" AND lane > lanes.lane") + ` FROM lanes WHERE lanes.lane IS NOT NULL)
SELECT COALESCE(min(` + head("pending") + `, ` + head("sending") + `), ` + head("pending") + `, ` + head("sending") + `) AS id
FROM lanes WHERE lanes.lane IS NOT NULL)`
}

// claimLaneRun leases up to n messages of lane from its head on, in
// order, while each is pending and due, after the caller finished the
// messages before them: a worker keeps draining one lane without going
// back to the queue, and sends a run of messages between two
// transactions. It returns none when the head is not due or is someone
// else's.
func (s *Store) claimLaneRun(tx *gorm.DB, lane, owner string, now time.Time, lease time.Duration, n int) ([]OutboxMessage, error) {
	// The head is the lower of the lane's first pending and first sending
	// message, each one seek of the (state, lane, id) index. Asked as one
	// "state IN (…) ORDER BY id", the database reads and sorts every
	// queued message of the lane, a backlog of thousands, on every send.
	var head OutboxMessage
	err := tx.Raw(`SELECT * FROM outbox_messages WHERE id = (SELECT MIN(id) FROM (
  SELECT id FROM (SELECT id FROM outbox_messages WHERE state = 'pending' AND lane = ? ORDER BY id LIMIT 1) p
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox_messages WHERE state = 'sending' AND lane = ? ORDER BY id LIMIT 1) s) h)`,
		lane, lane).Take(&head).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find next notification in %s: %w", lane, err)
	}
	if head.State != OutboxPending || head.NextAttemptAt.After(now) {
		return nil, nil
	}
	run := []OutboxMessage{head}
	if s.driver == "postgres" {
		// Check again under the row's lock: another replica may have
		// claimed it, or tried it and put it back to wait, meanwhile. (A
		// SQLite transaction here holds the file's write lock from its
		// start, so what it read cannot have changed.) Whoever holds the
		// head holds the lane, so the messages behind it are locked
		// waiting, not skipped, which could reorder them.
		var locked []OutboxMessage
		err := tx.Where("id = ? AND state = ? AND next_attempt_at <= ?", head.ID, OutboxPending, now.UTC()).
			Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).Find(&locked).Error
		if err != nil {
			return nil, fmt.Errorf("lock notification %d: %w", head.ID, err)
		}
		if len(locked) == 0 {
			return nil, nil
		}
		run = locked
	}
	if n > 1 {
		q := tx.Where("state = ? AND lane = ? AND id > ?", OutboxPending, lane, head.ID).Order("id").Limit(n - 1)
		if s.driver == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var behind []OutboxMessage
		if err := q.Find(&behind).Error; err != nil {
			return nil, fmt.Errorf("find notifications behind %d in %s: %w", head.ID, lane, err)
		}
		// A message waiting for its retry holds back the ones behind it.
		for _, m := range behind {
			if m.NextAttemptAt.After(now) {
				break
			}
			run = append(run, m)
		}
	}
	ids := make([]any, len(run))
	until := now.Add(lease).UTC()
	for i := range run {
		ids[i] = run[i].ID
		run[i].State = OutboxSending
		run[i].ClaimedBy = owner
		run[i].ClaimedUntil = &until
		run[i].Attempts++
	}
	// By id alone: what was read above cannot have changed (SQLite's write
	// lock, PostgreSQL's row locks), and with "AND state = ?" SQLite's
	// planner walked the (state, lane) index through every pending message
	// of every lane instead of looking the ids up.
	q := newRawSQL(tx, 3+len(ids))
	q.sql("UPDATE outbox_messages SET state = ").arg(OutboxSending).sql(", claimed_by = ").arg(owner).
		sql(", claimed_until = ").arg(until).sql(", attempts = attempts + 1 WHERE id IN ").row(true, ids...)
	if err := q.exec(tx); err != nil {
		return nil, fmt.Errorf("claim notifications in %s: %w", lane, err)
	}
	return run, nil
}

func claim(tx *gorm.DB, m *OutboxMessage, owner string, now time.Time, lease time.Duration) error {
	until := now.Add(lease).UTC()
	if m.State == OutboxSending {
		// The last sender's lease ran out: it may have been accepted.
		m.Uncertain = true
	}
	m.State = OutboxSending
	m.ClaimedBy = owner
	m.ClaimedUntil = &until
	m.Attempts++
	err := tx.Model(&OutboxMessage{}).Where("id = ?", m.ID).Updates(map[string]any{
		"state": OutboxSending, "claimed_by": owner, "claimed_until": until,
		"attempts": m.Attempts, "uncertain": m.Uncertain,
	}).Error
	if err != nil {
		return fmt.Errorf("claim notification %d: %w", m.ID, err)
	}
	return nil
}

// OutboxOutcome is what the notifier learnt from one attempt.
type OutboxOutcome struct {
	// State is sent, pending (retry at NextAttemptAt) or failed.
	State         string
	NextAttemptAt time.Time
	LastError     string
	Uncertain     bool
	// Attempts, when not nil, replaces the count (a wait that was no attempt).
	Attempts       *int
	MessageChannel string
	MessageID      string
	At             time.Time
}

// FinishOutbox records an attempt's outcome, if owner still holds the claim.
// It reports false when the claim was lost (the lease ran out and another
// notifier took the message, or an operator dropped it).
func (s *Store) FinishOutbox(ctx context.Context, id int64, owner string, o OutboxOutcome) (bool, error) {
	var mine bool
	// Through Tx, so on SQLite the outcome joins the group commit of the
	// requests being handled meanwhile instead of taking the file alone.
	err := s.Tx(ctx, func(tx *gorm.DB) (err error) {
		mine, err = finishOutbox(tx, id, owner, o)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record outcome of notification %d: %w", id, err)
	}
	return mine, nil
}

func finishOutbox(tx *gorm.DB, id int64, owner string, o OutboxOutcome) (bool, error) {
	// Through database/sql: a worker draining a lane records every send
	// here, inside the group commit (see insertRow).
	q := newRawSQL(tx, 12)
	q.sql("UPDATE outbox_messages SET state = ").arg(o.State).sql(", last_error = ").arg(o.LastError).
		sql(", uncertain = ").arg(o.Uncertain).sql(", claimed_by = '', claimed_until = NULL")
	switch o.State {
	case OutboxSent:
		q.sql(", sent_at = ").arg(o.At.UTC()).sql(", message_channel = ").arg(o.MessageChannel).
			sql(", message_id = ").arg(o.MessageID)
	case OutboxPending:
		q.sql(", next_attempt_at = ").arg(o.NextAttemptAt.UTC())
	}
	if o.Attempts != nil {
		q.sql(", attempts = ").arg(*o.Attempts)
	}
	q.sql(" WHERE id = ").arg(id).sql(" AND state = ").arg(OutboxSending).sql(" AND claimed_by = ").arg(owner)
	n, err := q.affected(tx)
	return n == 1, err
}

// Finished is one message's outcome, for FinishOutboxRun.
type Finished struct {
	ID      int64
	Outcome OutboxOutcome
}

// FinishOutboxRun records the outcomes of owner's attempts at a run of
// messages as FinishOutbox does and, in the same transaction, when every
// outcome was still owner's to record and lane is not empty, leases the
// next run of up to n messages of the lane: a worker draining a lane pays
// one transaction a run. lost counts the outcomes whose claim had been
// lost (the lease ran out and another notifier took the message, or an
// operator dropped it).
func (s *Store) FinishOutboxRun(ctx context.Context, owner string, done []Finished,
	lane string, now time.Time, lease time.Duration, n int) (lost int, next []OutboxMessage, err error) {
	err = s.Tx(ctx, func(tx *gorm.DB) error {
		lost, next = 0, nil // a retried transaction starts over
		for _, f := range done {
			mine, err := finishOutbox(tx, f.ID, owner, f.Outcome)
			if err != nil {
				return fmt.Errorf("record outcome of notification %d: %w", f.ID, err)
			}
			if !mine {
				lost++
			}
		}
		if lost > 0 || lane == "" || n <= 0 {
			return nil
		}
		var err error
		next, err = s.claimLaneRun(tx, lane, owner, now, lease, n)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return lost, next, nil
}

// RenewOutbox extends owner's leases on the messages it is sending to until
// and returns how many it extended: a live notifier keeps its claims, a
// dead one's run out soon.
func (s *Store) RenewOutbox(ctx context.Context, owner string, until time.Time) (int64, error) {
	res := s.DB.WithContext(ctx).Model(&OutboxMessage{}).
		Where("state = ? AND claimed_by = ?", OutboxSending, owner).Update("claimed_until", until.UTC())
	if res.Error != nil {
		return 0, fmt.Errorf("renew notification leases of %s: %w", owner, res.Error)
	}
	return res.RowsAffected, nil
}

// OutboxByKey returns the message with the key.
func (s *Store) OutboxByKey(ctx context.Context, key string) (OutboxMessage, error) {
	var m OutboxMessage
	err := s.DB.WithContext(ctx).Where("key = ?", key).Take(&m).Error
	if err != nil {
		return m, fmt.Errorf("find notification %s: %w", key, notFound(err))
	}
	return m, nil
}

// OutboxStat is the backlog of one platform.
type OutboxStat struct {
	Platform string
	Queued   int
	Oldest   time.Time
}

// OutboxBacklog counts pending and sending messages per platform, with the
// oldest one's queue time.
func (s *Store) OutboxBacklog(ctx context.Context) ([]OutboxStat, error) {
	var rows []struct {
		Platform string
		N        int
		Oldest   string
	}
	// MIN over a time column comes back as text on SQLite; scan it as such.
	err := s.DB.WithContext(ctx).Model(&OutboxMessage{}).
		Select("platform, COUNT(*) AS n, MIN(created_at) AS oldest").
		Where("state IN ?", []string{OutboxPending, OutboxSending}).Group("platform").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count queued notifications: %w", err)
	}
	out := make([]OutboxStat, 0, len(rows))
	for _, r := range rows {
		st := OutboxStat{Platform: r.Platform, Queued: r.N}
		st.Oldest, _ = parseDBTime(r.Oldest)
		out = append(out, st)
	}
	return out, nil
}

func parseDBTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

// ListOutbox returns the newest messages first, of one state when state is
// not empty.
func (s *Store) ListOutbox(ctx context.Context, state string, limit int) ([]OutboxMessage, error) {
	q := s.DB.WithContext(ctx).Order("id DESC").Limit(limit)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var out []OutboxMessage
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// ErrOutboxState is returned when an operator's action does not fit the
// message's state (retrying a sent message).
var ErrOutboxState = errors.New("not possible in this state")

// outboxStateError says in words why an action does not fit; errors.Is
// matches it with ErrOutboxState.
type outboxStateError string

func (e outboxStateError) Error() string        { return string(e) }
func (e outboxStateError) Is(target error) bool { return target == ErrOutboxState }

func stateErrorf(format string, args ...any) error {
	return outboxStateError(fmt.Sprintf(format, args...))
}

// RetryOutbox puts a failed, dropped, held or waiting message back to
// pending, due now, with a fresh max_age. A held message is posted without
// looking for it first: the person retrying it decided so.
func (s *Store) RetryOutbox(ctx context.Context, id int64, now time.Time) (OutboxMessage, error) {
	return s.changeOutbox(ctx, id, func(m *OutboxMessage) (map[string]any, error) {
		switch m.State {
		case OutboxSent:
			return nil, stateErrorf("notification %d was already sent; there is nothing to retry", id)
		case OutboxSending:
			return nil, stateErrorf("notification %d is being sent right now; see how it ends with opsbot outbox list", id)
		}
		cols := map[string]any{"state": OutboxPending, "next_attempt_at": now.UTC(), "queued_at": now.UTC()}
		if m.State == OutboxHeld {
			cols["uncertain"] = false
			m.Uncertain = false
		}
		m.State, m.NextAttemptAt, m.QueuedAt = OutboxPending, now.UTC(), now.UTC()
		return cols, nil
	})
}

// RetryFailedOutbox puts every failed message back to pending, due now, and
// returns how many.
func (s *Store) RetryFailedOutbox(ctx context.Context, now time.Time) (int64, error) {
	res := s.DB.WithContext(ctx).Model(&OutboxMessage{}).Where("state = ?", OutboxFailed).
		Updates(map[string]any{"state": OutboxPending, "next_attempt_at": now.UTC(), "queued_at": now.UTC()})
	if res.Error != nil {
		return 0, fmt.Errorf("retry failed notifications: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// DropOutbox gives up on a message that was not sent: it is never tried
// again and no longer holds up its lane.
func (s *Store) DropOutbox(ctx context.Context, id int64) (OutboxMessage, error) {
	return s.changeOutbox(ctx, id, func(m *OutboxMessage) (map[string]any, error) {
		switch m.State {
		case OutboxSent:
			return nil, stateErrorf("notification %d was already sent; there is nothing to drop", id)
		case OutboxDropped:
			return nil, stateErrorf("notification %d is already dropped", id)
		}
		m.State = OutboxDropped
		return map[string]any{"state": OutboxDropped, "claimed_by": "", "claimed_until": nil}, nil
	})
}

// changeOutbox is an operator's action on message id: change refuses it
// with a state error or sets m's new state and returns the columns to write.
func (s *Store) changeOutbox(ctx context.Context, id int64, change func(m *OutboxMessage) (map[string]any, error)) (OutboxMessage, error) {
	var m OutboxMessage
	err := s.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&m).Error; err != nil {
			return fmt.Errorf("find notification %d: %w", id, notFound(err))
		}
		cols, err := change(&m)
		if err != nil {
			return err
		}
		return tx.Model(&OutboxMessage{}).Where("id = ?", id).Updates(cols).Error
	})
	return m, err
}
