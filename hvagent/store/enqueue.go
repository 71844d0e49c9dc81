package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// Enqueue commits a new Queued job and its job.updated event, and returns
// it with its Position. It inserts n.NewGuest first when set. Errors:
// EINVALID for a missing ID, GuestID, Action or Queue; ECONFLICT for an
// existing guest or job ID, or a live idempotency key recorded with another
// hash; ENOTFOUND when n.RequireGuest and the guest is not stored; EBUSY
// when the queue holds n.MaxQueued Queued jobs. A live key recorded with the
// same hash returns its job unchanged.
func (db *DB) Enqueue(ctx context.Context, n hvagent.NewJob) (*hvagent.Job, error) {
	job, _, err := db.enqueue(ctx, n, nil)
	return job, err
}

// EnqueueClaim is Enqueue that also claims the job in the same commit, as
// Claim would with o at the job's QueuedAt, when its queue holds no other
// Queued or Running job. It returns the job as queued and the claim, nil
// when the job was not claimed: the queue was busy, the action is paused,
// or a live idempotency key gave an earlier job.
func (db *DB) EnqueueClaim(ctx context.Context, n hvagent.NewJob, o hvagent.ClaimOptions) (*hvagent.Job, *hvagent.Claim, error) {
	return db.enqueue(ctx, n, &o)
}

// enqueue is Enqueue, and EnqueueClaim when o is set.
func (db *DB) enqueue(ctx context.Context, n hvagent.NewJob, o *hvagent.ClaimOptions) (*hvagent.Job, *hvagent.Claim, error) {
	if err := validateNewJob(n); err != nil {
		return nil, nil, err
	}
	at := db.at(n.Job.QueuedAt)
	var (
		job   *hvagent.Job
		claim *hvagent.Claim
	)
	do := db.commits.doPure
	if n.NewGuest != nil && len(n.NewGuest.Metadata) > largePatch { // see PatchGuestMetadata
		do = db.commits.doLarge
	}
	err := do(ctx, func(ctx context.Context, tx querier) error {
		var err error
		claim = nil
		if job, err = idempotentJob(ctx, tx, n, at); err != nil || job != nil {
			return err
		}
		queued, err := checkEnqueue(ctx, tx, n, at)
		if err != nil {
			return err
		}
		if job, err = insertJob(ctx, tx, n, at, queued); err != nil {
			return err
		}
		if err := recordKey(ctx, tx, n); err != nil {
			return err
		}
		var ev eventBatch
		if err := ev.add(hvagent.EventJobUpdated, job); err != nil {
			return err
		}
		if o != nil && queued == 0 {
			if claim, err = claimIdle(ctx, tx, n.Queue, at, *o, &ev); err != nil {
				return err
			}
		}
		return ev.insert(ctx, tx, at)
	})
	if err != nil {
		return nil, nil, wrap("enqueue job", err)
	}
	return job, claim, nil
}

// claimIdle claims the head of queue, the job just queued, as claimTx
// does; nil when the queue has a Running job or the action is paused.
func claimIdle(ctx context.Context, tx querier, queue string, at time.Time, o hvagent.ClaimOptions, ev *eventBatch) (*hvagent.Claim, error) {
	c, err := claimTx(ctx, tx, queue, at, o, ev)
	if hvagent.ErrorCode(err) == hvagent.ECONFLICT { // a Running job holds the queue: nothing was written
		return nil, nil
	}
	return c, err
}

// validateNewJob checks the fields Enqueue requires.
func validateNewJob(n hvagent.NewJob) error {
	if n.Job == nil {
		return hvagent.Errorf(hvagent.EINVALID, "job is missing")
	}
	for _, f := range []struct{ name, val string }{
		{"id", n.Job.ID}, {"guest id", n.Job.GuestID}, {"action", n.Job.Action}, {"queue", n.Queue},
	} {
		if f.val == "" {
			return hvagent.Errorf(hvagent.EINVALID, "job %s is empty", f.name)
		}
	}
	if n.MaxQueued < 0 {
		return hvagent.Errorf(hvagent.EINVALID, "max queued %d is negative", n.MaxQueued)
	}
	return nil
}

// idempotentJob returns the job recorded for n's live idempotency key, nil
// when n has no key or it is not live; ECONFLICT when the hash differs.
func idempotentJob(ctx context.Context, tx querier, n hvagent.NewJob, at time.Time) (*hvagent.Job, error) {
	if n.Job.IdempotencyKey == "" {
		return nil, nil
	}
	var hash, jobID string
	err := tx.QueryRowContext(ctx, `SELECT hash, job_id FROM idempotency_keys
		WHERE scope = ? AND key = ? AND expires_at > ?`,
		n.IdemScope, n.Job.IdempotencyKey, nanos(at)).Scan(&hash, &jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if hash != n.IdemHash {
		return nil, hvagent.Errorf(hvagent.ECONFLICT, "idempotency key reused with a different request")
	}
	return loadJob(ctx, tx, jobID)
}

// checkEnqueue inserts n.NewGuest, enforces RequireGuest and MaxQueued, and
// returns how many Queued jobs n's queue holds.
func checkEnqueue(ctx context.Context, tx querier, n hvagent.NewJob, at time.Time) (int, error) {
	if n.NewGuest != nil {
		if err := insertGuest(ctx, tx, n.NewGuest, at); err != nil {
			return 0, err
		}
	}
	var guest bool
	var queued int
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM guests WHERE id = ?),
		(SELECT COUNT(*) FROM jobs WHERE queue = ? AND status = 'Queued')`,
		n.Job.GuestID, n.Queue).Scan(&guest, &queued)
	if err != nil {
		return 0, fmt.Errorf("read guest %s and queue %s: %w", n.Job.GuestID, n.Queue, err)
	}
	if n.RequireGuest && !guest {
		return 0, guestNotFound(n.Job.GuestID)
	}
	if n.MaxQueued > 0 && queued >= n.MaxQueued {
		return 0, hvagent.Errorf(hvagent.EBUSY, "queue %s is full (%d queued jobs)", n.Queue, queued)
	}
	return queued, nil
}

// insertJob inserts n's job as Queued at time at, with the current name of
// its guest, behind the queued jobs of its queue, and returns it as
// stored.
func insertJob(ctx context.Context, tx querier, n hvagent.NewJob, at time.Time, queued int) (*hvagent.Job, error) {
	j := n.Job
	// The job is read back by a SELECT: RETURNING would cost SQLite a
	// temporary table, twice the time of the SELECT.
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, queue, guest_id, guest_name, action, status,
		requested_by, idempotency_key, queued_at, updated_at, request)
		VALUES (?, ?, ?, COALESCE((SELECT name FROM guests WHERE id = ?), ''), ?, 'Queued', ?, ?, ?, ?, ?)`,
		j.ID, n.Queue, j.GuestID, j.GuestID, j.Action, j.RequestedBy, j.IdempotencyKey,
		nanos(at), nanos(at), nullJSON(n.Request))
	if isDuplicate(err) {
		return nil, hvagent.Errorf(hvagent.ECONFLICT, "job %s already exists", j.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	job, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE seq = ?`, seq))
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", j.ID, err)
	}
	job.Position = queued + 1
	return job, nil
}

// recordKey stores n's idempotency key for its job, replacing an expired
// record of the same key.
func recordKey(ctx context.Context, tx querier, n hvagent.NewJob) error {
	if n.Job.IdempotencyKey == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, hash, job_id, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET
			hash = excluded.hash, job_id = excluded.job_id, expires_at = excluded.expires_at`,
		n.IdemScope, n.Job.IdempotencyKey, n.IdemHash, n.Job.ID, nanos(n.IdemExpires))
	if err != nil {
		return fmt.Errorf("record idempotency key: %w", err)
	}
	return nil
}
