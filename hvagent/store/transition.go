package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// jobRef is what a transition checks before changing a job.
type jobRef struct {
	id, guestID, queue string
	status             hvagent.JobStatus
}

// lookupJob reads the state of job id; ENOTFOUND if there is none.
func lookupJob(ctx context.Context, tx querier, id string) (jobRef, error) {
	r := jobRef{id: id}
	err := tx.QueryRowContext(ctx, `SELECT guest_id, queue, status FROM jobs WHERE id = ?`, id).
		Scan(&r.guestID, &r.queue, &r.status)
	if errors.Is(err, sql.ErrNoRows) {
		return r, jobNotFound(id)
	}
	if err != nil {
		return r, fmt.Errorf("read job %s: %w", id, err)
	}
	return r, nil
}

// wrongStatus is the ECONFLICT error for a job whose status forbids a
// change.
func wrongStatus(r jobRef, want string) error {
	return hvagent.Errorf(hvagent.ECONFLICT, "job %s is %s, not %s", r.id, r.status, want)
}

// errorEntry is the SQL expression that appends {at, attempt, stage, error}
// to the errors column; its parameters are the time and the message.
const errorEntry = `json_insert(errors, '$[#]',
	json_object('at', ?, 'attempt', attempt, 'stage', stage, 'error', ?))`

// entryTime formats at for an errors entry as JSON does.
func entryTime(at time.Time) string {
	return at.UTC().Format(time.RFC3339Nano)
}

// Claim moves the oldest Queued job of queue to Running (Attempt+1,
// StartedAt set the first time; Stage, Message and Progress cleared) and
// returns it with its request. It returns nil and no error when the queue
// has no Queued job, or when the oldest one's action is in paused: a
// paused job holds its queue. A queue that has a Running job gives
// ECONFLICT: its next job starts only once that one has ended (the schema
// enforces it too, with a unique index on the queue of Running jobs).
func (db *DB) Claim(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
	if ok, err := db.claimable(ctx, queue, o.Paused); err != nil || !ok {
		return nil, err
	}
	at = db.at(at)
	var c *hvagent.Claim
	err := db.commits.doPure(ctx, func(ctx context.Context, tx querier) (err error) {
		var ev eventBatch
		if c, err = claimTx(ctx, tx, queue, at, o, &ev); err != nil {
			return err
		}
		return ev.insert(ctx, tx, at)
	})
	if err != nil {
		return nil, wrap("claim job", err)
	}
	return c, nil
}

// claimTx is Claim's write: it claims the head of queue in tx and adds its
// event to ev, which the caller inserts; nil when there is nothing to
// start.
func claimTx(ctx context.Context, tx querier, queue string, at time.Time, o hvagent.ClaimOptions, ev *eventBatch) (*hvagent.Claim, error) {
	h, err := queueHead(ctx, tx, queue)
	if err != nil || h == nil || slices.Contains(o.Paused, h.job.Action) {
		return nil, err
	}
	label, first := o.FirstStage[h.job.Action]
	stageAt := int64(0)
	if first {
		stageAt = nanos(at)
	}
	// By seq, not by a subquery on jobs: an UPDATE whose WHERE reads its
	// own table collects its rows in a temporary table first. Neither
	// RETURNING (a temporary table too) nor a SELECT reads the job back:
	// h.claimed applies this statement's changes to the row read by
	// queueHead in the same transaction.
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = 'Running', attempt = attempt + 1,
		started_at = CASE WHEN started_at = 0 THEN ?1 ELSE started_at END, updated_at = ?1,
		stage = ?2, stage_started_at = ?3, message = '', progress_done = NULL, progress_total = NULL
		WHERE seq = ?4`, nanos(at), label, stageAt, h.seq)
	if isDuplicate(err) { // the index on Running jobs; queueHead saw none
		return nil, &hvagent.Error{Code: hvagent.ECONFLICT, Message: "queue " + queue + " has a running job", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("update job: %w", err)
	}
	j := h.claimed(nanos(at), label, stageAt)
	if err := ev.add(hvagent.EventJobUpdated, j); err != nil {
		return nil, err
	}
	return &hvagent.Claim{Job: j, Request: rawJSON(h.request)}, nil
}

// head is the oldest Queued job of a queue, as queueHead read it.
type head struct {
	seq     int64
	job     *hvagent.Job
	request sql.NullString
}

// claimed returns the head's job as claimTx's UPDATE leaves it: Running,
// one more attempt, started at `at` unless it started before, at stage
// label since stageAt, no message, no progress.
func (h *head) claimed(at int64, label string, stageAt int64) *hvagent.Job {
	j := h.job
	j.Status = hvagent.JobRunning
	j.Attempt++
	if j.StartedAt.IsZero() {
		j.StartedAt = fromNanos(at)
	}
	j.UpdatedAt = fromNanos(at)
	j.Stage, j.StageStartedAt = label, fromNanos(stageAt)
	j.Message, j.Progress = "", nil
	return j
}

// queueHead returns the oldest Queued job of queue, nil when it has none;
// ECONFLICT, naming the job, when queue has a Running job.
func queueHead(ctx context.Context, tx querier, queue string) (*head, error) {
	var (
		h       head
		running sql.NullString
	)
	// +?1, not ?1: with the bare parameter SQLite (3.54) recompiles this
	// statement at every execution with a new queue (its planner ran each
	// time: 12 µs a call instead of 3); the plan is the same.
	j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+`, seq, request,
		(SELECT id FROM jobs WHERE queue = +?1 AND status = 'Running' LIMIT 1)
		FROM jobs INDEXED BY jobs_queue_live WHERE queue = +?1 AND status = 'Queued' ORDER BY seq LIMIT 1`, queue), &h.seq, &h.request, &running)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read queue %s: %w", queue, err)
	case running.Valid:
		return nil, hvagent.Errorf(hvagent.ECONFLICT,
			"queue %s has a running job (%s): it must end before the next one starts", queue, running.String)
	}
	h.job = j
	return &h, nil
}

// Advance records a Running job's progress: Stage (with StageStartedAt =
// u.At), Progress and its guest, each when set. ENOTFOUND for an unknown
// job or guest, ECONFLICT when the job is not Running.
func (db *DB) Advance(ctx context.Context, u hvagent.JobUpdate) (*hvagent.Job, error) {
	at := db.at(u.At)
	var job *hvagent.Job
	err := db.commits.doPure(ctx, func(ctx context.Context, tx querier) (err error) {
		job, err = advanceTx(ctx, tx, u, at)
		return err
	})
	if err != nil {
		return nil, wrap("advance job", err)
	}
	return job, nil
}

// advanceTx is Advance's write. The status check is in the UPDATE's
// WHERE: the job is looked up only when the UPDATE changed nothing, for
// the error. The guest's event and the job's are one INSERT.
func advanceTx(ctx context.Context, tx querier, u hvagent.JobUpdate, at time.Time) (*hvagent.Job, error) {
	sets, args := []string{"updated_at = ?"}, []any{nanos(at)}
	if u.Stage != nil {
		sets = append(sets, "stage = ?", "stage_started_at = ?")
		args = append(args, *u.Stage, nanos(at))
	}
	if u.Progress != nil {
		sets = append(sets, "progress_done = ?", "progress_total = ?")
		args = append(args, u.Progress.Done, u.Progress.Total)
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET `+strings.Join(sets, ", ")+` WHERE id = ? AND status = 'Running'`,
		append(args, u.ID)...)
	if err != nil {
		return nil, fmt.Errorf("update job: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		r, err := lookupJob(ctx, tx, u.ID) // unknown, or not Running
		if err != nil {
			return nil, err
		}
		return nil, wrongStatus(r, string(hvagent.JobRunning))
	}
	// A Running job has no queue position: the plain columns are the job.
	j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, u.ID))
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", u.ID, err)
	}
	var ev eventBatch
	if u.Guest != nil {
		if err := persistGuest(ctx, tx, j.GuestID, u.Guest, at, &ev); err != nil {
			return nil, err
		}
	}
	if err := ev.add(hvagent.EventJobUpdated, j); err != nil {
		return nil, err
	}
	return j, ev.insert(ctx, tx, at)
}

// emitJob reads job id after a change and records its job.updated event.
func emitJob(ctx context.Context, tx querier, id string, at time.Time) (*hvagent.Job, error) {
	j, err := loadJob(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	return j, insertJobEvent(ctx, tx, at, j)
}

// Requeue moves a Running job back to Queued at the head of its queue (it
// keeps its place), with message as its Message and as an attempt error;
// Stage and Progress are cleared. ENOTFOUND for an unknown job, ECONFLICT
// when it is not Running.
func (db *DB) Requeue(ctx context.Context, id, message string, at time.Time) (*hvagent.Job, error) {
	at = db.at(at)
	var job *hvagent.Job
	err := db.commits.doPure(ctx, func(ctx context.Context, tx querier) error {
		r, err := lookupJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.status != hvagent.JobRunning {
			return wrongStatus(r, string(hvagent.JobRunning))
		}
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = 'Queued', message = ?, updated_at = ?,
			errors = `+errorEntry+`,
			stage = '', stage_started_at = 0, progress_done = NULL, progress_total = NULL
			WHERE id = ?`, message, nanos(at), entryTime(at), message, id)
		if err != nil {
			return fmt.Errorf("update job: %w", err)
		}
		job, err = emitJob(ctx, tx, id, at)
		return err
	})
	if err != nil {
		return nil, wrap("requeue job", err)
	}
	return job, nil
}

// CancelQueued ends a Queued job as Canceled (code canceled) with message.
// A Running job is returned unchanged; ENOTFOUND for an unknown job,
// ECONFLICT for a finished one.
func (db *DB) CancelQueued(ctx context.Context, id, message string, at time.Time) (*hvagent.Job, error) {
	at = db.at(at)
	var job *hvagent.Job
	err := db.commits.doPure(ctx, func(ctx context.Context, tx querier) error {
		r, err := lookupJob(ctx, tx, id)
		if err != nil {
			return err
		}
		switch r.status {
		case hvagent.JobRunning:
			job, err = loadJob(ctx, tx, id)
			return err
		case hvagent.JobQueued:
			end := jobEnd{status: hvagent.JobCanceled, code: hvagent.ECANCELED, message: message}
			var queue string
			if job, err = endJob(ctx, tx, id, end, at, &queue); err != nil {
				return err
			}
			return insertJobEvent(ctx, tx, at, job)
		}
		return wrongStatus(r, "Queued or Running")
	})
	if err != nil {
		return nil, wrap("cancel job", err)
	}
	return job, nil
}

// claimable tells from the read pool, without taking the write lock,
// whether queue's oldest Queued job may be claimed: there is one and its
// action is not in paused (an idle worker, or one whose queue is held by a
// paused job, takes no write). Only this store's writer adds jobs and it
// commits before anyone claims them, so "no" is never stale in a way that
// loses a job: the next enqueue, resume or cancel wakes the queue again.
func (db *DB) claimable(ctx context.Context, queue string, paused []string) (bool, error) {
	ctx, err := lookupCtx(ctx) // a point read: the claim's timeout need not watch it
	if err != nil {
		return false, err
	}
	var action string
	// +?1: see queueHead.
	err = db.read.QueryRowContext(ctx, `SELECT action FROM jobs INDEXED BY jobs_queue_live
		WHERE queue = +?1 AND status = 'Queued' ORDER BY seq LIMIT 1`, queue).Scan(&action)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim job: %w", err)
	}
	return !slices.Contains(paused, action), nil
}
