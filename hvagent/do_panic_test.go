package hvagent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// panicEnqueueStore panics in EnqueueClaim once, when armed.
type panicEnqueueStore struct {
	hvagent.Store
	armed *atomic.Bool
}

func (s panicEnqueueStore) EnqueueClaim(ctx context.Context, n hvagent.NewJob, o hvagent.ClaimOptions) (*hvagent.Job, *hvagent.Claim, error) {
	if s.armed.CompareAndSwap(true, false) {
		panic("store bug")
	}
	return s.Store.EnqueueClaim(ctx, n, o)
}

// TestAgent_PanicInEnqueueReleasesTheWorker: a store that panics while Do
// holds the queue's worker (a panic the REST front recovers) leaves the
// guest's queue working and Stop able to end.
func TestAgent_PanicInEnqueueReleasesTheWorker(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	env := agenttest.New(t, agenttest.Opts{WrapStore: func(db *store.DB) hvagent.Store {
		return panicEnqueueStore{Store: db, armed: &armed}
	}})
	g := env.Create(t, nil)
	armed.Store(true)
	require.Panics(t, func() { _, _ = env.Agent.Do(context.Background(), hvagent.ActionStart, g.ID, hvagent.Request{}) })

	next := env.Do(t, hvagent.ActionShutdown, g.ID, hvagent.Request{}).Job
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := env.Agent.WaitJob(ctx, next.ID)
	require.NoError(t, err, "the guest's next job never ran")
	require.Equal(t, hvagent.JobComplete, j.Status)

	stopped := make(chan error, 1)
	hard, stop := context.WithCancel(context.Background())
	stop()
	go func() { stopped <- env.Agent.Stop(hard) }()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Stop did not return: the guest's worker is held")
	}
}
