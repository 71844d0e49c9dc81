package hvagent_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// TestAgent_PoweroffOverrulesShutdown: a guest that ignores the power
// button keeps its shutdown running; a poweroff queued behind it cancels
// that shutdown and runs at once, after the jobs queued between them, as
// pulling the plug does. A poweroff finds no shutdown to overrule when
// none runs.
func TestAgent_PoweroffOverrulesShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := agenttest.New(t, agenttest.Opts{Config: hangConfig(t)})
	g := env.Create(t, nil)

	shutdown := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	runningStage(t, env, shutdown.ID)
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	began := time.Now()
	poweroff := env.Do(t, hvagent.ActionPoweroff, g.ID, hvagent.Request{}).Job

	j := env.Wait(t, shutdown.ID)
	require.Equal(t, hvagent.JobCanceled, j.Status)
	require.Equal(t, hvagent.ECANCELED, j.Error)
	require.Equal(t, "overruled by poweroff job "+poweroff.ID+"; outcome of stage 1/1 Hang.Shutdown unknown", j.Message)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, start.ID).Status, "the job between them still runs")
	j = env.Wait(t, poweroff.ID)
	require.Equal(t, hvagent.JobComplete, j.Status)
	require.Less(t, time.Since(began), 10*time.Second, "the poweroff did not wait for the shutdown's timeout")
	got, err := env.Agent.Guest(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.StateShutoff, got.State)

	again := env.Do(t, hvagent.ActionPoweroff, g.ID, hvagent.Request{}).Job
	require.Equal(t, hvagent.JobComplete, env.Wait(t, again.ID).Status, "nothing to overrule")
}

// hangConfig wires create, start and poweroff to a sub-agent that answers
// at once, and shutdown to one that waits until its call is canceled, as
// for a guest that ignores the ACPI power button; the shutdown has a
// timeout far longer than the test.
func hangConfig(t *testing.T) *hvagent.Config {
	s := subagent.NewServer()
	state := func(st string) func(context.Context, *subagent.GuestRequest) (*subagent.GuestResponse, error) {
		return func(_ context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
			g := *req.Guest
			g.State = st
			return &subagent.GuestResponse{Guest: &g}, nil
		}
	}
	subagent.Handle(s, "Hang.Create", state(hvagent.StateShutoff))
	subagent.Handle(s, "Hang.Start", state(hvagent.StateRunning))
	subagent.Handle(s, "Hang.Poweroff", state(hvagent.StateShutoff))
	subagent.Handle(s, "Hang.Shutdown", func(ctx context.Context, _ *subagent.GuestRequest) (*subagent.GuestResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	stage := func(method string) []hvagent.StageConfig {
		return []hvagent.StageConfig{{Service: "hang", Method: "Hang." + method}}
	}
	return &hvagent.Config{
		Services: map[string]hvagent.ServiceConfig{"hang": {URL: srv.URL, Timeout: hvagent.Duration{Duration: time.Hour}}},
		Actions: map[string]hvagent.ActionConfig{
			hvagent.ActionCreate:   {Stages: stage("Create")},
			hvagent.ActionStart:    {Stages: stage("Start")},
			hvagent.ActionPoweroff: {Stages: stage("Poweroff")},
			hvagent.ActionShutdown: {Stages: stage("Shutdown"), Timeout: hvagent.Duration{Duration: time.Hour}},
		},
	}
}
