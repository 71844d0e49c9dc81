// Package agenttest builds real agents for tests: a SQLite store in a temp
// dir and the simulated driver, started and cleaned up with the test.
package agenttest

import (
	"context"
	"io"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/hvagent/metrics"
	"github.com/hvagent/hvagent/hvagent/store"
)

// Opts tunes an agent built by New. Nil or zero fields take defaults.
type Opts struct {
	// Sim configures the simulated driver.
	Sim sim.Options
	// Config, when set, is used instead of sim.Config(); Builtins["sim"]
	// is added for it.
	Config *hvagent.Config
	// Dir is the data dir; default t.TempDir().
	Dir string
	// NoStart leaves the agent unstarted.
	NoStart bool
	// Log, when set, also receives the agent's log (warn level and above).
	Log io.Writer
	// Logger, when set, is the agent's only logger (Log is then ignored):
	// for a fuzz target, whose *testing.F may not be logged to while the
	// fuzz function runs.
	Logger *zerolog.Logger
	// WrapStore, when set, returns the Store the agent uses instead of db
	// itself: typically a *Store wrapping db to inject failures.
	WrapStore func(db *store.DB) hvagent.Store
}

// TestHost is the host the agents of New have unless their Config says
// otherwise, whatever the machine: guests may ask for up to 8 CPUs and
// 32 GiB, so that tests ask the same of every machine.
var TestHost = hvagent.HostResources{CPUs: 8, MemoryMB: 32 << 10}

// Env is a running agent with its store and simulation.
type Env struct {
	Agent *hvagent.Agent
	Store *store.DB
	Sim   *sim.Driver
	Dir   string
	// Metrics observe the agent unless Opts.Config set its own Observer.
	Metrics *metrics.Metrics
}

// New returns a started agent on a fresh store, driven by the simulation,
// assembled by host.Open as hvagentd assembles its own.
// Everything is stopped and closed when the test ends.
func New(t testing.TB, o Opts) *Env {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	d := sim.New(o.Sim)
	cfg := o.Config
	if cfg == nil {
		cfg = sim.Config()
	}
	cfg.DataDir = o.Dir
	if cfg.Host == (hvagent.HostResources{}) {
		cfg.Host = TestHost
	}
	cfg.Logger = Logger(t)
	switch {
	case o.Logger != nil:
		cfg.Logger = *o.Logger
	case o.Log != nil:
		cfg.Logger = zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), o.Log)).Level(zerolog.WarnLevel)
	}
	m := metrics.New()
	if cfg.Observer == nil {
		cfg.Observer = m
	}
	builtins := map[string]http.Handler{}
	maps.Copy(builtins, cfg.Builtins)
	builtins["sim"] = d.Handler()
	opts := host.Options{Config: cfg, Builtins: builtins}
	if o.WrapStore != nil {
		opts.Wrap = o.WrapStore
	}
	h, err := host.Open(t.Context(), opts)
	require.NoError(t, err)
	env := &Env{Agent: h.Agent, Store: h.DB, Sim: d, Dir: o.Dir, Metrics: m}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace period, as Agent.Close
		require.NoError(t, h.Close(ctx))
	})
	if !o.NoStart {
		require.NoError(t, h.Start(context.Background()))
	}
	return env
}

// Logger logs to the test at warn level and above.
func Logger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// Create creates a guest and waits for its create job to complete.
func (e *Env) Create(t testing.TB, g *hvagent.Guest) *hvagent.Guest {
	t.Helper()
	if g == nil {
		g = &hvagent.Guest{Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}}
	}
	res, err := e.Agent.Do(context.Background(), hvagent.ActionCreate, "", hvagent.Request{Guest: g})
	require.NoError(t, err)
	job := e.Wait(t, res.Job.ID)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	got, err := e.Agent.Guest(context.Background(), res.Guest.ID)
	require.NoError(t, err)
	return got
}

// FetchImage fetches image id of type typ ("" for a disk image,
// "container") into the simulation and waits for the job to complete.
func (e *Env) FetchImage(t testing.TB, typ, id string) {
	t.Helper()
	res := e.Do(t, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: id, Type: typ}})
	job := e.Wait(t, res.Job.ID)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
}

// Do runs an action and requires it to be accepted.
func (e *Env) Do(t testing.TB, action, guest string, req hvagent.Request) *hvagent.Result {
	t.Helper()
	res, err := e.Agent.Do(context.Background(), action, guest, req)
	require.NoError(t, err)
	return res
}

// Wait waits up to 30 s for a job to end and returns it.
func (e *Env) Wait(t testing.TB, id string) *hvagent.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job, err := e.Agent.WaitJob(ctx, id)
	require.NoError(t, err)
	return job
}
