package qemu_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/qemu"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// config is an agent configuration with only the QEMU driver's actions.
func config() *hvagent.Config {
	return &hvagent.Config{Services: qemu.Services(), Actions: qemu.Actions()}
}

func TestActions(t *testing.T) {
	t.Parallel()
	cfg := config()
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	parsed, err := hvagent.ParseConfig(data)
	require.NoError(t, err)
	require.NoError(t, parsed.Validate())

	d, err := qemu.New(t.Context(), qemu.Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	rpc := subagent.NewInProcess(d.Handler())
	t.Cleanup(func() { require.NoError(t, rpc.Close()) })

	for _, base := range []string{"create", "delete", "start", "shutdown", "reboot", "restart", "poweroff", "suspend", "resume", "cpuMetrics", "diskMetrics", "nicMetrics", "console"} {
		a, ok := cfg.Actions[base]
		require.True(t, ok, "action %s is wired", base)
		require.Len(t, a.Stages, 1)
		svc := cfg.Services[a.Stages[0].Service]
		require.Equal(t, "qemu", svc.Builtin, base)
		if kind, _ := hvagent.KindOf(base); kind == hvagent.Stream {
			require.Equal(t, qemu.ConsolePath, svc.Path)
			continue
		}
		// The method exists: a call without a guest fails on the guest,
		// not on the method name.
		c := subagent.NewClient(subagent.ClientConfig{URL: "http://qemu" + subagent.RPCPath, HTTPClient: rpc.HTTPClient()})
		err := c.Call(t.Context(), a.Stages[0].Method, struct{}{}, &struct{}{})
		require.ErrorContains(t, err, "invalid guest: the request has no guest", base)
	}
	require.NotContains(t, cfg.Actions, "containerStart", "containers are not the QEMU driver's")
}

// TestAgent runs the QEMU driver under a real agent: the wiring of Actions
// and Services, the guest the driver returns stored by the agent, and the
// console stream.
func TestAgent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := qemu.New(t.Context(), qemu.Options{DataDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	cfg := config()
	cfg.Builtins = map[string]http.Handler{"qemu": d.Handler()}
	env := agenttest.New(t, agenttest.Opts{Config: cfg, Dir: dir})

	g := env.Create(t, &hvagent.Guest{Memory: 32, CPU: 1})
	require.Equal(t, qemu.StateShutoff, g.State)
	t.Cleanup(func() { _, _ = d.Poweroff(context.Background(), g) })

	run := func(action string) *hvagent.Guest {
		t.Helper()
		res := env.Do(t, action, g.ID, hvagent.Request{})
		job := env.Wait(t, res.Job.ID)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s: %s", action, job.Message)
		got, err := env.Agent.Guest(t.Context(), g.ID)
		require.NoError(t, err)
		return got
	}
	require.Equal(t, qemu.StateRunning, run("start").State)
	require.Equal(t, qemu.StatePaused, run("suspend").State)
	require.Equal(t, qemu.StateRunning, run("resume").State)

	res, err := env.Agent.Do(t.Context(), hvagent.ActionCPUMetrics, g.ID, hvagent.Request{})
	require.NoError(t, err)
	require.Contains(t, string(res.Body), `"cpu_time"`)

	res, err = env.Agent.Do(t.Context(), hvagent.ActionConsole, g.ID, hvagent.Request{})
	require.NoError(t, err)
	_, err = io.ReadAll(res.Stream)
	require.NoError(t, res.Stream.Close())
	require.NoError(t, err)

	// A wrong state fails the job with the driver's message.
	require.Equal(t, qemu.StateShutoff, run("poweroff").State)
	res = env.Do(t, "reboot", g.ID, hvagent.Request{})
	job := env.Wait(t, res.Job.ID)
	require.Equal(t, hvagent.JobError, job.Status)
	require.Contains(t, job.Message, "is not running (state shutoff)")
	require.Equal(t, hvagent.ECONFLICT, job.Error, "a wrong state is a conflict")

	res = env.Do(t, "delete", g.ID, hvagent.Request{})
	require.Equal(t, hvagent.JobComplete, env.Wait(t, res.Job.ID).Status)
	require.Eventually(t, func() bool {
		_, err := env.Agent.Guest(t.Context(), g.ID)
		return err != nil && strings.Contains(err.Error(), "not found")
	}, 10*time.Second, 20*time.Millisecond)
}
