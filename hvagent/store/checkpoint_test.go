package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDB_WriterPragmas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, pool := range map[string]*sql.DB{"writer": b.db.write, "checkpointer": b.db.ckptPool} {
		var auto, limit int
		var sync string
		require.NoError(t, pool.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto))
		require.NoError(t, pool.QueryRow(`PRAGMA journal_size_limit`).Scan(&limit))
		require.NoError(t, pool.QueryRow(`PRAGMA synchronous`).Scan(&sync))
		require.Equal(t, 0, auto, "%s: no auto-checkpoint inside commits", name)
		require.Equal(t, walSizeLimit, limit, name)
		require.Equal(t, "2", sync, "%s: synchronous=FULL, so checkpoints fsync", name)
	}
}

// TestCheckpointer_RestartsWAL writes without pause from four callers, so
// that the committer always has a write waiting and the background
// checkpoints never find the WAL fully copied when a transaction begins:
// the WAL still starts over each time it reaches restartFrames (the
// writer's catch-up), instead of growing with everything written, and
// every row is there after a reopen.
func TestCheckpointer_RestartsWAL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := b.db
	const restartFrames, callers, perCaller = 256, 4, 150
	db.ckpt.restartFrames = restartFrames // before the first commit kicks it
	var (
		walMax, restarts, last atomic.Int64
	)
	pass := func(frames, _ int) {
		if int64(frames) < last.Swap(int64(frames)) {
			restarts.Add(1)
		}
		walMax.Store(max(walMax.Load(), int64(frames)))
	}
	db.ckpt.onPass.Store(&pass)
	ctx := context.Background()
	require.NoError(t, db.commits.do(ctx, func(_ context.Context, tx querier) error {
		_, err := tx.ExecContext(context.Background(), `CREATE TABLE scratch (v BLOB NOT NULL) STRICT`)
		return err
	}))
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range perCaller {
				err := db.commits.do(ctx, func(_ context.Context, tx querier) error {
					for range 8 { // 8 pages of random data: a commit writes 8 frames or more
						if _, err := tx.ExecContext(context.Background(), `INSERT INTO scratch (v) VALUES (?)`, []byte(rand.Text()+string(make([]byte, 4000)))); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	db.ckpt.onPass.Store(nil)
	written := callers * perCaller * 8
	t.Logf("%d pages written; WAL at most %d frames; %d restarts seen", written, walMax.Load(), restarts.Load())
	require.Positive(t, restarts.Load(), "the WAL starts over under continuous writes")
	require.Less(t, walMax.Load(), int64(written/2), "the WAL does not hold everything written")

	require.NoError(t, db.Close())
	reopened, err := Open(b.path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, reopened.Close()) }()
	var n int
	require.NoError(t, reopened.read.QueryRow(`SELECT COUNT(*) FROM scratch`).Scan(&n))
	require.Equal(t, written, n)
}

// TestCheckpointer_CatchUpRetriesWhenBusy: a catch-up whose checkpoint
// found another one running (SQLite's busy flag) copied nothing, so it
// stays asked for and runs again before the next transaction, instead of
// leaving the WAL to grow until the next background pass asks again; one
// that ran, or failed, is not asked for again.
func TestCheckpointer_CatchUpRetriesWhenBusy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.db.ckpt
	var calls atomic.Int32
	for _, tc := range []struct {
		busy  bool
		err   error
		again bool
	}{{true, nil, true}, {false, nil, false}, {false, errors.New("disk I/O error"), false}} {
		k.writerCheckpoint = func(*sql.DB) (bool, error) { calls.Add(1); return tc.busy, tc.err }
		k.restart.Store(true)
		k.catchUp(b.db.write)
		require.Equal(t, tc.again, k.restart.Load(), "busy %v, error %v", tc.busy, tc.err)
	}
	require.EqualValues(t, 3, calls.Load())
	k.catchUp(b.db.write) // not asked for: no checkpoint
	require.EqualValues(t, 3, calls.Load())

	busy, err := writerPassive(b.db.write)
	require.NoError(t, err)
	require.False(t, busy, "no other checkpoint runs")
}
