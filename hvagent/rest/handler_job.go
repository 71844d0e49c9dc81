package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/jsonform"
	"github.com/hvagent/hvagent/internal/wirejson"
)

// deadlineSlack is added to a long request's own duration for its write
// deadline.
const deadlineSlack = 30 * time.Second

// asyncCall describes one async route for doAsync.
type asyncCall struct {
	action string // the base action
	guest  string
	req    hvagent.Request
	// body is the 202 body; nil means the Job.
	body func(*hvagent.Result) any
}

// doAsync runs an async action with the route's query options (?wait=,
// ?dry_run=) and headers (Idempotency-Key), and writes the reply: 202 with
// X-Guest-Job-ID and Location (and X-Guest-Job when the body is not the
// job), 200 with the final Job when ?wait= saw it
// end, or 200 with the resolved pipeline for a dry run.
func (x *exchange) doAsync(c asyncCall) error {
	wait, err := x.queryWait()
	if err != nil {
		return err
	}
	dry, err := x.queryBool("dry_run")
	if err != nil {
		return err
	}
	req := c.req
	req.DryRun = dry
	req.RequestedBy = x.who.name
	if keys := x.r.Header.Values("Idempotency-Key"); len(keys) > 1 {
		return hvagent.Errorf(hvagent.EINVALID, "%d Idempotency-Key headers: send one", len(keys))
	}
	if key := x.r.Header.Get("Idempotency-Key"); key != "" {
		req.IdempotencyKey = key
		req.IdemScope = x.who.name + " " + x.r.Method + " " + x.r.URL.Path
	}
	res, err := x.s.svc.Do(x.ctx(), c.action, c.guest, req)
	if err != nil {
		return err
	}
	if dry {
		return x.reply(http.StatusOK, dryRunReply{Action: res.Action, Stages: nonNilList(res.Pipeline)})
	}
	if res.Job == nil {
		return hvagent.Errorf(hvagent.EINTERNAL, "%s: service returned no job", c.action)
	}
	x.w.Header().Set("X-Guest-Job-ID", res.Job.ID)
	x.w.Header().Set("Location", "/jobs/"+res.Job.ID)
	if wait > 0 {
		if job := x.waitFinal(res.Job.ID, wait); job != nil {
			return x.reply(http.StatusOK, job)
		}
	}
	if c.body != nil {
		setQueuedJob(x.w.Header(), res.Job)
		return x.reply(http.StatusAccepted, c.body(res))
	}
	return x.reply(http.StatusAccepted, res.Job)
}

// setQueuedJob sets the queuedJobHeader of a reply whose body is not the
// job, unless job's JSON is too long for it.
func setQueuedJob(h http.Header, job *hvagent.Job) {
	bp := jsonform.GetBuffer()
	defer jsonform.PutBuffer(bp)
	var ok bool
	*bp, ok = wirejson.AppendJob(*bp, job)
	b := *bp
	if !ok {
		var err error
		if b, err = json.Marshal(job); err != nil {
			return // the client reads the job back
		}
	}
	if len(b) <= maxQueuedJobHeader {
		h[queuedJobHeader] = []string{string(b)}
	}
}

// waitFinal waits up to d for a job to end and returns it if it did.
func (x *exchange) waitFinal(id string, d time.Duration) *hvagent.Job {
	x.extendDeadline(d)
	ctx, cancel := context.WithTimeout(x.ctx(), d)
	defer cancel()
	job, err := x.s.svc.WaitJob(ctx, id)
	if err != nil || job == nil || !job.Status.Final() {
		return nil
	}
	return job
}

// extendDeadline gives this response d (plus slack) to be written; errors
// (a writer that has no deadlines) are ignored.
func (x *exchange) extendDeadline(d time.Duration) {
	_ = http.NewResponseController(x.w).SetWriteDeadline(time.Now().Add(d + deadlineSlack))
}

// listJobs serves GET /jobs?guest=&action=&status=&limit=&before=; guest
// is a guest ID or name.
func (s *server) listJobs(x *exchange) error {
	f, err := x.jobFilter()
	if err != nil {
		return err
	}
	q := x.query()
	if g := q.Get("guest"); g != "" && g != hvagent.AgentGuestID {
		if f.GuestID, err = parseGuestRef(g); err != nil {
			return err
		}
	} else {
		f.GuestID = g
	}
	jobs, err := s.svc.Jobs(x.ctx(), f)
	if err != nil {
		return err
	}
	return replyList(x, http.StatusOK, jobs)
}

// jobFilter parses the filters GET /jobs and GET /guests/{id}/jobs share.
func (x *exchange) jobFilter() (hvagent.JobFilter, error) {
	var f hvagent.JobFilter
	var err error
	if f.Limit, err = x.queryLimit(); err != nil {
		return f, err
	}
	if f.Before, err = x.queryID("before"); err != nil {
		return f, err
	}
	q := x.query()
	if a := q.Get("action"); a != "" {
		if _, ok := hvagent.KindOf(a); !ok {
			return f, hvagent.Errorf(hvagent.EINVALID, "action %q is not a known action", a)
		}
		f.Action = a
	}
	if st := hvagent.JobStatus(q.Get("status")); st != "" {
		switch st {
		case hvagent.JobQueued, hvagent.JobRunning, hvagent.JobComplete, hvagent.JobError, hvagent.JobCanceled:
			f.Status = st
		default:
			return f, hvagent.Errorf(hvagent.EINVALID, "status %q is not Queued, Running, Complete, Error or Canceled", st)
		}
	}
	return f, nil
}

// getJob serves GET /jobs/{id}[?wait=]: with wait, a long poll that
// answers 200 with the job however it stands when the wait ends.
func (s *server) getJob(x *exchange) error {
	id, err := x.pathID("id")
	if err != nil {
		return err
	}
	wait, err := x.queryWait()
	if err != nil {
		return err
	}
	if wait == 0 {
		job, err := s.svc.Job(x.ctx(), id)
		if err != nil {
			return err
		}
		return x.reply(http.StatusOK, job)
	}
	x.extendDeadline(wait)
	ctx, cancel := context.WithTimeout(x.ctx(), wait)
	defer cancel()
	job, err := s.svc.WaitJob(ctx, id)
	if job == nil || (err != nil && ctx.Err() == nil) {
		if err == nil {
			err = hvagent.Errorf(hvagent.ENOTFOUND, "job %s not found", id)
		}
		return err
	}
	return x.reply(http.StatusOK, job)
}

// cancelJob serves DELETE /jobs/{id}.
func (s *server) cancelJob(x *exchange) error {
	id, err := x.pathID("id")
	if err != nil {
		return err
	}
	if err := x.noBody(); err != nil {
		return err
	}
	job, err := s.svc.CancelJob(x.ctx(), id)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, job)
}
