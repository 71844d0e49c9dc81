package hvagent

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/pipeline"
	"github.com/hvagent/hvagent/internal/logtext"
)

// stageGrace is how long a stage whose job's context ended (the action's
// timeout, a cancel, Stop's deadline) may take to return before its job
// ends without it and the stage is abandoned.
const stageGrace = time.Second

// abandonedWait bounds how long Stop waits for abandoned stages to return
// once every job has ended.
const abandonedWait = 2 * time.Second

// RunningStage is a pipeline stage of a job whose call is in progress.
type RunningStage struct {
	// JobID, Action and GuestID name the stage's job ("" GuestID for
	// host-level jobs).
	JobID, Action, GuestID string
	// Stage is the stage's label ("2/3 Sim.Start"), Service its service.
	Stage, Service string
	// StartedAt is when the stage began. Timeout is the time its job had
	// left then: the action's timeout for the first stage; 0 when the job
	// has no deadline (an image fetch, by default).
	StartedAt time.Time
	Timeout   time.Duration
	// Abandoned is true once the job ended without the stage: it did not
	// return within a second of its job's cancellation. Its call's outcome
	// is unknown and its result is dropped; it stays listed until it
	// returns.
	Abandoned bool
}

// actionTimeout is the cause of a job context whose action's timeout passed.
type actionTimeout struct{ d time.Duration }

func (e *actionTimeout) Error() string {
	return fmt.Sprintf("the action's timeout (%s) passed", e.d)
}

// stageRun is one tracked stage.
type stageRun struct {
	RunningStage
	warn *time.Timer // the half-timeout warning
}

// stageSet tracks the stages of running jobs, abandoned ones included.
type stageSet struct {
	mu   sync.Mutex
	runs map[*stageRun]struct{}
}

func newStageSet() *stageSet {
	return &stageSet{runs: map[*stageRun]struct{}{}}
}

// watchStages wraps each stage of job's pipeline so that the agent tracks it
// while it runs (RunningStages), warns once when it runs past half its
// timeout, and turns a panic into an internal error.
func watchStages[T any](a *Agent, job *Job, stages []pipeline.Stage[T]) {
	for i, s := range stages {
		label := pipeline.Label(i, len(stages), s.Method)
		stages[i].Run = func(ctx context.Context, in T) (out T, err error) {
			defer a.beginStage(ctx, job, label, s.Service)()
			defer func() {
				if r := recover(); r != nil {
					a.log.Error().Str("job_id", job.ID).Str("stage", label).Interface("panic", r).
						Bytes("stack", debug.Stack()).Msg("stage panicked")
					var zero T
					out, err = zero, WrapError(EINTERNAL, fmt.Errorf("panic: %v", r), "stage failed: internal panic")
				}
			}()
			return s.Run(ctx, in)
		}
	}
}

// beginStage registers a stage of job as running and returns the function
// that ends it.
func (a *Agent) beginStage(ctx context.Context, job *Job, label, service string) func() {
	r := &stageRun{RunningStage: RunningStage{JobID: job.ID, Action: job.Action, GuestID: job.GuestID,
		Stage: label, Service: service, StartedAt: time.Now()}}
	if dl, ok := ctx.Deadline(); ok && dl.After(r.StartedAt) {
		r.Timeout = dl.Sub(r.StartedAt)
	}
	set := a.stages
	if r.Timeout > 0 {
		r.warn = time.AfterFunc(r.Timeout/2, func() { a.warnSlowStage(set.get(r)) })
	}
	set.mu.Lock()
	set.runs[r] = struct{}{}
	set.mu.Unlock()
	return func() {
		if r.warn != nil {
			r.warn.Stop()
		}
		set.mu.Lock()
		delete(set.runs, r)
		s := r.RunningStage
		set.mu.Unlock()
		if s.Abandoned {
			a.stageLog(s).Info().Str("took", logtext.Duration(time.Since(s.StartedAt))).
				Msg("abandoned stage returned at last")
		}
	}
}

// get returns r as it is now.
func (s *stageSet) get(r *stageRun) RunningStage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.RunningStage
}

// warnSlowStage logs a stage running past half its timeout.
func (a *Agent) warnSlowStage(s RunningStage) {
	a.stageLog(s).Warn().Str("elapsed", logtext.Duration(time.Since(s.StartedAt))).
		Str("timeout", logtext.Duration(s.Timeout)).Msg("stage running past half its timeout")
}

// stageLog returns a logger naming a stage's job, guest and stage.
func (a *Agent) stageLog(s RunningStage) *zerolog.Logger {
	l := a.log.With().Str("job_id", s.JobID).Str("action", s.Action).Str("guest_id", s.GuestID).
		Str("stage", s.Stage).Str("service", s.Service).Logger()
	return &l
}

// abandonStages marks the stages of job that are still running, after its
// pipeline returned, as abandoned, and logs them.
func (a *Agent) abandonStages(job *Job) {
	var left []RunningStage
	a.stages.mu.Lock()
	for r := range a.stages.runs {
		if r.JobID == job.ID && !r.Abandoned {
			r.Abandoned = true
			left = append(left, r.RunningStage)
		}
	}
	a.stages.mu.Unlock()
	for _, s := range left {
		a.stageLog(s).Warn().Str("running", logtext.Duration(time.Since(s.StartedAt))).
			Str("grace", stageGrace.String()).
			Msg("stage abandoned: it did not return when its job ended (timeout, cancel or shutdown); its outcome is unknown and its result will be dropped")
	}
}

// RunningStages returns the stages of running jobs whose calls are in
// progress, abandoned ones included, oldest first.
func (a *Agent) RunningStages() []RunningStage {
	a.stages.mu.Lock()
	out := make([]RunningStage, 0, len(a.stages.runs))
	for r := range a.stages.runs {
		out = append(out, r.RunningStage)
	}
	a.stages.mu.Unlock()
	slices.SortFunc(out, func(x, y RunningStage) int { return x.StartedAt.Compare(y.StartedAt) })
	return out
}

// waitAbandoned waits up to limit for what the agent's jobs left running
// to return, and logs what does not: their abandoned stages (once every job
// has ended, the stages still running are abandoned ones) and the calls of
// in-process drivers that went on after their caller gave up.
func (a *Agent) waitAbandoned(limit time.Duration) {
	stages, calls := a.RunningStages(), a.services.abandoned()
	if len(stages) == 0 && len(calls) == 0 {
		return
	}
	a.log.Info().Int("stages", len(stages)).Int("driver_calls", sum(calls)).
		Msg("stopping: waiting up to " + limit.String() + " for abandoned stages and driver calls to return")
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(limit)
	for len(stages) > 0 || len(calls) > 0 {
		if time.Now().After(deadline) {
			a.logLeftBehind(stages, calls)
			return
		}
		<-t.C
		stages, calls = a.RunningStages(), a.services.abandoned()
	}
}

// logLeftBehind logs the abandoned stages and driver calls Stop leaves.
func (a *Agent) logLeftBehind(stages []RunningStage, calls map[string]int) {
	for _, s := range stages {
		a.stageLog(s).Warn().Str("running", logtext.Duration(time.Since(s.StartedAt))).
			Msg("stopping: abandoned stage still running; left behind")
	}
	for name, n := range calls {
		a.log.Warn().Str("builtin", name).Int("calls", n).
			Msg("stopping: calls of an in-process driver still running after their caller gave up; left behind")
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
