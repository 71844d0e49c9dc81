package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// guestDeleted is the message of the jobs canceled by their guest's
// deletion.
const guestDeleted = "guest deleted"

// Finish moves a Running or Queued job to e.Status (Complete, Error, which
// also records an attempt error, or Canceled) with e.Message, e.Result and
// the error code e.Code (by default canceled for Canceled, internal for
// Error). It first persists e.Guest when set; with e.DeleteGuest it then
// deletes the job's guest and cancels the other Queued jobs of its queue
// ("guest deleted"). It returns the finished job and the IDs of the jobs it
// canceled. EINVALID for a status that is not final or a Complete end with
// a code, ENOTFOUND for an unknown job or guest, ECONFLICT for a job
// already finished.
func (db *DB) Finish(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
	code, err := endCode(e)
	if err != nil {
		return nil, nil, err
	}
	at := db.at(e.At)
	var end ended
	err = db.commits.doPure(ctx, func(ctx context.Context, tx querier) (err error) {
		var ev eventBatch
		if end, err = finishTx(ctx, tx, e, code, at, &ev); err != nil {
			return err
		}
		return ev.insert(ctx, tx, at)
	})
	if err != nil {
		return nil, nil, wrap("finish job", err)
	}
	return end.job, end.canceled, nil
}

// FinishClaim records e as Finish does and then, in the same transaction,
// claims the oldest Queued job of queue as Claim does (with o, at e.At):
// the end of a job and the start of the next one of its queue share one
// commit. e's job must be of queue (EINVALID). The result's Next is nil
// when there is nothing to start. It fails as a whole, writing nothing,
// when either part fails: the caller may then record the end alone with
// Finish.
func (db *DB) FinishClaim(ctx context.Context, e hvagent.JobEnd, queue string, o hvagent.ClaimOptions) (*hvagent.Ended, error) {
	code, err := endCode(e)
	if err != nil {
		return nil, err
	}
	at := db.at(e.At)
	var (
		end  ended
		next *hvagent.Claim
	)
	err = db.commits.doPure(ctx, func(ctx context.Context, tx querier) (err error) {
		var ev eventBatch
		if end, err = finishTx(ctx, tx, e, code, at, &ev); err != nil {
			return err
		}
		if end.queue != queue {
			return hvagent.Errorf(hvagent.EINVALID, "job %s is of queue %s, not %s", e.ID, end.queue, queue)
		}
		if next, err = claimTx(ctx, tx, queue, at, o, &ev); err != nil {
			return err
		}
		return ev.insert(ctx, tx, at)
	})
	if err != nil {
		return nil, wrap("finish job and claim the next", err)
	}
	return &hvagent.Ended{Job: end.job, Canceled: end.canceled, Next: next}, nil
}

// ended is what finishTx did.
type ended struct {
	job      *hvagent.Job
	canceled []string
	queue    string // the job's queue
}

// finishTx is Finish's write: it ends job e.ID in tx with code, after
// persisting e.Guest, and deletes the guest when e says so. The events of
// the guest and of the job's end are added to ev, which the caller
// inserts; when the guest is deleted, ev is inserted first and the
// deletion's events follow it.
func finishTx(ctx context.Context, tx querier, e hvagent.JobEnd, code string, at time.Time, ev *eventBatch) (ended, error) {
	var out ended
	job, err := endJob(ctx, tx, e.ID, jobEnd{e.Status, code, e.Message, e.Result}, at, &out.queue)
	if err != nil {
		return ended{}, err
	}
	if e.Guest != nil {
		if err := persistGuest(ctx, tx, job.GuestID, e.Guest, at, ev); err != nil {
			return ended{}, err
		}
	}
	out.job = job
	if err := ev.add(hvagent.EventJobUpdated, job); err != nil {
		return ended{}, err
	}
	if !e.DeleteGuest {
		return out, nil
	}
	if err := ev.insert(ctx, tx, at); err != nil {
		return ended{}, err
	}
	if err := deleteGuest(ctx, tx, job.GuestID, at); err != nil {
		return ended{}, err
	}
	out.canceled, err = cancelQueue(ctx, tx, out.queue, at)
	return out, err
}

// endCode checks e's status and returns the error code it records: e.Code,
// or the default of its status.
func endCode(e hvagent.JobEnd) (string, error) {
	switch {
	case !e.Status.Final():
		return "", hvagent.Errorf(hvagent.EINVALID, "job status %q is not final", e.Status)
	case e.Code == "" && e.Status == hvagent.JobCanceled:
		return hvagent.ECANCELED, nil
	case e.Code == "" && e.Status == hvagent.JobError:
		return hvagent.EINTERNAL, nil
	case e.Code != "" && e.Status == hvagent.JobComplete:
		return "", hvagent.Errorf(hvagent.EINVALID, "a Complete job has no error code (got %q)", e.Code)
	}
	return e.Code, nil
}

// jobEnd is what endJob records.
type jobEnd struct {
	status  hvagent.JobStatus
	code    string
	message string
	result  json.RawMessage
}

// endJob sets a live (Queued or Running) job's final status, error code,
// message, result and FinishedAt (an Error also appends an attempt error)
// and returns the job as it ended; it stores the job's queue in queue. ENOTFOUND for an unknown job, ECONFLICT for a finished
// one.
func endJob(ctx context.Context, tx querier, id string, e jobEnd, at time.Time, queue *string) (*hvagent.Job, error) {
	query := `UPDATE jobs SET status = ?, error_code = ?, message = ?, result = ?, finished_at = ?, updated_at = ?`
	args := []any{string(e.status), e.code, e.message, nullJSON(e.result), nanos(at), nanos(at)}
	if e.status == hvagent.JobError {
		query += `, errors = ` + errorEntry
		args = append(args, entryTime(at), e.message)
	}
	// The status check is in the WHERE: a live job costs no lookup. The
	// job is read back by a SELECT: RETURNING would cost SQLite a
	// temporary table, twice the time of the SELECT.
	res, err := tx.ExecContext(ctx, query+` WHERE id = ? AND status IN ('Queued', 'Running')`, append(args, id)...)
	if err != nil {
		return nil, fmt.Errorf("end job %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		r, err := lookupJob(ctx, tx, id) // unknown, or finished already
		if err != nil {
			return nil, err
		}
		return nil, wrongStatus(r, "Queued or Running")
	}
	j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+`, queue FROM jobs WHERE id = ?`, id), queue)
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return j, nil // final: no position
}

// cancelQueue ends every Queued job of queue as Canceled ("guest deleted",
// code canceled),
// each with its event, and returns their IDs in queue order.
func cancelQueue(ctx context.Context, tx querier, queue string, at time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE jobs SET status = 'Canceled', error_code = ?, message = ?,
		finished_at = ?, updated_at = ? WHERE queue = ? AND status = 'Queued' RETURNING seq, id`,
		hvagent.ECANCELED, guestDeleted, nanos(at), nanos(at), queue)
	if err != nil {
		return nil, fmt.Errorf("cancel queue %s: %w", queue, err)
	}
	type ref struct {
		seq int64
		id  string
	}
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.seq, &r.id); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("cancel queue %s: %w", queue, err)
		}
		refs = append(refs, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("cancel queue %s: %w", queue, err)
	}
	sort.Slice(refs, func(a, b int) bool { return refs[a].seq < refs[b].seq })
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		if _, err := emitJob(ctx, tx, r.id, at); err != nil {
			return nil, err
		}
		ids = append(ids, r.id)
	}
	return ids, nil
}

// closeRows closes rows and returns the iteration error, if any, or
// the close error.
func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return err
	}
	return rows.Close()
}
