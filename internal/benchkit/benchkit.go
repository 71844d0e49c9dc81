// Package benchkit holds what the benchmarks of several packages share:
// the job path's reference (one-row commits on a scratch SQLite database
// with the store's writer settings), the process's CPU time, and a codec's
// time side by side with encoding/json's (SideBySide).
package benchkit

import (
	"database/sql"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RawPool opens a scratch database in tb's temp dir with newDSN's data
// source name (the store's writer settings) and one table of text rows.
func RawPool(tb testing.TB, newDSN func(path string) (string, error)) *sql.DB {
	tb.Helper()
	dsn, err := newDSN(filepath.Join(tb.TempDir(), "raw.db"))
	require.NoError(tb, err)
	pool, err := sql.Open("sqlite3", dsn)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, pool.Close()) })
	pool.SetMaxOpenConns(1)
	_, err = pool.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`)
	require.NoError(tb, err)
	return pool
}

// RawCommits commits n one-row transactions on pool one after the other
// and returns how long they took.
func RawCommits(tb testing.TB, pool *sql.DB, n int) time.Duration {
	began := time.Now()
	for range n {
		tx, err := pool.Begin()
		require.NoError(tb, err)
		_, err = tx.Exec(`INSERT INTO t (v) VALUES (?)`, "a job-sized row of text")
		require.NoError(tb, err)
		require.NoError(tb, tx.Commit())
	}
	return time.Since(began)
}

// CPUTime returns the CPU time (user and system) the process has used.
func CPUTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
