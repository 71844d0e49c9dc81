package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// BenchmarkEnqueueClaimFinish measures one job's three transactions.
func BenchmarkEnqueueClaimFinish(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "hvagent.db"), Options{})
	require.NoError(b, err)
	defer func() { require.NoError(b, db.Close()) }()
	for b.Loop() {
		j, err := db.Enqueue(ctx, newJob("g1", nil))
		require.NoError(b, err)
		_, err = db.Claim(ctx, "g1", at(1), hvagent.ClaimOptions{})
		require.NoError(b, err)
		_, _, err = db.Finish(ctx, hvagent.JobEnd{ID: j.ID, At: at(2), Status: hvagent.JobComplete})
		require.NoError(b, err)
	}
}

// BenchmarkRawTx measures three plain write transactions, each inserting a
// row, with the store's writer DSN: the floor of BenchmarkEnqueueClaimFinish.
func BenchmarkRawTx(b *testing.B) {
	ctx := context.Background()
	pool, err := sql.Open("sqlite3", writerDSN(filepath.Join(b.TempDir(), "raw.db"), "FULL"))
	require.NoError(b, err)
	defer func() { require.NoError(b, pool.Close()) }()
	pool.SetMaxOpenConns(1)
	_, err = pool.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`)
	require.NoError(b, err)
	for b.Loop() {
		for range 3 {
			err := inTx(ctx, pool, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, "x")
				return err
			})
			require.NoError(b, err)
		}
	}
}
