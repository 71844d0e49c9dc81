package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/servicetest"
)

// Fixed IDs of the tests.
const (
	guestID = "0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10"
	jobID   = "5e2f7a1c-8b4d-4c3e-9f6a-1d2b3c4e5f60"
)

// bundle is one test's fake agent, factory and buffers.
type bundle struct {
	fake   *servicetest.Fake
	f      *Factory
	in     *bytes.Buffer
	out    *bytes.Buffer
	errOut *bytes.Buffer
	local  bool
}

// setup returns a bundle whose Factory serves fake.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{fake: &servicetest.Fake{}, in: &bytes.Buffer{}, out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	b.f = &Factory{
		IO:      &IOStreams{In: b.in, Out: b.out, ErrOut: b.errOut},
		Service: func() (hvagent.Service, error) { return b.fake, nil },
		Local:   func() bool { return b.local },
	}
	return b
}

// base returns a cmdBase on the bundle, for run tests.
func (b *bundle) base(t *testing.T) cmdBase {
	return cmdBase{IO: b.f.IO, Service: b.f.Service, ctx: t.Context()}
}

// run runs hvctl with args against the fake and returns the exit code.
func (b *bundle) run(ctx context.Context, args ...string) int {
	root := newRootCmd(b.f, nil)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(b.errOut, cmd, err)
}

// parse runs cmd alone with args (its runF captures the options) and
// returns its error.
func parse(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	_, err := cmd.ExecuteC()
	return err
}

// capture returns a runF that stores the options it is given.
func capture[T any](got **T) func(*T) error {
	return func(o *T) error {
		*got = o
		return nil
	}
}

// requireUsage requires err to be a usage error whose message contains msg.
func requireUsage(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, exitUsage, exitCode(err), "%v", err)
	require.Contains(t, err.Error(), msg)
}

// newJob returns a job of action on the test guest in status s.
func newJob(action string, s hvagent.JobStatus) *hvagent.Job {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &hvagent.Job{ID: jobID, GuestID: guestID, Action: action, Status: s, QueuedAt: at}
}

// acceptJob makes the fake's Do queue job, recording the call.
func (b *bundle) acceptJob(job *hvagent.Job, calls *[]doCall) {
	b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
		if calls != nil {
			*calls = append(*calls, doCall{action, guest, req})
		}
		return &hvagent.Result{Job: job}, nil
	}
}

// doCall is one call of the fake's Do.
type doCall struct {
	action, guest string
	req           hvagent.Request
}

// finishWith makes the fake's WaitJob return job, ended with status s.
func (b *bundle) finishWith(job *hvagent.Job, s hvagent.JobStatus, msg string) {
	b.fake.WaitJobFunc = func(context.Context, string) (*hvagent.Job, error) {
		j := *job
		j.Status, j.Message = s, msg
		return &j, nil
	}
}
