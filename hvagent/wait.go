package hvagent

import (
	"context"
	"strings"
	"time"
)

// waitPoll re-reads a waited-for job at this interval as a safety net.
const waitPoll = 2 * time.Second

// notify wakes the waiters of job id.
func (a *Agent) notify(id string) {
	a.mu.Lock()
	ws := a.waiters[id]
	delete(a.waiters, id)
	a.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// subscribe returns a channel closed at the next notify of job id, and a
// function that drops it.
func (a *Agent) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.waiters[id] = append(a.waiters[id], ch)
	a.mu.Unlock()
	return ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		ws := a.waiters[id]
		for i, w := range ws {
			if w == ch {
				a.waiters[id] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(a.waiters[id]) == 0 {
			delete(a.waiters, id)
		}
	}
}

// WaitJob blocks until job id is final or ctx ends, and returns the job as
// it is then; when ctx ends first the error is ctx's (ETIMEOUT or
// ECANCELED). Errors: ENOTFOUND.
//
// The job is read on a context without ctx's end (see readCtx): ctx
// bounds the wait, not the point read, so a wait whose ctx has ended
// still returns the job as it is.
func (a *Agent) WaitJob(ctx context.Context, id string) (*Job, error) {
	rctx := readCtx(ctx)
	for {
		ch, drop := a.subscribe(id)
		job, err := a.store.Job(rctx, id)
		if err != nil || job.Status.Final() {
			drop()
			return job, err
		}
		t := time.NewTimer(waitPoll)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			drop()
			t.Stop()
			return job, ContextError(ctx)
		}
		drop()
		t.Stop()
	}
}

// readCtx is ctx without its end, for WaitJob's reads: ctx bounds the
// wait, and a read by primary key takes microseconds, so a wait whose ctx
// has just ended still reports a job that is final. (The SQLite store's
// point reads do not watch their context either, for their cost.)
func readCtx(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// ContextError turns a done context into ETIMEOUT or ECANCELED, for calls
// that gave up waiting.
func ContextError(ctx context.Context) error {
	if ctx.Err() == context.DeadlineExceeded {
		return WrapError(ETIMEOUT, ctx.Err(), "timed out waiting")
	}
	return WrapError(ECANCELED, ctx.Err(), "canceled while waiting")
}

// CancelJob cancels job id: a queued job ends Canceled at once; a running
// one has its pipeline abandoned (no next stage starts) and ends Canceled.
// It returns the job as it ended. Errors: ENOTFOUND, ECONFLICT (already
// finished), EUNAVAILABLE.
func (a *Agent) CancelJob(ctx context.Context, id string) (*Job, error) {
	if err := a.accepting(); err != nil {
		return nil, err
	}
	job, err := a.store.CancelQueued(ctx, id, "canceled", a.now())
	if err != nil {
		return nil, err
	}
	if job.Status == JobCanceled {
		a.logCanceled(job.ID, job.Action, job.GuestID, job.Message)
		a.notify(id)
		a.kickBehind(ctx, job)
		return job, nil
	}
	a.mu.Lock()
	if r, ok := a.running[id]; ok {
		r.cancel(errUserCancel)
	} else { // claimed but not registered yet: runJob cancels it on arrival
		a.cancelSoon[id] = true
	}
	a.mu.Unlock()
	job, err = a.WaitJob(ctx, id)
	if job != nil && job.Status.Final() { // else its worker may still be on its way to setRunning
		a.mu.Lock()
		delete(a.cancelSoon, id)
		a.mu.Unlock()
	}
	return job, err
}

// kickBehind restarts the queue of job, just canceled while Queued. A
// paused job at the head of a queue holds the jobs behind it, and the
// queue's worker has gone; once that job is canceled the next one may
// start. A guest's jobs queue on its ID; an image job's queue is not in
// the job, so while anything is paused every image queue that holds
// queued jobs is tried.
func (a *Agent) kickBehind(ctx context.Context, job *Job) {
	if job.GuestID != AgentGuestID {
		a.kick(job.GuestID)
		return
	}
	if len(a.claimPaused()) == 0 {
		return
	}
	queues, err := a.store.QueuedQueues(ctx)
	if err != nil {
		a.log.Warn().Err(err).Str("job", job.ID).Msg("restart image queues after a cancel")
		return
	}
	for _, q := range queues {
		if strings.HasPrefix(q, hostQueuePrefix) {
			a.kick(q)
		}
	}
}
