// Package servicetest is the conformance suite of hvagent.Service: Run
// drives the same cases against every implementation (the in-process
// *hvagent.Agent and the REST *rest.Client over rest.NewHandler), so
// that both mean the same and return the same error codes. It also holds
// Fake, a function-field Service for tests of the Service's callers.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// NewServiceFunc returns the Service under test, backed by a fresh agent on
// the simulation: env gives the suite access to that agent's store and
// simulation for setup and fault injection. Everything it starts must be
// cleaned up with t.
type NewServiceFunc func(t *testing.T) (hvagent.Service, *agenttest.Env)

// waitTimeout bounds every wait for a job of the suite.
const waitTimeout = 30 * time.Second

// bundle is what each case gets: the Service under test and its agent.
type bundle struct {
	svc hvagent.Service
	env *agenttest.Env
}

// Run runs every conformance case as a parallel subtest, each on its own
// Service from newService.
func Run(t *testing.T, newService NewServiceFunc) {
	t.Helper()
	cases := []struct {
		name string
		run  func(*testing.T, *bundle)
	}{
		{"Create", testCreate},
		{"CreateErrors", testCreateErrors},
		{"GuestActions", testGuestActions},
		{"GuestsPagination", testGuestsPagination},
		{"Names", testNames},
		{"Metadata", testMetadata},
		{"GuestMetadata", testGuestMetadata},
		{"Jobs", testJobs},
		{"CancelJob", testCancelJob},
		{"WaitJob", testWaitJob},
		{"Metrics", testMetrics},
		{"Snapshots", testSnapshots},
		{"DiskSnapshots", testDiskSnapshots},
		{"Images", testImages},
		{"Console", testConsole},
		{"DryRun", testDryRun},
		{"Idempotency", testIdempotency},
		{"IdempotencyGuestGone", testIdempotencyGuestGone},
		{"Events", testEvents},
		{"EventsLive", testEventsLive},
		{"PauseResume", testPauseResume},
		{"Health", testHealth},
		{"NotFound", testNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, env := newService(t)
			tc.run(t, &bundle{svc: svc, env: env})
		})
	}
}

// newGuest is a small valid guest.
func newGuest() *hvagent.Guest {
	return &hvagent.Guest{Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}}
}

// create creates g (a default guest when nil) through the Service and
// waits for it to be defined.
func (b *bundle) create(t *testing.T, g *hvagent.Guest) *hvagent.Guest {
	t.Helper()
	if g == nil {
		g = newGuest()
	}
	res := b.do(t, hvagent.ActionCreate, "", hvagent.Request{Guest: g})
	b.complete(t, res.Job.ID)
	got, err := b.svc.Guest(t.Context(), res.Guest.ID)
	require.NoError(t, err)
	return got
}

// do runs an action and requires it to be accepted.
func (b *bundle) do(t *testing.T, action, guest string, req hvagent.Request) *hvagent.Result {
	t.Helper()
	res, err := b.svc.Do(t.Context(), action, guest, req)
	require.NoError(t, err, "%s %s", action, guest)
	require.NotNil(t, res)
	return res
}

// wait waits for a job to be final and returns it.
func (b *bundle) wait(t *testing.T, id string) *hvagent.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	job, err := b.svc.WaitJob(ctx, id)
	require.NoError(t, err)
	require.True(t, job.Status.Final(), "job %s is %s", id, job.Status)
	return job
}

// complete waits for a job and requires it to have succeeded.
func (b *bundle) complete(t *testing.T, id string) *hvagent.Job {
	t.Helper()
	job := b.wait(t, id)
	require.Equal(t, hvagent.JobComplete, job.Status, "%s: %s", job.Action, job.Message)
	return job
}

// run does an async action and waits for it to succeed.
func (b *bundle) run(t *testing.T, action, guest string, req hvagent.Request) *hvagent.Job {
	t.Helper()
	res := b.do(t, action, guest, req)
	require.NotNil(t, res.Job, action)
	return b.complete(t, res.Job.ID)
}

// requireCode requires err to carry code.
func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, hvagent.ErrorCode(err), "error: %v", err)
}
