package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// defaultWaitTimeout is --timeout's default.
const defaultWaitTimeout = 10 * time.Minute

// cancelTimeout bounds the job cancel sent after Ctrl-C.
const cancelTimeout = 10 * time.Second

// Poll intervals while waiting: how often the stage shown is refreshed. A
// job that ends is seen at once either way (the wait long-polls).
const (
	ttyPoll   = 300 * time.Millisecond
	plainPoll = time.Second
)

// asyncOptions are the flags of every command that queues a job.
type asyncOptions struct {
	// Wait waits for the job to end; always on with --local.
	Wait bool
	// Timeout bounds the wait; 0 means no limit.
	Timeout time.Duration
	// CancelOnInterrupt cancels the job on Ctrl-C instead of leaving it
	// running.
	CancelOnInterrupt bool
	// DryRun prints the resolved pipeline instead of queuing a job.
	DryRun bool
	// IdempotencyKey makes a retried command return the first job.
	IdempotencyKey string

	local func() bool
}

// addAsyncFlags adds the waiting flags to cmd.
func addAsyncFlags(cmd *cobra.Command, o *asyncOptions, f *Factory) {
	fl := cmd.Flags()
	fl.BoolVarP(&o.Wait, "wait", "w", false, "wait for the job to end (always on with --local)")
	fl.DurationVar(&o.Timeout, "timeout", defaultWaitTimeout, "how long --wait waits (0 = no limit)")
	fl.BoolVar(&o.CancelOnInterrupt, "cancel-on-interrupt", false, "cancel the job on Ctrl-C while waiting, instead of leaving it running")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the pipeline the action would run, and queue nothing")
	fl.StringVar(&o.IdempotencyKey, "idempotency-key", "", "key that makes a retry of this command return the first job")
	o.local = f.isLocal
}

// validate checks the waiting flags.
// validateAsync checks the output and waiting flags of an async command.
func validateAsync(out *outputOptions, async *asyncOptions) error {
	if err := out.validate(); err != nil {
		return err
	}
	return async.validate()
}

func (o *asyncOptions) validate() error {
	if o.Timeout < 0 {
		return flagError("timeout", "must not be negative")
	}
	return nil
}

// waiting reports whether the command waits for its job.
func (o *asyncOptions) waiting() bool { return o.Wait || o.isLocal() }

func (o *asyncOptions) isLocal() bool { return o.local != nil && o.local() }

// request adds the dry-run and idempotency flags to req.
func (o *asyncOptions) request(req hvagent.Request) hvagent.Request {
	req.DryRun = o.DryRun
	req.IdempotencyKey = o.IdempotencyKey
	return req
}

// submission is one async action to run and report.
type submission struct {
	action, guest string
	req           hvagent.Request
	// quietID is what -q prints of the job; default its ID.
	quietID func(*hvagent.Job) string
}

// runAsync queues an action and reports it on stdout: the pipeline of a dry
// run, the queued job, or with --wait the job as it ended. A job that ends
// Error or Canceled is a *jobEndError.
func runAsync(ctx context.Context, ios *IOStreams, svc hvagent.Service, out outputOptions, a asyncOptions, s submission) error {
	res, err := svc.Do(ctx, s.action, s.guest, a.request(s.req))
	if err != nil {
		return err
	}
	if a.DryRun {
		if res == nil {
			res = &hvagent.Result{}
		}
		return writePipeline(ios.Out, out, s.action, res.Pipeline)
	}
	if res == nil || res.Job == nil {
		return fmt.Errorf("%s: the agent returned no job", s.action)
	}
	job := res.Job
	if a.waiting() {
		if job, err = waitJob(ctx, ios, svc, job, a); err != nil {
			return err
		}
	}
	if err := writeSubmitted(ios, out, job, s.quietID); err != nil {
		return err
	}
	if !a.waiting() && ios.IsTTY && !out.Quiet && !out.json() {
		_, _ = fmt.Fprintf(ios.ErrOut, "Queued; wait for it with: hvctl job wait %s\n", job.ID)
	}
	return jobOutcome(job)
}

// writeSubmitted prints the job of an async command: as a one-row table,
// JSON, or with -q the ID quietID picks (nothing for a failed job).
func writeSubmitted(ios *IOStreams, out outputOptions, job *hvagent.Job, quietID func(*hvagent.Job) string) error {
	if out.Quiet && jobOutcome(job) != nil {
		return nil
	}
	if out.Quiet {
		id := job.ID
		if quietID != nil {
			id = quietID(job)
		}
		return writeLines(ios.Out, []string{id})
	}
	if out.json() {
		return writeJSON(ios.Out, job)
	}
	return writeJobs(ios.Out, out, []*hvagent.Job{job})
}

// jobOutcome is nil for a job that did not fail, else a *jobEndError.
func jobOutcome(job *hvagent.Job) error {
	if job.Status == hvagent.JobError || job.Status == hvagent.JobCanceled {
		return &jobEndError{job: job}
	}
	return nil
}

// waitJob waits for job to end, showing its stage and progress on ErrOut.
// It returns the final job; when the wait is cut short it returns the error
// that says why: ETIMEOUT, an *interruptedError (Ctrl-C: ctx is done), or
// with --cancel-on-interrupt the canceled job as a *jobEndError.
func waitJob(ctx context.Context, ios *IOStreams, svc hvagent.Service, job *hvagent.Job, a asyncOptions) (*hvagent.Job, error) {
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if a.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, a.Timeout)
	}
	defer cancel()
	view := newJobView(ios)
	last, err := pollJob(wctx, ios, svc, job, view)
	view.close(last)
	if err != nil || last.Status.Final() {
		return last, err
	}
	if ctx.Err() != nil {
		return interrupted(ctx, svc, last, a)
	}
	return last, &hvagent.Error{Code: hvagent.ETIMEOUT, Message: fmt.Sprintf(
		"timed out after %s waiting for job %s (%s, %s)%s", a.Timeout, last.ID, last.Action, last.Status, goesOn(last, a))}
}

// pollJob refreshes view with job until it is final or ctx is done.
func pollJob(ctx context.Context, ios *IOStreams, svc hvagent.Service, job *hvagent.Job, view jobView) (*hvagent.Job, error) {
	interval := plainPoll
	if ios.IsTTY {
		interval = ttyPoll
	}
	last := job
	view.update(last)
	for !last.Status.Final() && ctx.Err() == nil {
		tick, stop := context.WithTimeout(ctx, interval)
		j, err := svc.WaitJob(tick, job.ID)
		ticked := tick.Err() != nil
		stop()
		if j != nil {
			last = j
			view.update(j)
		}
		if err != nil && !ticked && !last.Status.Final() {
			return last, fmt.Errorf("wait for job %s: %w", job.ID, err)
		}
		if err == nil && j == nil {
			return last, fmt.Errorf("wait for job %s: the agent returned no job", job.ID)
		}
	}
	return last, nil
}

// goesOn tells what becomes of a job left unfinished by the wait.
func goesOn(job *hvagent.Job, a asyncOptions) string {
	if a.isLocal() {
		return fmt.Sprintf("; it stops with this in-process agent: see hvctl --local job show %s", job.ID)
	}
	return fmt.Sprintf("; it keeps running: hvctl job wait %s, or hvctl job cancel %s", job.ID, job.ID)
}

// interrupted handles Ctrl-C during a wait: the job keeps running, or with
// --cancel-on-interrupt it is canceled and returned as it ended (with a
// *jobEndError unless it had completed meanwhile).
func interrupted(ctx context.Context, svc hvagent.Service, job *hvagent.Job, a asyncOptions) (*hvagent.Job, error) {
	if !a.CancelOnInterrupt {
		return job, &interruptedError{msg: fmt.Sprintf("interrupted while waiting for job %s (%s)%s", job.ID, job.Action, goesOn(job, a))}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	ended, err := svc.CancelJob(cctx, job.ID)
	if hvagent.ErrorCode(err) == hvagent.ECONFLICT { // it ended meanwhile
		ended, err = svc.Job(cctx, job.ID)
	}
	if err != nil {
		return job, fmt.Errorf("interrupted; cancel job %s: %w", job.ID, err)
	}
	if ended == nil {
		return job, errors.New("interrupted; the agent returned no job")
	}
	return ended, nil
}
