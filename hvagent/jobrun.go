package hvagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hvagent/hvagent/hvagent/pipeline"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// jobRequest is the durable input of a job besides its guest, which is read
// from the store when the job runs.
type jobRequest struct {
	Snapshot *subagent.SnapshotRequest `json:"snapshot,omitempty"`
	Image    *ImageRequest             `json:"image,omitempty"`
}

// outcome is what a successful job leaves behind.
type outcome struct {
	guest       *Guest
	result      json.RawMessage
	message     string
	deleteGuest bool
}

// finishTimeout bounds recording a job's end, on a context that outlives
// the job's own cancellation.
const finishTimeout = 30 * time.Second

// runJob runs a claimed job's pipeline and records how it ended.
func (a *Agent) runJob(c *Claim) {
	job := c.Job
	ctx, cancel := context.WithCancelCause(a.workCtx)
	a.setRunning(job.ID, cancel)
	defer func() {
		a.clearRunning(job.ID)
		cancel(nil)
	}()
	act, ok := a.cfg.Actions[job.Action]
	var out outcome
	var err error
	if !ok {
		err = Errorf(EINVALID, "%s: Not configured", job.Action)
	} else {
		tctx, tcancel := context.WithTimeout(subagent.WithCall(ctx, job.ID, job.Attempt), act.Timeout.Duration)
		out, err = a.execute(tctx, job, act, c.Request)
		tcancel()
	}
	a.end(job, out, err, context.Cause(ctx))
}

// end records a job's final status, or requeues it when it was interrupted
// by shutdown and its policy says so.
func (a *Agent) end(job *Job, out outcome, err, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	log := a.log.With().Str("job_id", job.ID).Str("action", job.Action).Str("guest_id", job.GuestID).Logger()
	if err != nil && errors.Is(cause, errShutdown) {
		if ierr := a.interrupt(ctx, job, errShutdown.Error()); ierr != nil {
			log.Error().Err(ierr).Msg("record interrupted job")
		}
		return
	}
	e := JobEnd{ID: job.ID, At: a.now(), Status: JobComplete, Message: out.message, Guest: out.guest, Result: out.result, DeleteGuest: out.deleteGuest}
	if err != nil {
		e.Status, e.Message = failure(err, cause)
	}
	_, canceled, ferr := a.store.Finish(ctx, e)
	if ferr != nil {
		log.Error().Err(ferr).Msg("record job end")
		return
	}
	log.Debug().Str("status", string(e.Status)).Str("message", e.Message).Msg("job ended")
	a.observer.JobFinished(job.Action, e.Status)
	if e.Status == JobComplete && out.deleteGuest {
		a.mu.Lock()
		delete(a.limits, job.GuestID)
		a.mu.Unlock()
	}
	a.notify(job.ID)
	for _, id := range canceled {
		a.notify(id)
	}
}

// failure returns the final status and message of a job that failed with err.
func failure(err, cause error) (JobStatus, string) {
	var se *pipeline.StageError
	staged := errors.As(err, &se)
	switch {
	case errors.Is(cause, errUserCancel):
		msg := "canceled"
		if staged && se.InFlight {
			msg = fmt.Sprintf("canceled; outcome of stage %s unknown", se.Label())
		}
		return JobCanceled, msg
	case errors.Is(err, context.DeadlineExceeded) && staged:
		return JobError, fmt.Sprintf("timed out in stage %s (%s)", se.Label(), se.Service)
	}
	var e *Error
	if errors.As(err, &e) && e.Code == EINTERNAL {
		return JobError, "internal error"
	}
	return JobError, err.Error()
}

// execute runs the pipeline of job, recovering a panic into an error so a
// broken stage never takes the agent down.
func (a *Agent) execute(ctx context.Context, job *Job, act ActionConfig, raw json.RawMessage) (out outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error().Str("job_id", job.ID).Interface("panic", r).Msg("job panicked")
			out, err = outcome{}, Errorf(ESUBAGENT, "job failed: internal panic: %v", r)
		}
	}()
	var req jobRequest
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &req); err != nil {
			return outcome{}, Errorf(EINVALID, "job request is corrupt: %v", err)
		}
	}
	switch {
	case req.Snapshot != nil:
		return a.runSnapshotJob(ctx, job, act, req.Snapshot)
	case req.Image != nil:
		return a.runImageJob(ctx, job, act, req.Image)
	}
	return a.runGuestJob(ctx, job, act)
}

// setRunning registers a running job's cancel function, and cancels the
// job at once when CancelJob asked for it between its claim and now.
func (a *Agent) setRunning(id string, cancel context.CancelCauseFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running[id] = cancel
	if a.cancelSoon[id] {
		delete(a.cancelSoon, id)
		cancel(errUserCancel)
	}
}

func (a *Agent) clearRunning(id string) {
	a.mu.Lock()
	delete(a.running, id)
	a.mu.Unlock()
}

// firstStageLabels returns each action's first stage label, which Claim
// records so that the first stage costs no transaction of its own.
func firstStageLabels(actions map[string]ActionConfig) map[string]string {
	labels := map[string]string{}
	for name, act := range actions {
		if len(act.Stages) > 0 {
			labels[name] = pipeline.Label(0, len(act.Stages), act.Stages[0].Method)
		}
	}
	return labels
}

// advanceStage is a pipeline Before hook recording the stage label of a job
// (the first one is recorded by Claim) with the guest of the stage before.
func (a *Agent) advanceStage(job *Job, n int, guest func() *Guest) func(context.Context, int, string) error {
	return func(ctx context.Context, i int, method string) error {
		if i == 0 {
			return nil
		}
		label := pipeline.Label(i, n, method)
		u := JobUpdate{ID: job.ID, At: a.now(), Stage: &label}
		if guest != nil {
			u.Guest = guest()
		}
		_, err := a.store.Advance(context.WithoutCancel(ctx), u)
		return err
	}
}
