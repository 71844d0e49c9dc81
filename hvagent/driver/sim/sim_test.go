package sim_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const guestID = "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testBundle struct {
	driver *sim.Driver
	clock  *clock
	url    string
	client *subagent.Client
}

// setup serves a fresh simulation over HTTP.
func setup(t *testing.T, opts sim.Options) *testBundle {
	t.Helper()
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	d := sim.New(opts)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{
		driver: d,
		clock:  clk,
		url:    srv.URL,
		client: subagent.NewClient(subagent.ClientConfig{URL: srv.URL + subagent.RPCPath, Timeout: 10 * time.Second}),
	}
}

// call calls method with req and decodes the result into a fresh Resp.
func call[Resp any](t *testing.T, b *testBundle, method string, req any) (*Resp, error) {
	t.Helper()
	return callCtx[Resp](context.Background(), b, method, req)
}

func callCtx[Resp any](ctx context.Context, b *testBundle, method string, req any) (*Resp, error) {
	var resp Resp
	if err := b.client.Call(ctx, method, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// guestCall runs a guest method on g and returns the echoed guest.
func guestCall(t *testing.T, b *testBundle, method string, g *subagent.Guest) (*subagent.Guest, error) {
	t.Helper()
	resp, err := call[subagent.GuestResponse](t, b, method, &subagent.GuestRequest{Guest: g, Action: "test"})
	if err != nil {
		return nil, err
	}
	require.NotNil(t, resp.Guest)
	return resp.Guest, nil
}

// methodError returns the sub-agent's error text of a failed call.
func methodError(t *testing.T, err error) string {
	t.Helper()
	var ce *subagent.CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, subagent.KindMethod, ce.Kind, "error: %v", err)
	return ce.Message
}

func TestDriver_Options(t *testing.T) {
	t.Parallel()

	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{Latency: 50 * time.Millisecond})
		start := time.Now()
		_, err := guestCall(t, b, "Sim.Start", &subagent.Guest{ID: guestID})
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	})

	t.Run("LatencyHonoursCancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{Latency: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := callCtx[subagent.GuestResponse](ctx, b, "Sim.Start", &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 10*time.Second)
		// The call started (and is logged) but never changed the guest.
		require.Eventually(t, func() bool { return len(b.driver.Log()) == 1 }, 5*time.Second, 10*time.Millisecond)
		g, ok := b.driver.Guest(guestID)
		require.False(t, ok, "guest %+v", g)
	})

	t.Run("FailureRate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{FailureRate: 1})
		_, err := guestCall(t, b, "Sim.Start", &subagent.Guest{ID: guestID})
		require.Equal(t, "simulated failure", methodError(t, err))
	})

	t.Run("FailNext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Options{})
		b.driver.FailNext("Sim.Start", "disk on fire")
		b.driver.FailNext("Sim.Start", "still on fire")
		g := &subagent.Guest{ID: guestID, State: sim.StateShutoff}

		_, err := guestCall(t, b, "Sim.Shutdown", g)
		require.NoError(t, err, "other methods are unaffected")
		_, err = guestCall(t, b, "Sim.Start", g)
		require.Equal(t, "disk on fire", methodError(t, err))
		_, err = guestCall(t, b, "Sim.Start", g)
		require.Equal(t, "still on fire", methodError(t, err))
		got, err := guestCall(t, b, "Sim.Start", g)
		require.NoError(t, err)
		require.Equal(t, sim.StateRunning, got.State)
	})
}

func TestDriver_Log(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	g := &subagent.Guest{ID: guestID}

	_, err := guestCall(t, b, "Sim.CreateGuest", g)
	require.NoError(t, err)
	ctx := subagent.WithCall(context.Background(), "job-1", 2)
	_, err = callCtx[subagent.GuestResponse](ctx, b, "Sim.Start", &subagent.GuestRequest{Guest: g})
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	_, err = call[subagent.ImageResponse](t, b, "Sim.ListImages", &subagent.ImageRequest{})
	require.NoError(t, err)
	b.driver.FailNext("Sim.Reboot", "boom")
	_, err = callCtx[subagent.GuestResponse](ctx, b, "Sim.Reboot", &subagent.GuestRequest{Guest: g})
	require.Error(t, err)

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.Equal(t, []sim.Call{
		{Method: "Sim.CreateGuest", GuestID: guestID, At: t0},
		{JobID: "job-1", Attempt: 2, Method: "Sim.Start", GuestID: guestID, At: t0},
		{Method: "Sim.ListImages", At: t0.Add(time.Minute)},
		{JobID: "job-1", Attempt: 2, Method: "Sim.Reboot", GuestID: guestID, At: t0.Add(time.Minute)},
	}, b.driver.Log())
}

func TestDriver_FailureRateStatistics(t *testing.T) {
	t.Parallel()
	const calls, rate = 400, 0.3
	run := func(seed int64) []bool {
		b := setup(t, sim.Options{FailureRate: rate, Seed: seed})
		failed := make([]bool, calls)
		for i := range failed {
			_, err := call[subagent.ImageResponse](t, b, "Sim.ListImages", &subagent.ImageRequest{})
			if err != nil {
				require.Equal(t, "simulated failure", methodError(t, err))
				failed[i] = true
			}
		}
		return failed
	}
	first := run(42)
	n := 0
	for _, f := range first {
		if f {
			n++
		}
	}
	// 400 draws at p=0.3: mean 120, standard deviation about 9.2.
	require.InDelta(t, calls*rate, n, 40)
	require.Equal(t, first, run(42), "the same seed gives the same failures")
	require.NotEqual(t, first, run(43), "another seed gives other failures")
}

func TestDriver_InvalidGuest(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	for _, method := range []string{"Sim.CreateGuest", "Sim.Start", "Sim.Delete", "Sim.Reboot"} {
		_, err := guestCall(t, b, method, nil)
		require.Equal(t, "invalid guest", methodError(t, err), method)
		_, err = guestCall(t, b, method, &subagent.Guest{})
		require.Equal(t, "invalid guest", methodError(t, err), method)
	}
	_, err := call[subagent.GuestMetricsResponse](t, b, "Sim.CPUMetrics", &subagent.GuestMetricsRequest{Type: "cpu"})
	require.Equal(t, "invalid guest", methodError(t, err))
}
