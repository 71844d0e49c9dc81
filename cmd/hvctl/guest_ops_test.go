package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// metricsBodies are the fake's bodies of the metrics actions.
var metricsBodies = map[string]string{
	hvagent.ActionCPUMetrics:  `[{"cpu_time":1.5,"vcpu_time":1.25}]`,
	hvagent.ActionDiskMetrics: `{"vda":{"disk":"vda","read_ops":3,"read_bytes":2048,"write_ops":4,"write_bytes":1048576,"flush_ops":1}}`,
	hvagent.ActionNicMetrics:  `{"eth0":{"name":"eth0","rx_bytes":100,"rx_packets":2,"tx_bytes":300,"tx_packets":4,"rx_errors":1,"tx_drops":2}}`,
}

func TestGuestMetrics_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestMetricsOptions
	require.NoError(t, parse(newCmdGuestMetrics(b.f, capture(&got)), guestID, "disk", "nic"))
	require.Equal(t, guestID, got.ID)
	require.Equal(t, []string{"disk", "nic"}, got.Kinds)
	requireUsage(t, parse(newCmdGuestMetrics(b.f, capture(&got)), guestID, "gpu"), `unknown metrics kind "gpu"`)
	requireUsage(t, parse(newCmdGuestMetrics(b.f, capture(&got)), guestID, "-q"), "-q")
}

func TestGuestMetrics_Run(t *testing.T) {
	t.Parallel()
	setupMetrics := func(t *testing.T) *bundle {
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, guest string, _ hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, guestID, guest)
			return &hvagent.Result{Body: json.RawMessage(metricsBodies[action])}, nil
		}
		return b
	}
	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		b := setupMetrics(t)
		require.NoError(t, guestMetricsRun(&GuestMetricsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, ID: guestID}))
		out := b.out.String()
		require.Regexp(t, `(?m)^0\s+1.50s\s+1.25s$`, out)
		require.Regexp(t, `(?m)^vda\s+3\s+2.0 KiB\s+4\s+1.0 MiB\s+1$`, out)
		require.Regexp(t, `(?m)^eth0\s+100 B\s+2\s+300 B\s+4\s+1\s+2$`, out)
	})
	t.Run("JSONOneKind", func(t *testing.T) {
		t.Parallel()
		b := setupMetrics(t)
		require.NoError(t, guestMetricsRun(&GuestMetricsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}, ID: guestID, Kinds: []string{"cpu"}}))
		require.JSONEq(t, metricsBodies[hvagent.ActionCPUMetrics], b.out.String())
	})
	t.Run("JSONAll", func(t *testing.T) {
		t.Parallel()
		b := setupMetrics(t)
		require.NoError(t, guestMetricsRun(&GuestMetricsOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}, ID: guestID}))
		require.JSONEq(t, `{"cpu":`+metricsBodies[hvagent.ActionCPUMetrics]+`,"disk":`+metricsBodies[hvagent.ActionDiskMetrics]+
			`,"nic":`+metricsBodies[hvagent.ActionNicMetrics]+`}`, b.out.String())
	})
	t.Run("ErrSubagent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return nil, hvagent.Errorf(hvagent.ESUBAGENT, "libvirt is down")
		}
		require.Equal(t, exitError, b.run(t.Context(), "guest", "metrics", guestID))
		require.Equal(t, "hvctl: libvirt is down\n", b.errOut.String())
	})
}

func TestGuestConsole_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *GuestConsoleOptions
	require.NoError(t, parse(newCmdGuestConsole(b.f, capture(&got)), guestID, "-f"))
	require.Equal(t, guestID, got.ID)
	require.True(t, got.Follow)
	requireUsage(t, parse(newCmdGuestConsole(b.f, capture(&got))), "needs GUEST")
}

func TestGuestConsole_Run(t *testing.T) {
	t.Parallel()
	t.Run("Once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, _ string, _ hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionConsole, action)
			return &hvagent.Result{Stream: io.NopCloser(strings.NewReader("boot\nlogin:\n")), Size: -1}, nil
		}
		require.NoError(t, guestConsoleRun(&GuestConsoleOptions{cmdBase: b.base(t), ID: guestID}))
		require.Equal(t, "boot\nlogin:\n", b.out.String())
	})
	t.Run("FollowPrintsWhatIsNew", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		logs := []string{"line1\n", "line1\nline2\n", "line1\nline2\nline3\n"}
		var n atomic.Int32
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			i := int(n.Add(1)) - 1
			if i == len(logs)-1 {
				cancel()
			}
			return &hvagent.Result{Stream: io.NopCloser(strings.NewReader(logs[min(i, len(logs)-1)]))}, nil
		}
		opts := &GuestConsoleOptions{cmdBase: b.base(t), ID: guestID, Follow: true, retry: time.Millisecond}
		opts.ctx = ctx
		require.NoError(t, guestConsoleRun(opts), "Ctrl-C ends -f without an error")
		require.Equal(t, "line1\nline2\nline3\n", b.out.String())
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return nil, hvagent.Errorf(hvagent.ENOTFOUND, "guest not found")
		}
		require.Equal(t, exitNotFound, b.run(t.Context(), "guest", "console", guestID))
	})
}
