package hvagent

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

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

// runJob runs a claimed job's pipeline and records how it ended. When next
// is its queue, the end also claims the queue's next job, which it returns
// with whether the end looked for one (see Agent.end).
func (a *Agent) runJob(c *Claim, next string) (*Claim, bool) {
	job := c.Job
	ctx, cancel := context.WithCancelCause(a.workCtx)
	a.setRunning(job, cancel)
	defer func() {
		a.clearRunning(job.ID)
		cancel(nil)
	}()
	act, ok := a.cfg.Actions[job.Action]
	var out outcome
	var err error
	cause := context.Cause(ctx)
	if !ok {
		err = Errorf(EINVALID, "%s: Not configured", job.Action)
	} else {
		tctx, tcancel := actionContext(subagent.WithCall(ctx, job.ID, job.Attempt), act)
		out, err = a.execute(tctx, job, act, c.Request)
		cause = context.Cause(tctx) // a cancel, Stop, or the action's timeout
		tcancel()
		a.abandonStages(job)
	}
	return a.end(job, out, err, cause, next)
}

// actionContext bounds ctx by act's timeout, when it has one (an image
// fetch has none by default).
func actionContext(ctx context.Context, act ActionConfig) (context.Context, context.CancelFunc) {
	d := act.Timeout.Duration
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, &actionTimeout{d})
}

// execute runs the pipeline of job, recovering a panic into an error so a
// broken stage never takes the agent down.
func (a *Agent) execute(ctx context.Context, job *Job, act ActionConfig, raw json.RawMessage) (out outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error().Str("job_id", job.ID).Str("action", job.Action).Interface("panic", r).
				Bytes("stack", debug.Stack()).Msg("job panicked")
			// The agent's own code failed, not a sub-agent: the panic is an
			// internal error, whose details stay in the log.
			out, err = outcome{}, WrapError(EINTERNAL, fmt.Errorf("panic: %v", r), "job failed: internal panic")
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

// runningJob is a running job's cancel function, with what overrule
// looks for.
type runningJob struct {
	cancel        context.CancelCauseFunc
	guest, action string
}

// setRunning registers a running job's cancel function, and cancels the
// job at once when CancelJob asked for it between its claim and now.
func (a *Agent) setRunning(job *Job, cancel context.CancelCauseFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running[job.ID] = runningJob{cancel: cancel, guest: job.GuestID, action: job.Action}
	if a.cancelSoon[job.ID] {
		delete(a.cancelSoon, job.ID)
		cancel(errUserCancel)
	}
}

// clearRunning forgets a job whose run ended, with any cancel still
// waiting for it (see CancelJob).
func (a *Agent) clearRunning(id string) {
	a.mu.Lock()
	delete(a.running, id)
	delete(a.cancelSoon, id)
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
// (the first one is recorded by Claim), with the guest of the stage before
// when sg is set. A failed write fails the job before the stage starts (an
// internal error); the guest it carried stays pending for the job's end.
func (a *Agent) advanceStage(job *Job, n int, sg *stageGuest) func(context.Context, int, string) error {
	return func(ctx context.Context, i int, method string) error {
		if i == 0 {
			return nil
		}
		label := pipeline.Label(i, n, method)
		u := JobUpdate{ID: job.ID, At: a.now(), Stage: &label}
		if sg != nil {
			u.Guest = sg.pending()
		}
		// Recorded even when the job is being canceled, but not forever.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if _, err := a.store.Advance(wctx, u); err != nil {
			return WrapError(EINTERNAL, err, "record stage %s", label)
		}
		if sg != nil && u.Guest != nil {
			sg.persisted = u.Guest
		}
		return nil
	}
}
