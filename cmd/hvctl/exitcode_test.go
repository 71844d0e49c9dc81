package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// TestExitCode_Jobs runs jobs that fail when they run on a real agent over
// REST: each exits by the error code the job recorded, and -q prints
// nothing on stdout for a failed job.
func TestExitCode_Jobs(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	a := newAPIServer(t, env)
	g := env.Create(t, nil) // shut off
	run := func(args ...string) (int, string, string) {
		t.Helper()
		out, errOut := &testio.Buffer{}, &testio.Buffer{}
		f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
			Service: func() (hvagent.Service, error) { return a, nil }}
		root := newRootCmd(f, nil)
		root.SetArgs(args)
		cmd, err := root.ExecuteContextC(t.Context())
		return report(errOut, cmd, err), out.String(), errOut.String()
	}

	code, out, errOut := run("guest", "reboot", g.ID, "--wait", "-q")
	require.Equal(t, exitConflict, code, "a wrong state: %s", errOut)
	require.Empty(t, out, "-q prints nothing for a failed job")
	require.Contains(t, errOut, "is not running (state shutoff)")

	code, out, errOut = run("snapshot", "delete", g.ID, "nope", "--wait", "-q")
	require.Equal(t, exitNotFound, code, "a missing snapshot: %s", errOut)
	require.Empty(t, out)

	env.Sim.FailNext("Sim.Start", "libvirt is down")
	code, out, errOut = run("guest", "start", g.ID, "--wait", "-o", "json")
	require.Equal(t, exitJobFailed, code, "an unclassified failure: %s", errOut)
	require.Contains(t, out, `"Error": "subagent"`, "without -q the failed job is printed")

	code, out, _ = run("guest", "start", g.ID, "--wait", "-q")
	require.Equal(t, exitOK, code)
	require.NotEmpty(t, out, "-q prints the job ID of a job that did not fail")

	jobs, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{GuestID: g.ID, Action: hvagent.ActionReboot})
	require.NoError(t, err)
	code, out, _ = run("job", "wait", jobs[0].ID, "-q")
	require.Equal(t, exitConflict, code, "job wait exits by the job's code too")
	require.Empty(t, out)
}

// newAPIServer serves env's agent over REST and returns a client for it.
func newAPIServer(t *testing.T, env *agenttest.Env) *rest.Client {
	t.Helper()
	srv := httptest.NewServer(rest.NewHandler(env.Agent, rest.HandlerOptions{Logger: agenttest.Logger(t)}))
	t.Cleanup(srv.Close)
	c := rest.NewClient(srv.URL)
	t.Cleanup(c.CloseIdleConnections)
	return c
}
