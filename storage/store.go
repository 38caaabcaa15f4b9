// Package storage holds opsbot's gorm models and repositories. SQLite (pure
// Go, WAL mode) is the embedded default; PostgreSQL is for teams that run
// several replicas. Every time stored is in UTC.
package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"opsbot/config"
)

// Store is an open, migrated database.
type Store struct {
	// DB is the gorm handle; repositories take it or a transaction from Tx.
	DB     *gorm.DB
	driver string
	path   string // SQLite file, for readiness checks

	// Requests handled, recorded in batches (see batcher).
	slackClaims   *batcher[requestClaim]
	slackReplies  *batcher[reply]
	discordClaims *batcher[requestClaim]
	// group commits SQLite transactions together (nil on PostgreSQL).
	group *txGroup
	// ckpt checkpoints a SQLite file's WAL (nil otherwise).
	ckpt *checkpointer
}

// Open connects to the configured database and applies pending migrations.
func Open(ctx context.Context, cfg config.DatabaseConfig) (*Store, error) {
	s, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect opens the database without migrating it. Its errors never show
// a password the DSN holds.
func Connect(ctx context.Context, cfg config.DatabaseConfig) (*Store, error) {
	s, err := connect(ctx, cfg)
	return s, cfg.RedactErr(err)
}

func connect(ctx context.Context, cfg config.DatabaseConfig) (*Store, error) {
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		TranslateError:         true,
	}
	s := &Store{driver: cfg.Driver}
	var dialector gorm.Dialector
	switch cfg.Driver {
	case "", "sqlite":
		s.driver = "sqlite"
		dsn, path := sqliteDSN(cfg.DSN)
		s.path = path
		if err := sqliteWritable(cfg.DSN); err != nil {
			return nil, err
		}
		conn, ckpt := openGatedSQLite(dsn, path)
		s.ckpt = ckpt
		dialector = sqliteDialector{conn: conn}
	case "postgres":
		dialector = postgres.Open(cfg.DSN)
	default:
		return nil, fmt.Errorf("open database: unknown driver %q (use sqlite or postgres)", cfg.Driver)
	}
	db, err := gorm.Open(dialector, gcfg)
	if err != nil {
		if d, ok := dialector.(sqliteDialector); ok {
			s.ckpt.close()
			d.conn.Close()
		}
		return nil, fmt.Errorf("open %s database%s: %w", s.driver, s.named(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", s.driver, err)
	}
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 10
		if s.driver == "sqlite" {
			maxOpen = 4
		}
	}
	if s.path == ":memory:" {
		maxOpen = 1
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s.DB = db
	w := func(ctx context.Context, fn func(db *gorm.DB) error) error { return fn(db.WithContext(ctx)) }
	if s.driver == "sqlite" {
		s.group = &txGroup{db: db}
		w = s.group.do
	}
	s.slackClaims = claimBatch(w, "slack_requests", "key")
	s.slackReplies = replyBatch(w)
	s.discordClaims = claimBatch(w, "discord_interactions", "id")
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database%s: %w", s.driver, s.named(), err)
	}
	return s, nil
}

// busyTimeout is how long a SQLite writer waits for another before it fails.
const busyTimeout = 10 * time.Second

// sqliteDSN turns a file name (or a DSN with its own parameters) into one
// with WAL, a busy timeout, foreign keys and immediate write transactions.
func sqliteDSN(dsn string) (full, path string) {
	if dsn == "" {
		dsn = "opsbot.db"
	}
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	q, err := url.ParseQuery(query)
	if err != nil {
		q = url.Values{}
	}
	pragmas := strings.Join(q["_pragma"], ",")
	add := func(name, val string) {
		if !strings.Contains(pragmas, name) {
			q.Add("_pragma", name+"("+val+")")
		}
	}
	// The busy timeout comes first: setting WAL may have to wait for
	// another connection.
	add("busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	if path != ":memory:" {
		add("journal_mode", "WAL")
		// The WAL's frames go out in one write per transaction
		// (walvfs.go).
		if q.Get("vfs") == "" {
			q.Set("vfs", walVFSName)
		}
	}
	add("foreign_keys", "1")
	add("synchronous", "NORMAL")
	add("temp_store", "MEMORY")
	// Each pooled connection keeps a page cache of its own; 1 MiB each
	// (SQLite's default is 2) keeps the hot pages (the ends of the indexes
	// that grow) while the operating system's cache holds the file.
	add("cache_size", "-1024")
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	// Times are written, and read from DATETIME columns, as text in one
	// layout (see sqliteTime).
	if q.Get("_timefmt") == "" {
		q.Set("_timefmt", sqliteTime)
	}
	// The driver reads _pragma, _txlock and _timefmt only from a "file:"
	// URI, where SQLite decodes %XX in the path.
	return "file:" + uriPath.Replace(path) + "?" + q.Encode(), path
}

var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Driver is "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Ping checks that the database answers (and, for SQLite, that its file is
// still there), for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	if s.path != "" && s.path != ":memory:" {
		if _, err := os.Stat(s.path); err != nil {
			return fmt.Errorf("sqlite file: %w", err)
		}
	}
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var one int
	if err := sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%s ping: %w", s.driver, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.ckpt.close()
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Tx runs fn in one transaction: the state change, its audit entry and its
// notifications are written together or not at all.
// A transaction of scheduled work (its context carries a leadership term,
// see WithTerm) is refused with ErrFenced once that term has ended.
//
// The first transaction of a chat request (its context carries a Request,
// see WithRequest) also records the request as handled, or returns
// ErrDuplicateRequest, writing nothing, when it was handled already.
func (s *Store) Tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	req := pendingRequest(ctx)
	fenced := s.driver == "postgres" && TermOf(ctx) != 0
	body := fn
	if req != nil || fenced {
		body = func(tx *gorm.DB) error {
			if fenced {
				if err := s.fence(ctx, tx); err != nil {
					return err
				}
			}
			if req != nil {
				if err := req.claimIn(tx); err != nil {
					return err
				}
			}
			return fn(tx)
		}
	}
	var err error
	if s.group != nil {
		err = s.group.do(ctx, body)
	} else {
		err = s.DB.WithContext(ctx).Transaction(body)
	}
	if err == nil && req != nil {
		req.mu.Lock()
		req.claimed = true
		req.mu.Unlock()
	}
	return err
}

// ErrNotFound is returned by repositories for a missing record.
var ErrNotFound = errors.New("not found")

// notFound maps gorm's record-not-found to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
