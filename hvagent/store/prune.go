package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// Prune batches: each batch is its own commit, so a write waits for at
// most one batch, however much a prune has to delete. A job's row is
// indexed seven times, mostly on random keys (its UUID, its guest): a
// batch of 32 jobs writes about 150 pages, a millisecond or two of the
// writer. Events and keys have few indexes and go in larger batches.
const (
	// pruneJobBatch is the most jobs one prune transaction deletes.
	pruneJobBatch = 16
	// pruneBatch is the most events or keys one prune transaction deletes.
	pruneBatch = 256
)

// Prune drops the idempotency keys that expired at or before now, then the
// finished jobs older than the newest maxJobs ones (a Queued or Running job,
// or one with a live key, is never dropped), then the events older than the
// newest maxEvents. A negative count gives EINVALID.
//
// Newest is by enqueue order (seq). The bounds come from the newest job and
// event (MAX of their keys) and the Queued and Running jobs, never from a
// walk of the log: job seqs and event IDs are never reused and only Prune
// deletes rows, from the oldest up, so the rows above a bound are
// contiguous and counting them is a subtraction. Rows go in batches of at
// most pruneJobBatch jobs or pruneBatch events or keys, each in its own
// commit and followed by a pause as long as it took, so that other writes
// run in between; a large backlog (a retention lowered since the last
// prune) is worked off the same way. ctx is checked between batches.
func (db *DB) Prune(ctx context.Context, maxJobs, maxEvents int, now time.Time) error {
	if maxJobs < 0 || maxEvents < 0 {
		return hvagent.Errorf(hvagent.EINVALID, "prune limits %d and %d must not be negative",
			maxJobs, maxEvents)
	}
	now = db.at(now)
	if err := db.pruneKeys(ctx, now); err != nil {
		return wrap("prune", err)
	}
	if err := db.pruneJobs(ctx, maxJobs); err != nil {
		return wrap("prune", err)
	}
	return wrap("prune", db.pruneEvents(ctx, maxEvents))
}

// pruneKeys deletes the idempotency keys that expired at or before now.
func (db *DB) pruneKeys(ctx context.Context, now time.Time) error {
	return db.deleteBatches(ctx, pruneBatch, func(ctx context.Context, tx querier) (int64, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE rowid IN (
			SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`, nanos(now), pruneBatch)
		if err != nil {
			return 0, fmt.Errorf("delete expired keys: %w", err)
		}
		return res.RowsAffected()
	})
}

// pruneJobs deletes the finished jobs without a live key whose seq is at
// most jobBound, oldest first.
func (db *DB) pruneJobs(ctx context.Context, maxJobs int) error {
	bound, err := db.jobBound(ctx, maxJobs)
	if err != nil || bound <= 0 {
		return err
	}
	var after int64 // the last seq deleted: kept jobs below it are not read again
	return db.deleteBatches(ctx, pruneJobBatch, func(ctx context.Context, tx querier) (int64, error) {
		rows, err := tx.QueryContext(ctx, `DELETE FROM jobs WHERE seq IN (
			SELECT seq FROM jobs AS j WHERE seq > ? AND seq <= ? AND finished_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM idempotency_keys AS k WHERE k.job_id = j.id)
			ORDER BY seq LIMIT ?) RETURNING seq`, after, bound, pruneJobBatch)
		if err != nil {
			return 0, fmt.Errorf("delete old jobs: %w", err)
		}
		defer rows.Close()
		var n int64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return 0, fmt.Errorf("delete old jobs: %w", err)
			}
			after = max(after, seq)
			n++
		}
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("delete old jobs: %w", err)
		}
		return n, nil
	})
}

// jobBound returns the seq at and below which a finished job is not among
// the newest maxJobs finished jobs, 0 when every one is. It reads a
// snapshot on the read pool: jobs enqueued or finished since only add to
// what is kept.
func (db *DB) jobBound(ctx context.Context, maxJobs int) (int64, error) {
	var (
		newest sql.NullInt64
		active []int64
	)
	err := inTx(ctx, db.read, func(tx querier) error {
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM jobs`).Scan(&newest); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq FROM jobs WHERE status IN ('Queued', 'Running')`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			active = append(active, seq)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("read job bound: %w", err)
	}
	return finishedBound(newest.Int64, maxJobs, active), nil
}

// finishedBound returns the bound b such that the seqs in (b, newest],
// all present, hold keep finished jobs: keep plus the active (unfinished)
// seqs among them. A bound of 0 or less keeps everything.
func finishedBound(newest int64, keep int, active []int64) int64 {
	slices.Sort(active)
	b := newest - int64(keep)
	for i := len(active) - 1; i >= 0 && active[i] > b; i-- {
		b-- // an unfinished job in the window takes a slot: widen it by one
	}
	return b
}

// pruneEvents deletes the events older than the newest maxEvents.
func (db *DB) pruneEvents(ctx context.Context, maxEvents int) error {
	var newest sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MAX(id) FROM events`).Scan(&newest); err != nil {
		return fmt.Errorf("read event bound: %w", err)
	}
	bound := newest.Int64 - int64(maxEvents)
	if bound <= 0 {
		return nil
	}
	return db.deleteBatches(ctx, pruneBatch, func(ctx context.Context, tx querier) (int64, error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (
			SELECT id FROM events WHERE id <= ? ORDER BY id LIMIT ?)`, bound, pruneBatch)
		if err != nil {
			return 0, fmt.Errorf("delete old events: %w", err)
		}
		return res.RowsAffected()
	})
}

// deleteBatches commits batch, each time in its own write, until it
// deletes fewer than size rows; it stops early when ctx ends, between two
// batches: a batch runs on the write's context, without ctx's
// cancellation, since an interrupted DELETE would roll back the whole
// transaction, with the other writes that share its commit. After each
// batch it pauses as long as the batch took: a prune is background work,
// and leaving the writer idle half the time lets other writes in without
// a queue and lets the WAL checkpointer keep up (see checkpointer).
func (db *DB) deleteBatches(ctx context.Context, size int, batch func(context.Context, querier) (int64, error)) error {
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		var n int64
		err := db.commits.do(ctx, func(wctx context.Context, tx querier) error {
			var err error
			n, err = batch(wctx, tx)
			return err
		})
		if err != nil || n < int64(size) {
			return err
		}
		pause.Reset(time.Since(start))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pause.C:
		}
	}
}
