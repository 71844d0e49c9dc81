package main

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestProcess_KillWithQueuedJobs(t *testing.T) {
	t.Parallel()
	const guests, perGuest = 2, 50
	dir := tempDir(t)
	_, simAddr := startListening(t, binary(t, "hvagentd"), "subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "50ms")
	config := simURLConfig(t, dir, simAddr)
	p, addr := startDaemonProc(t, dir, "--config", config)
	c := newClient(t, addr)
	ctx := context.Background()

	var ids []string
	guestIDs := make([]string, guests)
	for i := range guestIDs {
		res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
		require.NoError(t, err)
		guestIDs[i] = res.Guest.ID
		ids = append(ids, res.Job.ID)
	}
	// 100 jobs, queued one after the other on two guests: about 2.5 s of
	// simulated work per guest.
	for n := range perGuest {
		action := hvagent.ActionStart
		if n%2 == 1 {
			action = hvagent.ActionPoweroff
		}
		for _, g := range guestIDs {
			res, err := c.Do(ctx, action, g, hvagent.Request{})
			require.NoError(t, err)
			ids = append(ids, res.Job.ID)
		}
	}
	jobs, err := c.Jobs(ctx, hvagent.JobFilter{})
	require.NoError(t, err)
	pending := 0
	for _, j := range jobs {
		if !j.Status.Final() {
			pending++
		}
	}
	require.Greater(t, pending, 20, "most jobs must still be queued when hvagentd is killed")
	c.CloseIdleConnections()
	require.Equal(t, -1, p.signal(t, syscall.SIGKILL))

	// After a restart every accepted job ends, none lost, none doubled.
	_, addr = startDaemonProc(t, dir, "--config", config)
	c = newClient(t, addr)
	for _, id := range ids {
		job := waitJob(t, c, id)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s %s: %s", job.Action, id, job.Message)
	}
	jobs, err = c.Jobs(ctx, hvagent.JobFilter{})
	require.NoError(t, err)
	require.Len(t, jobs, len(ids))
	t.Logf("%d of %d jobs were pending at the kill", pending, len(ids))
}
