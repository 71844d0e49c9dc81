package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
	var (
		job      *hvagent.Job
		canceled []string
	)
	err = db.commits.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		r, err := lookupJob(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		if r.status.Final() {
			return wrongStatus(r, "Queued or Running")
		}
		if e.Guest != nil {
			if err := persistGuest(ctx, tx, r.guestID, e.Guest, at); err != nil {
				return err
			}
		}
		if job, err = endJob(ctx, tx, e.ID, jobEnd{e.Status, code, e.Message, e.Result}, at); err != nil {
			return err
		}
		if err := insertJobEvent(ctx, tx, at, job); err != nil {
			return err
		}
		if !e.DeleteGuest {
			return nil
		}
		if err := deleteGuest(ctx, tx, r.guestID, at); err != nil {
			return err
		}
		canceled, err = cancelQueue(ctx, tx, r.queue, at)
		return err
	})
	if err != nil {
		return nil, nil, wrap("finish job", err)
	}
	return job, canceled, nil
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

// endJob sets a live job's final status, error code, message, result and
// FinishedAt (an Error also appends an attempt error) and returns the job
// as it ended.
func endJob(ctx context.Context, tx *sql.Tx, id string, e jobEnd, at time.Time) (*hvagent.Job, error) {
	query := `UPDATE jobs SET status = ?, error_code = ?, message = ?, result = ?, finished_at = ?, updated_at = ?`
	args := []any{string(e.status), e.code, e.message, nullJSON(e.result), nanos(at), nanos(at)}
	if e.status == hvagent.JobError {
		query += `, errors = ` + errorEntry
		args = append(args, entryTime(at), e.message)
	}
	j, err := scanJob(tx.QueryRowContext(ctx, query+` WHERE id = ? RETURNING `+jobColumns, append(args, id)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("end job %s: %w", id, err)
	}
	return j, nil // final: no position
}

// cancelQueue ends every Queued job of queue as Canceled ("guest deleted",
// code canceled),
// each with its event, and returns their IDs in queue order.
func cancelQueue(ctx context.Context, tx *sql.Tx, queue string, at time.Time) ([]string, error) {
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
