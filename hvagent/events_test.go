package hvagent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_Events(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	page, err := env.Agent.Events(ctx, hvagent.EventQuery{Wait: 10 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, page.Events)

	got := make(chan *hvagent.EventPage, 1)
	go func() {
		p, _ := env.Agent.Events(ctx, hvagent.EventQuery{Wait: 10 * time.Second})
		got <- p
	}()
	g := env.Create(t, nil)
	p := <-got
	require.NotEmpty(t, p.Events, "a waiting reader is woken by the first event")

	page, err = env.Agent.Events(ctx, hvagent.EventQuery{})
	require.NoError(t, err)
	var types []string
	for i, e := range page.Events {
		if i > 0 {
			require.Greater(t, e.ID, page.Events[i-1].ID)
		}
		types = append(types, e.Type)
	}
	require.Contains(t, types, hvagent.EventJobUpdated)
	require.Contains(t, types, hvagent.EventGuestUpdated)
	last := page.Events[len(page.Events)-1]
	require.Equal(t, hvagent.JobComplete, last.Job.Status)
	require.Equal(t, g.ID, last.Job.GuestID)

	_, err = env.Agent.Events(ctx, hvagent.EventQuery{Limit: -1})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
}

func TestAgent_PauseQueue(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	g := env.Create(t, nil)
	require.NoError(t, env.Agent.PauseQueue(ctx, hvagent.ActionStart))
	start := env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job
	behind := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	time.Sleep(100 * time.Millisecond)
	for _, id := range []string{start.ID, behind.ID} {
		j, err := env.Agent.Job(ctx, id)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobQueued, j.Status, "paused jobs stay queued and hold the queue")
	}
	h, err := env.Agent.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{hvagent.ActionStart}, h.Paused)
	require.True(t, h.Simulated)
	require.Equal(t, "ok", h.Status)

	require.NoError(t, env.Agent.ResumeQueue(ctx, ""))
	require.Equal(t, hvagent.JobComplete, env.Wait(t, start.ID).Status)
	require.Equal(t, hvagent.JobComplete, env.Wait(t, behind.ID).Status)
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(env.Agent.PauseQueue(ctx, "nope")))
}

// A paused job at the head of its queue holds the jobs behind it; once it
// is canceled, the next job runs without waiting for a resume: on a
// guest's queue, and on an image's, whose name the job does not carry.
func TestAgent_CancelPausedHead(t *testing.T) {
	t.Parallel()
	image := hvagent.Request{Image: &hvagent.ImageRequest{ID: "nginx", Type: "container"}}
	for _, tc := range []struct {
		name, paused, behind string
		guest                bool
	}{
		{"guest", hvagent.ActionStart, hvagent.ActionShutdown, true},
		{"image", hvagent.ActionFetchImage, hvagent.ActionDeleteImage, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := agenttest.New(t, agenttest.Opts{})
			ctx := context.Background()
			target, req := "", image
			if tc.guest {
				target, req = env.Create(t, nil).ID, hvagent.Request{}
			} else { // an image to delete
				require.Equal(t, hvagent.JobComplete, env.Wait(t, env.Do(t, tc.paused, "", req).Job.ID).Status)
			}
			require.NoError(t, env.Agent.PauseQueue(ctx, tc.paused))
			head := env.Do(t, tc.paused, target, req).Job
			behind := env.Do(t, tc.behind, target, req).Job
			time.Sleep(200 * time.Millisecond) // the queue's worker has found its head paused and gone
			_, err := env.Agent.CancelJob(ctx, head.ID)
			require.NoError(t, err)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			j, err := env.Agent.WaitJob(wctx, behind.ID)
			require.NoError(t, err, "the job behind a canceled paused job must run")
			require.Equal(t, hvagent.JobComplete, j.Status, j.Message)
		})
	}
}

func TestAgent_EventsLive(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	env.Create(t, nil)
	page, err := env.Agent.Events(ctx, hvagent.EventQuery{After: -1})
	require.NoError(t, err)
	require.Empty(t, page.Events, "live reads skip the past")
	require.Positive(t, page.Cursor)
	g := env.Create(t, nil)
	page, err = env.Agent.Events(ctx, hvagent.EventQuery{After: page.Cursor})
	require.NoError(t, err)
	require.NotEmpty(t, page.Events)
	for _, e := range page.Events {
		if e.Job != nil {
			require.Equal(t, g.ID, e.Job.GuestID)
		} else {
			require.Equal(t, g.ID, e.Guest.ID)
		}
	}
	require.Equal(t, page.Events[len(page.Events)-1].ID, page.Cursor)
}

// TestAgent_EventCursorZeroAfterPrune: cursor 0 is the live cursor of an
// empty log; a follower resuming from it after events were pruned gets a
// reset, not the retained events as though nothing was missed.
func TestAgent_EventCursorZeroAfterPrune(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	live, err := env.Agent.Events(ctx, hvagent.EventQuery{After: -1})
	require.NoError(t, err)
	require.Equal(t, int64(0), live.Cursor, "the live cursor of an empty log")

	env.Create(t, nil)
	env.Create(t, nil)
	require.NoError(t, env.Store.Prune(ctx, 1000, 2, time.Now()))
	page, err := env.Agent.Events(ctx, hvagent.EventQuery{After: live.Cursor})
	require.NoError(t, err)
	require.NotEmpty(t, page.Events)
	require.True(t, page.Reset, "events 1..%d were pruned", page.Events[0].ID-1)
}
