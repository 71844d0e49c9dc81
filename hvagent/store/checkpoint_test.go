package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	require.NoError(t, db.commits.write(ctx, func(tx querier) error {
		_, err := tx.ExecContext(context.Background(), `CREATE TABLE scratch (v BLOB NOT NULL) STRICT`)
		return err
	}))
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range perCaller {
				err := db.commits.write(ctx, func(tx querier) error {
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

// TestCheckpointer_CatchUpRetriesWhenBusy: a catch-up that finds another
// checkpoint holding SQLite's checkpoint lock copies nothing, so it stays
// asked for and runs again before the next transaction, instead of
// leaving the WAL to grow until the next background pass asks again.
func TestCheckpointer_CatchUpRetriesWhenBusy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.enqueue(t, newJob("g1", nil))

	// A reader holds a snapshot, then the WAL grows past it: a FULL
	// checkpoint on another connection waits for that reader while it
	// holds the checkpoint lock.
	reader, err := sql.Open("sqlite3", readerDSN(b.db.path))
	require.NoError(t, err)
	defer func() { require.NoError(t, reader.Close()) }()
	rtx, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	require.NoError(t, err)
	var n int
	require.NoError(t, rtx.QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&n))
	b.enqueue(t, newJob("g1", nil))
	full, err := sql.Open("sqlite3", writerDSN(b.db.path, "FULL"))
	require.NoError(t, err)
	defer func() { require.NoError(t, full.Close()) }()
	fullDone := make(chan error, 1)
	go func() { _, err := full.Exec(`PRAGMA wal_checkpoint(FULL)`); fullDone <- err }()
	require.Eventually(t, func() bool { // the FULL checkpoint holds the lock
		var busy, frames, copied int
		require.NoError(t, b.db.ckptPool.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied))
		return busy == 1
	}, 10*time.Second, time.Millisecond)

	b.db.ckpt.restart.Store(true)
	b.db.ckpt.catchUp(b.db.write)
	require.True(t, b.db.ckpt.restart.Load(), "a catch-up that found the checkpoint lock taken is asked for again")

	require.NoError(t, rtx.Rollback())
	require.NoError(t, <-fullDone)
	b.db.ckpt.catchUp(b.db.write)
	require.False(t, b.db.ckpt.restart.Load(), "a catch-up that ran is not asked for again")
}
