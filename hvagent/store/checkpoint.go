package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// WAL upkeep. SQLite's own auto-checkpoint runs inside the COMMIT that
// brings the WAL to 1,000 frames: that commit copies every page of the
// WAL into the database file and fsyncs it while the one writer waits (a
// prune batch that triggered one held the writer ten times as long as the
// others). The writer connection has it off; the checkpointer does the
// copying on a connection of its own instead, next to the writes.
const (
	// checkpointGap is the least time between two background checkpoints:
	// a checkpoint copies the newest version of each page written since
	// the last one, so spacing them lets one copy stand for many commits.
	checkpointGap = 20 * time.Millisecond
	// walRestartFrames is the WAL size, in frames (pages), past which the
	// writer restarts the WAL from its beginning (see catchUp).
	walRestartFrames = 16384
	// walSizeLimit is the writer's journal_size_limit: the first commit
	// after a restart truncates a WAL file that a burst grew beyond it
	// (above walRestartFrames of 4 KiB pages, so a steady WAL is not cut
	// and regrown at each restart).
	walSizeLimit = 72 << 20
	// catchUpFrames: once the WAL is long, the checkpointer runs passes
	// back to back until one finds at most this many new frames to copy,
	// so the writer's catch-up after it copies about as few.
	catchUpFrames = 32
	// maxCatchUpPasses bounds those passes when the writes outpace them.
	maxCatchUpPasses = 8
)

// writerPragmas are run on each connection of the writer and checkpointer
// pools when it opens: no auto-checkpoint, a cap on the WAL file kept
// after a restart, and temporary tables in memory (the results of an
// UPDATE or DELETE … RETURNING are gathered in one: in a file it cost an
// UPDATE of one job 24 µs instead of 15).
var writerPragmas = []string{
	`PRAGMA wal_autocheckpoint = 0`,
	fmt.Sprintf(`PRAGMA journal_size_limit = %d`, walSizeLimit),
	`PRAGMA temp_store = MEMORY`,
}

// checkpointer copies the WAL into the database file in the background,
// on its own connection, with PASSIVE checkpoints: they never take the
// write lock, so the writer commits while they run. It is kicked after
// each commit and runs at most once per checkpointGap.
//
// A PASSIVE checkpoint cannot restart the WAL: SQLite starts the WAL over
// only when a write transaction begins with every frame already copied,
// which, under continuous writes, a checkpoint running next to them never
// sees. So once a checkpoint finds the WAL at walRestartFrames or more, it
// asks the writer for one catch-up (see catchUp), which bounds the WAL
// whatever the write rate.
//
// Durability is unchanged: the checkpointer's connection has the writer's
// synchronous setting, so each checkpoint fsyncs the WAL before copying
// and the database file before it marks the frames copied, as SQLite's
// own checkpoints do.
type checkpointer struct {
	pool    *sql.DB
	log     zerolog.Logger
	kicks   chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	restart atomic.Bool // the WAL reached restartFrames: the writer should catch up

	// restartFrames is walRestartFrames (tests lower it before the first
	// commit).
	restartFrames int

	frames, copied int // the WAL's frames and those copied, at the last pass (loop only)

	// onPass, when set, receives each checkpoint's WAL size and the frames
	// it had copied, in frames (tests).
	onPass atomic.Pointer[func(frames, copied int)]
	// writerCheckpoint runs catchUp's checkpoint: writerPassive (tests
	// replace it).
	writerCheckpoint func(writer *sql.DB) (busy bool, err error)
}

func newCheckpointer(pool *sql.DB, log zerolog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	k := &checkpointer{pool: pool, log: log, kicks: make(chan struct{}, 1), cancel: cancel,
		restartFrames: walRestartFrames, writerCheckpoint: writerPassive}
	k.wg.Add(1)
	go k.loop(ctx)
	return k
}

// kick tells the checkpointer that the WAL has grown. It never blocks.
func (k *checkpointer) kick() {
	select {
	case k.kicks <- struct{}{}:
	default:
	}
}

// close stops the checkpointer, interrupting a checkpoint in progress
// (the frames it had not marked copied stay in the WAL: nothing is lost).
func (k *checkpointer) close() {
	k.cancel()
	k.wg.Wait()
}

func (k *checkpointer) loop(ctx context.Context) {
	defer k.wg.Done()
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.kicks:
		}
		for i := 1; k.pass(ctx, i) && ctx.Err() == nil; i++ {
		}
		gap.Reset(checkpointGap)
		select {
		case <-ctx.Done():
			return
		case <-gap.C:
		}
	}
}

// pass runs the n-th PASSIVE checkpoint of a series and reports whether
// another should follow at once. Once the WAL is walRestartFrames long,
// passes follow one another until one copies at most catchUpFrames new
// frames (or maxCatchUpPasses ran), then the writer is asked to catch up:
// it has at most the frames committed since that short pass to copy. A
// failed checkpoint loses nothing (the frames stay in the WAL) and is
// retried on the next kick.
func (k *checkpointer) pass(ctx context.Context, n int) bool {
	var busy, frames, copied int
	err := k.pool.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn().Err(err).Msg("store: background WAL checkpoint failed")
		}
		return false
	}
	fresh := copied - k.copied
	if frames < k.frames { // the WAL restarted since the last pass
		fresh = copied
	}
	k.frames, k.copied = frames, copied
	if f := k.onPass.Load(); f != nil {
		(*f)(frames, copied)
	}
	if frames < k.restartFrames {
		return false
	}
	if fresh <= catchUpFrames || n >= maxCatchUpPasses {
		k.restart.Store(true)
		return false
	}
	return true
}

// catchUp runs on the writer connection, between two transactions, when
// the checkpointer asked for a restart: a PASSIVE checkpoint there copies
// the frames committed since the checkpointer's last pass (a few commits'
// worth, the rest is copied already), so the writer's next transaction
// begins with the whole WAL copied and SQLite starts the WAL over. Readers
// still in the WAL can defer the restart; the next pass asks again. A
// catch-up that finds a background pass running (SQLite's busy flag: one
// checkpoint at a time) copied nothing, and is tried again before the
// next transaction instead of waiting for the next request.
func (k *checkpointer) catchUp(writer *sql.DB) {
	if !k.restart.CompareAndSwap(true, false) {
		return
	}
	busy, err := k.writerCheckpoint(writer)
	if err != nil {
		k.log.Warn().Err(err).Msg("store: WAL catch-up checkpoint failed")
		return
	}
	if busy {
		k.restart.Store(true)
	}
}

// writerPassive runs a PASSIVE checkpoint on the writer connection and
// reports whether SQLite found another checkpoint running (its busy flag).
func writerPassive(writer *sql.DB) (bool, error) {
	var busy, frames, copied int
	err := writer.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return busy != 0, err
}
