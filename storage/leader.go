package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm/clause"
)

// Replica is one `opsbot serve` process, as it last reported itself.
type Replica struct {
	ID        string    `gorm:"primaryKey;size:128"`
	Host      string    `gorm:"size:255;not null"`
	PID       int       `gorm:"not null"`
	Version   string    `gorm:"size:64"`
	StartedAt time.Time `gorm:"not null"`
	SeenAt    time.Time `gorm:"not null;index"`
	Leader    bool      `gorm:"not null"`
}

// Elector decides which replica runs the scheduled work. On PostgreSQL the
// leader holds a session advisory lock on a connection of its own, checks
// it every interval, and steps down the moment that connection fails; the
// others try to take the lock every interval. With SQLite there is one
// replica and it always leads.
type Elector struct {
	store    *Store
	self     Replica
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	leading  atomic.Bool
}

// NewElector returns an elector for this process.
func (s *Store) NewElector(version string, interval time.Duration, log *slog.Logger, now func() time.Time) *Elector {
	host, _ := os.Hostname()
	start := now()
	e := &Elector{
		store: s, interval: interval, log: log, now: now,
		self: Replica{ID: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), start.UnixNano()), Host: host,
			PID: os.Getpid(), Version: version, StartedAt: start},
	}
	// The only SQLite replica leads from the start.
	e.leading.Store(s.driver != "postgres")
	return e
}

// ID identifies this replica.
func (e *Elector) ID() string { return e.self.ID }

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends. While this replica leads, work runs with a
// context that is cancelled as soon as leadership is lost; Run waits for
// work to return before campaigning again. An error from work (other than
// its context ending) gives up leadership and is returned.
func (e *Elector) Run(ctx context.Context, work func(ctx context.Context) error) error {
	if e.store.driver != "postgres" {
		e.leading.Store(true)
		e.heartbeat(ctx)
		stop := e.every(ctx, e.heartbeat)
		defer stop()
		err := work(ctx)
		e.leading.Store(false)
		return ignoreCanceled(ctx, err)
	}
	for {
		err := e.term(ctx, work)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.interval):
		}
	}
}

// term takes the lock if it can and leads until the lock or ctx is lost.
func (e *Elector) term(ctx context.Context, work func(ctx context.Context) error) error {
	e.heartbeat(ctx)
	sqlDB, err := e.store.DB.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		e.log.Warn("leader election: no database connection", "err", err)
		return nil
	}
	// The connection is always thrown away at the end: closing the session
	// is what releases the lock, even when its state is unknown.
	defer discard(conn)
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':opsbot-leader'))").Scan(&got); err != nil {
		e.log.Warn("leader election: try lock", "err", err)
		return nil
	}
	if !got {
		return nil
	}
	// Let PostgreSQL notice a leader host that vanished without closing
	// its connection, so the lock does not outlive it for long.
	for _, q := range []string{"SET tcp_keepalives_idle = 5", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 3"} {
		_, _ = conn.ExecContext(ctx, q)
	}
	n, err := beginTerm(ctx, conn, e.self.ID)
	if err != nil {
		e.log.Warn("leader election", "err", err)
		return nil
	}
	e.leading.Store(true)
	e.heartbeat(ctx)
	e.log.Info("became leader", "replica", e.self.ID, "term", n)
	fenced := make(chan struct{})
	var once sync.Once
	wctx, cancel := context.WithCancel(WithTerm(ctx, n, func() { once.Do(func() { close(fenced) }) }))
	done := make(chan error, 1)
	go func() { done <- work(wctx) }()
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	// The lock check runs beside the loop: a slow answer (a busy database)
	// keeps this replica leading, and only a failed or empty answer makes
	// it step down. Leading on while unsure is safe because every write of
	// scheduled work is fenced by term.
	checkCtx, cancelCheck := context.WithCancel(ctx)
	defer cancelCheck()
	checked := make(chan error, 1)
	checking := false
	var result error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-done:
			done <- err
			result = ignoreCanceled(wctx, err)
			if result == nil && ctx.Err() == nil {
				result = errors.New("scheduled work stopped while leading")
			}
			break loop
		case <-fenced:
			e.log.Error("lost leadership: a newer term has begun", "replica", e.self.ID, "term", n)
			break loop
		case err := <-checked:
			checking = false
			if err != nil {
				e.log.Error("lost leadership", "replica", e.self.ID, "term", n, "err", err)
				break loop
			}
		case <-tick.C:
			if !checking {
				checking = true
				go func() { checked <- e.stillHeld(checkCtx, conn) }()
			} else {
				e.log.Warn("leader lock check is slow; leading on (scheduled writes are fenced by term)", "replica", e.self.ID)
			}
			e.heartbeat(ctx)
		}
	}
	cancelCheck()
	cancel()
	if err := <-done; err != nil && result == nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		result = err
	}
	e.leading.Store(false)
	e.heartbeat(context.WithoutCancel(ctx))
	e.log.Info("stepped down", "replica", e.self.ID)
	return result
}

// stillHeld checks over the lock's own connection that it is alive and
// still holds the lock.
func (e *Elector) stillHeld(ctx context.Context, conn *sql.Conn) error {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`).Scan(&n)
	if err != nil {
		return fmt.Errorf("check leader lock: %w", err)
	}
	if n == 0 {
		return errors.New("leader lock no longer held")
	}
	return nil
}

// heartbeat records this replica as seen now; failures are only logged,
// since the replica list is for operators.
func (e *Elector) heartbeat(ctx context.Context) {
	r := e.self
	r.SeenAt = e.now().UTC()
	r.Leader = e.leading.Load()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := e.store.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"seen_at", "leader"}),
	}).Create(&r).Error
	if err != nil && ctx.Err() == nil {
		e.log.Warn("replica heartbeat", "err", err)
	}
}

// every runs f each interval until the returned stop is called or ctx ends.
func (e *Elector) every(ctx context.Context, f func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(e.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f(ctx)
			}
		}
	}()
	return cancel
}

// Replicas lists the replicas seen since the given time, leader first.
func (s *Store) Replicas(ctx context.Context, since time.Time) ([]Replica, error) {
	var out []Replica
	err := s.DB.WithContext(ctx).Where("seen_at >= ?", since.UTC()).Order("leader DESC, started_at").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	return out, nil
}

func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

func ignoreCanceled(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
