package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent"
)

var _ hvagent.Store = (*DB)(nil)

// Durability levels accepted by Options.Durability.
const (
	// DurabilityFull survives a power loss (SQLite synchronous=FULL).
	DurabilityFull = "full"
	// DurabilityNormal survives a process crash but may lose the last
	// transactions on a power loss (SQLite synchronous=NORMAL).
	DurabilityNormal = "normal"
)

// Options configure Open.
type Options struct {
	// Durability is DurabilityFull (the default when "") or DurabilityNormal.
	Durability string
	// Now returns the current time, used for timestamps the caller does not
	// give (a zero At, metadata changes); default time.Now.
	Now func() time.Time

	// Logger receives what the store's background WAL checkpointer cannot
	// return to a caller (a failed checkpoint, retried); default zerolog.Nop().
	Logger zerolog.Logger

	// openPool opens a connection pool on an SQLite DSN whose connections
	// each run pragmas when they open; default openSQLite. Tests record
	// the statements the store issues through it.
	openPool func(dsn string, pragmas []string) (*sql.DB, error)
}

// DB is the SQLite implementation of hvagent.Store. It owns its database
// file exclusively (see Open) until Close.
type DB struct {
	path     string
	now      func() time.Time
	openPool func(dsn string, pragmas []string) (*sql.DB, error)
	log      zerolog.Logger
	write    *sql.DB       // one connection, BEGIN IMMEDIATE
	commits  *committer    // runs every write on write
	ckptPool *sql.DB       // one connection, for ckpt
	ckpt     *checkpointer // copies the WAL into the database file
	read     *sql.DB       // read-only pool
	guests   guestCache    // of the guests point lookups found
	lock     *fileLock

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating it and its parent directory if needed) the database
// at path, takes an exclusive lock on <path>.lock and applies the pending
// migrations. The database and its -wal, -shm and .lock files have mode
// 0600 (an existing file with a wider mode is narrowed). A database already opened by another DB, in this process or
// another, gives ECONFLICT; a bad option gives EINVALID.
func Open(path string, opts Options) (*DB, error) {
	syncMode, err := synchronous(opts.Durability)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, hvagent.Errorf(hvagent.EINVALID, "database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	lock, err := acquireLock(abs)
	if err != nil {
		return nil, err
	}
	if err := restrictFiles(abs); err != nil {
		return nil, errors.Join(err, lock.release())
	}
	db := &DB{path: abs, now: opts.Now, openPool: opts.openPool, log: opts.Logger, lock: lock}
	if db.now == nil {
		db.now = time.Now
	}
	if db.openPool == nil {
		db.openPool = openSQLite
	}
	if err := db.open(syncMode); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// open opens the writer, checkpointer and read pools, migrates the schema
// and starts the committer and the checkpointer.
func (db *DB) open(syncMode string) error {
	var err error
	if db.write, err = db.openOne(writerDSN(db.path, syncMode)); err != nil {
		return err
	}
	if err := migrate(context.Background(), db.write); err != nil {
		return fmt.Errorf("open database %s: %w", db.path, err)
	}
	// The checkpointer has the writer's synchronous setting: its
	// checkpoints fsync as the writer's own would.
	if db.ckptPool, err = db.openOne(writerDSN(db.path, syncMode)); err != nil {
		return err
	}
	db.ckpt = newCheckpointer(db.ckptPool, db.log)
	db.commits = newCommitter(db.write, db.ckpt, txBudget)
	db.commits.beforeCommit, db.commits.afterTx = db.guests.hold, db.guests.bump
	// The read pool opens after migrate: mode=ro cannot create the file.
	if db.read, err = db.openPool(readerDSN(db.path), nil); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	if err := db.read.Ping(); err != nil {
		return fmt.Errorf("open database %s read-only: %w", db.path, err)
	}
	return nil
}

// openOne opens a pool of one long-lived connection on dsn, with
// writerPragmas.
func (db *DB) openOne(dsn string) (*sql.DB, error) {
	pool, err := db.openPool(dsn, writerPragmas)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pool.SetMaxOpenConns(1)
	pool.SetMaxIdleConns(1)
	pool.SetConnMaxLifetime(0)
	return pool, nil
}

// Close closes the database and releases its lock. It is safe to call more
// than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var errs []error
		if db.commits != nil {
			db.commits.close()
		}
		if db.ckpt != nil {
			db.ckpt.close()
		}
		if db.read != nil {
			errs = append(errs, db.read.Close())
		}
		if db.ckptPool != nil {
			errs = append(errs, db.ckptPool.Close())
		}
		if db.write != nil {
			errs = append(errs, db.write.Close())
		}
		errs = append(errs, db.lock.release())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// openSQLite opens a mattn/go-sqlite3 pool on dsn whose connections each
// run pragmas when they open: pragmas are per connection, and a pool may
// replace a connection.
func openSQLite(dsn string, pragmas []string) (*sql.DB, error) {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec(p, nil); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}}
	return sql.OpenDB(connector{dsn: dsn, drv: drv}), nil
}

// connector opens connections of drv on dsn.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c connector) Driver() driver.Driver { return c.drv }

// synchronous maps a durability level to SQLite's synchronous setting.
func synchronous(durability string) (string, error) {
	switch durability {
	case "", DurabilityFull:
		return "FULL", nil
	case DurabilityNormal:
		return "NORMAL", nil
	}
	return "", hvagent.Errorf(hvagent.EINVALID, "durability %q is not %q or %q",
		durability, DurabilityFull, DurabilityNormal)
}

// writerDSN is the DSN of the one-connection writer pool. Pragmas are in
// the DSN because they are per connection.
func writerDSN(path, syncMode string) string {
	return fileURI(path) + "?_txlock=immediate&_journal_mode=WAL&_busy_timeout=5000" +
		"&_foreign_keys=on&_stmt_cache_size=64&_synchronous=" + syncMode
}

// readerDSN is the DSN of the read-only pool.
func readerDSN(path string) string {
	return fileURI(path) + "?mode=ro&_busy_timeout=5000&_foreign_keys=on&_stmt_cache_size=64"
}

// fileURI is path as an SQLite URI, with ?, # and % escaped.
func fileURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath()
}

// inTx runs fn in a transaction of pool, committing when fn returns nil and
// rolling back when it returns an error or panics.
func inTx(ctx context.Context, pool *sql.DB, fn func(querier) error) (err error) {
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// at returns t, or the current time when t is zero.
func (db *DB) at(t time.Time) time.Time {
	if t.IsZero() {
		return db.now()
	}
	return t
}

// WriterDSN returns the DSN the store writes path with under durability
// ("full" or "normal"), for tools and benchmarks that must compare against
// the store's own SQLite settings.
func WriterDSN(path, durability string) (string, error) {
	mode, err := synchronous(durability)
	if err != nil {
		return "", err
	}
	return writerDSN(path, mode), nil
}
