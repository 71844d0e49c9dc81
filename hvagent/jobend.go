package hvagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/pipeline"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/logtext"
)

// jobLog is the logger of the lines about a job's end, naming the job. It
// is built at its first line that is written: most ends write none, and
// building it formats the job's fields.
type jobLog struct {
	base zerolog.Logger
	job  *Job
	l    *zerolog.Logger // built; nil until then
}

// at returns the logger of a line at level: base itself when it writes no
// such line.
func (j *jobLog) at(level zerolog.Level) *zerolog.Logger {
	if level < j.base.GetLevel() || level < zerolog.GlobalLevel() {
		return &j.base
	}
	if j.l == nil {
		l := j.base.With().Str("job_id", j.job.ID).Str("action", j.job.Action).Str("guest_id", j.job.GuestID).Logger()
		j.l = &l
	}
	return j.l
}

// Error starts an error line.
func (j *jobLog) Error() *zerolog.Event { return j.at(zerolog.ErrorLevel).Error() }

// Warn starts a warn line.
func (j *jobLog) Warn() *zerolog.Event { return j.at(zerolog.WarnLevel).Warn() }

// Info starts an info line.
func (j *jobLog) Info() *zerolog.Event { return j.at(zerolog.InfoLevel).Info() }

// Debug starts a debug line.
func (j *jobLog) Debug() *zerolog.Event { return j.at(zerolog.DebugLevel).Debug() }

// finishTimeout bounds one attempt at recording a job's end, on a context
// that outlives the job's own cancellation.
const finishTimeout = 30 * time.Second

// The backoff between attempts at recording a job's end doubles from
// finishBackoff up to finishBackoffMax.
const (
	finishBackoff    = 50 * time.Millisecond
	finishBackoffMax = 5 * time.Second
)

// LogJobFailed is the message of the warn-level log line of a job that
// ended in Error (with job_id, action, guest_id, code, error, stage and
// took). A program that reports failed jobs itself, as hvctl --local does,
// may drop these lines.
const LogJobFailed = "job failed"

// unrecorded is the message of a job whose own end the store refused.
const unrecorded = "internal error: the job's outcome could not be recorded"

// end records a job's final status, or requeues it when it was interrupted
// by shutdown and its policy says so. It returns only once the end is
// recorded or the agent is stopping, so the job's queue holds meanwhile:
// its next job never starts while this one is still Running in the store.
// When next is the job's queue ("" for none), the end's commit also claims
// the queue's next job, which end returns (nil when it claimed none), and
// looked reports that it did look: a nil claim then means that no job of
// the queue could start at that commit.
func (a *Agent) end(job *Job, out outcome, err, cause error, next string) (claimed *Claim, looked bool) {
	log := &jobLog{base: a.log, job: job}
	if err != nil && errors.Is(cause, errShutdown) {
		a.endInterrupted(log, job)
		return nil, false
	}
	e := JobEnd{ID: job.ID, At: a.now(), Status: JobComplete, Message: out.message, Guest: out.guest, Result: out.result, DeleteGuest: out.deleteGuest}
	if err != nil {
		e.Status, e.Code, e.Message = failure(err, cause)
		var ie *Error
		if errors.As(err, &ie) && ie.Code == EINTERNAL {
			log.Error().Err(err).Msg("job failed with an internal error")
		}
	}
	if e.DeleteGuest {
		next = "" // the end cancels the rest of the queue
	}
	canceled, claimed, looked, ok := a.finish(log, e, next)
	if !ok {
		return nil, false
	}
	logEnd(log, job, e, err)
	a.observer.JobFinished(job.Action, e.Status)
	if e.Status == JobComplete && out.deleteGuest {
		a.mu.Lock()
		delete(a.limits, job.GuestID)
		a.mu.Unlock()
	}
	a.notify(job.ID)
	for _, id := range canceled {
		a.logCanceled(id, "", job.GuestID, "guest deleted")
		a.notify(id)
	}
	return claimed, looked
}

// logCanceled logs, at info, a job canceled while it was queued (action
// "" when unknown): it never ran, so logEnd does not see it.
func (a *Agent) logCanceled(id, action, guest, message string) {
	ev := a.log.Info().Str("job_id", id)
	if action != "" {
		ev = ev.Str("action", action)
	}
	ev.Str("guest_id", guest).Str("status", string(JobCanceled)).Str("code", ECANCELED).
		Str("error", message).Msg("job canceled")
}

// logEnd logs how a job ended: a failure at warn level with its message,
// error code and the stage it failed in, a cancel at info, a success at
// debug; each with how long it ran.
func logEnd(log *jobLog, job *Job, e JobEnd, err error) {
	var ev *zerolog.Event
	msg := LogJobFailed
	switch e.Status {
	case JobError:
		ev = log.Warn()
	case JobCanceled:
		ev, msg = log.Info(), "job canceled"
	default:
		ev, msg = log.Debug(), "job complete"
	}
	ev = ev.Str("status", string(e.Status)).Int("attempt", job.Attempt)
	if !job.StartedAt.IsZero() {
		ev = ev.Str("took", logtext.Duration(e.At.Sub(job.StartedAt)))
	}
	if e.Status != JobComplete {
		ev = ev.Str("code", e.Code).Str("error", e.Message)
	}
	var se *pipeline.StageError
	if errors.As(err, &se) {
		ev = ev.Str("stage", se.Label()).Str("service", se.Service)
	}
	ev.Msg(msg)
}

// endInterrupted applies the on_interrupt policy of a job abandoned by
// Stop's deadline. It tries once: the agent is stopping, and a job left
// Running is recovered by the same policy at the next start.
func (a *Agent) endInterrupted(log *jobLog, job *Job) {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if err := a.interrupt(ctx, job, errShutdown.Error()); err != nil {
		log.Error().Err(err).Msg("record interrupted job; it stays Running until the next start recovers it")
	}
}

// finish records e, retrying with backoff until it succeeds or the agent
// stops (Stop's deadline or Start's ctx): then the job stays Running in the
// store, and recovery applies its on_interrupt policy at the next start. A
// full disk is such a failure: the end is recorded once space returns. A
// store that refuses e itself (see refusal) gets a plain Error end
// instead, so that a bad outcome never holds the queue. When next names
// the job's queue and a job may start, the first attempt also claims the
// queue's next job in the same commit (Store.FinishClaim); when it fails,
// the end is recorded alone. It returns the jobs canceled by the end, the
// job claimed with it, whether the end looked for one (FinishClaim), and
// whether the job is final now.
func (a *Agent) finish(log *jobLog, e JobEnd, next string) (canceled []string, claimed *Claim, looked, ok bool) {
	if next != "" {
		end, err := a.tryFinishClaim(e, next)
		if err == nil {
			return end.Canceled, end.Next, true, true
		}
		if !errors.Is(err, errNoClaim) {
			log.Debug().Err(err).Msg("record job end with the next claim failed; recording the end alone")
		}
	}
	canceled, ok = a.finishAlone(log, e)
	return canceled, nil, false, ok
}

// finishAlone records e as finish does, without claiming.
func (a *Agent) finishAlone(log *jobLog, e JobEnd) ([]string, bool) {
	backoff, plain := finishBackoff, false
	for attempt := 1; ; attempt++ {
		canceled, err := a.tryFinish(attempt, e)
		if err == nil {
			if attempt > 1 {
				log.Warn().Int("attempt", attempt).Msg("recorded job end after retries; its queue resumes")
			}
			return canceled, true
		}
		if refusal(err) {
			if plain { // even the plain end is refused: the job is already final, or gone
				log.Error().Err(err).Int("attempt", attempt).Msg("record job end: refused; not retrying")
				return nil, false
			}
			log.Error().Err(err).Int("attempt", attempt).Str("status", string(e.Status)).Str("job_message", e.Message).
				Msg("record job end: refused; recording it as an internal error instead")
			e, plain = JobEnd{ID: e.ID, At: e.At, Status: JobError, Code: EINTERNAL, Message: unrecorded}, true
			continue
		}
		log.Warn().Err(err).Int("attempt", attempt).Str("retry_in", backoff.String()).
			Msg("record job end failed; its queue holds until it is recorded")
		select {
		case <-time.After(backoff):
		case <-a.workCtx.Done():
			log.Error().Int("attempts", attempt).
				Msg("record job end: agent stopping; the job stays Running and the next start recovers it by its on_interrupt policy")
			return nil, false
		}
		backoff = min(2*backoff, finishBackoffMax)
	}
}

// refusal reports whether the store refused a job's end for what it says
// (a bad value, a job already final or gone), as opposed to failing to
// write it: a full disk (unavailable), a slow writer (timeout) or an I/O
// error pass, and the end is tried again.
func refusal(err error) bool {
	switch ErrorCode(err) {
	case EINVALID, ECONFLICT, ENOTFOUND, ETOOLARGE:
		return true
	}
	return false
}

// tryFinish makes one attempt at recording e. The first attempt outlives
// a hard stop, as the job's own end should; retries end with the agent's
// work. A panicking store is an error like any other.
func (a *Agent) tryFinish(attempt int, e JobEnd) (canceled []string, err error) {
	parent := context.Background()
	if attempt > 1 {
		parent = a.workCtx
	}
	ctx, cancel := context.WithTimeout(parent, finishTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store panicked: %v", r)
		}
	}()
	_, canceled, err = a.store.Finish(ctx, e)
	return canceled, err
}

// tryFinishClaim records e and claims the next job of queue in one commit,
// on a context that outlives a hard stop, as the first attempt of tryFinish
// does. It fails with errNoClaim when no job may start now. A panicking
// store is an error like any other.
func (a *Agent) tryFinishClaim(e JobEnd, queue string) (end *Ended, err error) {
	a.claimMu.RLock()
	defer a.claimMu.RUnlock()
	o, ok := a.claimOptions()
	if !ok {
		return nil, errNoClaim
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			end, err = nil, fmt.Errorf("store panicked: %v", r)
		}
	}()
	return a.store.FinishClaim(ctx, e, queue, o)
}

// errNoClaim is tryFinishClaim's answer when no job may start now.
var errNoClaim = errors.New("no job may start now")

// failure returns the final status, error code and message of a job that
// failed with err, whose context ended with cause (nil while it runs). The
// code (see Job.Error) is canceled for a user's cancel or an overruled
// shutdown (see overrule), timeout for a
// deadline (the action's or a call's), the code of an agent-side *Error, the
// code a sub-agent gave (invalid, not_found, conflict), subagent for any
// other failure of a stage, and internal for anything else.
func failure(err, cause error) (JobStatus, string, string) {
	var (
		se *pipeline.StageError
		te *actionTimeout
		ov *overruled
	)
	staged := errors.As(err, &se)
	switch {
	case errors.Is(cause, errUserCancel), errors.As(cause, &ov):
		msg := "canceled"
		if ov != nil {
			msg = ov.Error()
		}
		if staged && se.InFlight {
			msg = fmt.Sprintf("%s; outcome of stage %s unknown", msg, se.Label())
		}
		return JobCanceled, ECANCELED, msg
	case staged && errors.As(cause, &te):
		return JobError, ETIMEOUT, fmt.Sprintf("stage %s (%s) did not finish within the action's timeout (%s)", se.Label(), se.Service, te.d)
	case errors.Is(err, context.DeadlineExceeded) && staged:
		return JobError, ETIMEOUT, fmt.Sprintf("timed out in stage %s (%s)", se.Label(), se.Service)
	}
	var e *Error
	if errors.As(err, &e) && e.Code == EINTERNAL {
		return JobError, EINTERNAL, "internal error"
	}
	return JobError, failureCode(err, staged), err.Error()
}

// failureCode classifies a job failure that is neither a cancel nor an
// internal *Error.
func failureCode(err error, staged bool) string {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return ETIMEOUT
	}
	if code := subagent.ErrorCode(err); code != "" {
		return code // the sub-agent's words are the error table's
	}
	var ce *subagent.CallError
	if staged || errors.As(err, &ce) {
		return ESUBAGENT
	}
	return EINTERNAL
}
