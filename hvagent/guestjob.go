package hvagent

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/hvagent/hvagent/hvagent/pipeline"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/jsonform"
)

// runGuestJob runs a guest lifecycle action: each stage gets the guest the
// previous stage returned, validated and persisted before the next stage.
func (a *Agent) runGuestJob(ctx context.Context, job *Job, act ActionConfig) (outcome, error) {
	g, err := a.store.Guest(ctx, job.GuestID)
	if err != nil {
		return outcome{}, fmt.Errorf("load guest: %w", err)
	}
	var (
		mu      sync.Mutex
		message string
	)
	stages := make([]pipeline.Stage[*Guest], len(act.Stages))
	for i, st := range act.Stages {
		stages[i] = pipeline.Stage[*Guest]{Service: st.Service, Method: st.Method, Run: func(ctx context.Context, in *Guest) (*Guest, error) {
			resp := new(subagent.GuestResponse)
			req := &subagent.GuestRequest{Guest: in, Action: job.Action, Args: st.Args}
			if err := a.call(ctx, act, st, req, resp); err != nil {
				return nil, err
			}
			if resp.Message != "" {
				mu.Lock()
				message = resp.Message
				mu.Unlock()
			}
			return resp.Guest, nil
		}}
	}
	watchStages(a, job, stages)
	sg := &stageGuest{persisted: g}
	before := a.advanceStage(job, len(stages), sg)
	final, err := pipeline.Run(ctx, stages, g, pipeline.Hooks[*Guest]{
		Before: func(ctx context.Context, i int, s pipeline.Stage[*Guest], _ *Guest) error {
			return before(ctx, i, s.Method)
		},
		Validate: validateStageGuest,
		Grace:    stageGrace,
		After: func(_ context.Context, _ int, _ pipeline.Stage[*Guest], out *Guest) error {
			out.Metadata, out.Name = g.Metadata, g.Name // the store keeps both
			sg.last = out
			return nil
		},
	})
	mu.Lock()
	defer mu.Unlock()
	out := outcome{guest: sg.pending(), message: message}
	if err != nil {
		return out, err
	}
	if BaseAction(job.Action) == ActionDelete {
		return outcome{deleteGuest: true, message: message}, nil
	}
	// The job's result is the guest without its metadata, which has its
	// own table: a job row must not grow with the guest's metadata.
	res := *final
	res.Metadata = nil
	buf := jsonform.GetBuffer()
	defer jsonform.PutBuffer(buf)
	*buf = subagent.AppendGuest(*buf, &res) // json.Marshal's bytes
	out.result = bytes.Clone(*buf)
	return out, nil
}

// stageGuest is the guest of a running guest job: the last stage's result
// and the guest as the store has it. Pipeline hooks, which use it, run one
// at a time.
type stageGuest struct {
	persisted, last *Guest
}

// pending returns the last stage's result when the store does not have it
// yet, else nil: unchanged results are not written again.
func (s *stageGuest) pending() *Guest {
	if s.last == nil || reflect.DeepEqual(s.last, s.persisted) {
		return nil
	}
	return s.last
}

// validateStageGuest rejects a stage result that lost the guest or swapped
// it for another one.
func validateStageGuest(in, out *Guest) error {
	switch {
	case out == nil:
		return fmt.Errorf(`sub-agent returned no guest ("guest": null)`)
	case out.ID != in.ID:
		return fmt.Errorf("sub-agent returned guest %q instead of %q", out.ID, in.ID)
	}
	return nil
}
