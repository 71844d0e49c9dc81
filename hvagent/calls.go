package hvagent

import (
	"context"
	"slices"

	"github.com/hvagent/hvagent/hvagent/pipeline"
)

// callEach calls every stage of act in order with the request mk builds
// from the stage's args, and returns each stage's freshly decoded reply.
// For a job (job non-nil) it records each stage's label before the stage
// and watches the stages (see watchStages); without a job (a synchronous
// call, such as an info action) the stages run on the caller's goroutine:
// a sub-agent call returns as soon as its context ends.
func callEach[Req, Resp any](ctx context.Context, a *Agent, act ActionConfig, mk func(args map[string]string) *Req,
	job *Job) ([]*Resp, error) {
	stages := make([]pipeline.Stage[[]*Resp], len(act.Stages))
	for i, st := range act.Stages {
		stages[i] = pipeline.Stage[[]*Resp]{Service: st.Service, Method: st.Method, Run: func(ctx context.Context, in []*Resp) ([]*Resp, error) {
			resp := new(Resp)
			if err := a.call(ctx, act, st, mk(st.Args), resp); err != nil {
				return nil, err
			}
			return append(slices.Clone(in), resp), nil
		}}
	}
	hooks := pipeline.Hooks[[]*Resp]{Inline: job == nil}
	if job != nil {
		before := a.advanceStage(job, len(stages), nil)
		hooks.Before = func(ctx context.Context, i int, s pipeline.Stage[[]*Resp], _ []*Resp) error {
			return before(ctx, i, s.Method)
		}
		hooks.Grace = stageGrace
		watchStages(a, job, stages)
	}
	return pipeline.Run(ctx, stages, nil, hooks)
}

// last returns the last element of s, or nil.
func last[T any](s []*T) *T {
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1]
}
