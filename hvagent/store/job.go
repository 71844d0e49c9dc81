package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hvagent/hvagent/hvagent"
)

// jobColumns are the columns scanJob reads, in its order.
const jobColumns = `id, guest_id, guest_name, action, status, message, stage, stage_started_at,
	progress_done, progress_total, attempt, requested_by, idempotency_key,
	queued_at, started_at, updated_at, finished_at, result, error_code`

// jobPosition is a Queued job's 1-based place in its queue, 0 otherwise.
const jobPosition = `CASE WHEN j.status = 'Queued' THEN 1 + (SELECT COUNT(*) FROM jobs p
	WHERE p.queue = j.queue AND p.status = 'Queued' AND p.seq < j.seq) ELSE 0 END`

// jobSelect selects jobs with their position; append WHERE ... on alias j.
const jobSelect = `SELECT ` + jobColumns + `, ` + jobPosition + ` FROM jobs j `

// jobRow holds a scanned job and the columns scanJob converts, so that
// the scan's destinations are not allocated one by one. scanJob takes one
// from jobRows and returns it: a scan allocates only the job it returns
// (the job path scans two or three jobs a job, on the writer).
type jobRow struct {
	j                                       hvagent.Job
	status                                  string
	stageAt, queuedAt, startedAt, updated   int64
	progressDone, progressTotal, finishedAt sql.NullInt64
	result                                  sql.NullString
	dest                                    [19 + 3]any // jobColumns and up to three extra
}

// scanJob reads jobColumns and then the extra destinations (at most three).
func scanJob(row interface{ Scan(...any) error }, extra ...any) (*hvagent.Job, error) {
	r := jobRows.Get().(*jobRow)
	defer func() {
		*r = jobRow{} // keeps no strings alive
		jobRows.Put(r)
	}()
	j := &r.j
	dest := append(r.dest[:0], &j.ID, &j.GuestID, &j.GuestName, &j.Action, &r.status, &j.Message, &j.Stage,
		&r.stageAt, &r.progressDone, &r.progressTotal, &j.Attempt, &j.RequestedBy, &j.IdempotencyKey,
		&r.queuedAt, &r.startedAt, &r.updated, &r.finishedAt, &r.result, &j.Error)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	j.Status = hvagent.JobStatus(r.status)
	j.StageStartedAt = fromNanos(r.stageAt)
	if r.progressDone.Valid {
		j.Progress = &hvagent.Progress{Done: r.progressDone.Int64, Total: r.progressTotal.Int64}
	}
	j.QueuedAt = fromNanos(r.queuedAt)
	j.StartedAt = fromNanos(r.startedAt)
	j.UpdatedAt = fromNanos(r.updated)
	j.FinishedAt = fromNullNanos(r.finishedAt)
	j.Result = rawJSON(r.result)
	out := *j
	return &out, nil
}

// jobRows are the jobRows of scanJob, reused.
var jobRows = sync.Pool{New: func() any { return new(jobRow) }}

// loadJob reads one job with its position; ENOTFOUND if there is none.
func loadJob(ctx context.Context, q querier, id string) (*hvagent.Job, error) {
	var pos int
	j, err := scanJob(q.QueryRowContext(ctx, jobSelect+`WHERE j.id = ?`, id), &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load job %s: %w", id, err)
	}
	j.Position = pos
	return j, nil
}

// queryJobs runs a jobSelect query and collects its jobs. Never nil.
func queryJobs(ctx context.Context, q querier, query string, args ...any) ([]*hvagent.Job, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	jobs := []*hvagent.Job{}
	for rows.Next() {
		var pos int
		j, err := scanJob(rows, &pos)
		if err != nil {
			return nil, err
		}
		j.Position = pos
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// Job returns one job, with its Position when it is Queued; ENOTFOUND if
// there is none.
func (db *DB) Job(ctx context.Context, id string) (*hvagent.Job, error) {
	ctx, err := lookupCtx(ctx)
	if err != nil {
		return nil, wrap("get job", err)
	}
	j, err := loadJob(ctx, db.read, id)
	return j, wrap("get job", err)
}

// Jobs lists jobs newest first, filtered by f (see hvagent.JobFilter). A
// negative limit, an unknown status or an unknown Before job gives
// EINVALID. Never nil.
func (db *DB) Jobs(ctx context.Context, f hvagent.JobFilter) ([]*hvagent.Job, error) {
	limit, err := checkLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if f.Status != "" && !validStatus(f.Status) {
		return nil, hvagent.Errorf(hvagent.EINVALID, "unknown job status %q", f.Status)
	}
	where, args := jobFilterWhere(f)
	var jobs []*hvagent.Job
	err = inTx(ctx, db.read, func(tx querier) error {
		if f.Before != "" {
			var seq int64
			err := tx.QueryRowContext(ctx, `SELECT seq FROM jobs WHERE id = ?`, f.Before).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				return hvagent.Errorf(hvagent.EINVALID, "job %s named by before is not in the log (pruned by retention, or never there): start again from the newest page", f.Before)
			}
			if err != nil {
				return err
			}
			where = append(where, "j.seq < ?")
			args = append(args, seq)
		}
		query := jobSelect
		if len(where) > 0 {
			query += "WHERE " + strings.Join(where, " AND ")
		}
		jobs, err = queryJobs(ctx, tx, query+" ORDER BY j.seq DESC LIMIT ?", append(args, limit)...)
		return err
	})
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	return jobs, nil
}

// jobFilterWhere returns the equality terms of f and their arguments. One
// column leads: its index (column, seq) is read newest first, and the
// others are written +j.col so that SQLite filters the rows read rather
// than pick their index. The lead is the filter that usually matches
// fewest jobs: the guest (by ID, then by name), then a Queued or Running
// status, then the action, then a final status.
func jobFilterWhere(f hvagent.JobFilter) (where []string, args []any) {
	cols := []struct{ col, val string }{
		{"guest_id", f.GuestID}, {"guest_name", f.GuestName}, {"action", f.Action}, {"status", string(f.Status)},
	}
	lead := ""
	switch {
	case f.GuestID != "":
		lead = "guest_id"
	case f.GuestName != "":
		lead = "guest_name"
	case f.Status == hvagent.JobQueued || f.Status == hvagent.JobRunning:
		lead = "status"
	case f.Action != "":
		lead = "action"
	case f.Status != "":
		lead = "status"
	}
	for _, c := range cols {
		if c.val == "" {
			continue
		}
		term := "j." + c.col + " = ?"
		if c.col != lead {
			term = "+" + term
		}
		where, args = append(where, term), append(args, c.val)
	}
	return where, args
}

// validStatus reports whether s is one of the five job statuses.
func validStatus(s hvagent.JobStatus) bool {
	return s == hvagent.JobQueued || s == hvagent.JobRunning || s.Final()
}

// RunningJobs returns every Running job, oldest first.
func (db *DB) RunningJobs(ctx context.Context) ([]*hvagent.Job, error) {
	jobs, err := queryJobs(ctx, db.read, jobSelect+`WHERE j.status = 'Running' ORDER BY j.seq`)
	if err != nil {
		return nil, fmt.Errorf("list running jobs: %w", err)
	}
	return jobs, nil
}

// QueuedQueues returns the queues that hold Queued jobs, in the order of
// their oldest queued job. It reads the queue index of live jobs alone
// (queue, seq and status are in it): through the status index it read
// each Queued job's row for its queue, 25–35 ms for 10,000 queued jobs
// where this takes 3–10, and a resume waits for it before any queue
// starts.
func (db *DB) QueuedQueues(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT queue FROM jobs INDEXED BY jobs_queue_live
		WHERE status = 'Queued' GROUP BY queue ORDER BY MIN(seq)`)
	if err != nil {
		return nil, fmt.Errorf("list queued queues: %w", err)
	}
	defer rows.Close()
	queues := []string{}
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, fmt.Errorf("list queued queues: %w", err)
		}
		queues = append(queues, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queued queues: %w", err)
	}
	return queues, nil
}
