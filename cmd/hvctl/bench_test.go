package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// BenchmarkGuestRebootWait measures `hvctl guest reboot ID --wait` end to
// end — the hvctl binary started, its request over hvagentd's unix socket,
// the job run by the simulated driver (no latency), the wait, the output —
// against the same two calls (Do, then WaitJob) made by a REST client that
// is already running and connected, in alternating rounds. It reports the
// medians of both, added-ms (hvctl − client) and ratio = client / hvctl.
func BenchmarkGuestRebootWait(b *testing.B) {
	if e2eSkip != "" {
		b.Skip(e2eSkip)
	}
	dir := b.TempDir()
	d := startDaemon(b, dir)
	defer d.stop(b)
	c := rest.NewClient(rest.SocketAddr(dir))
	defer c.CloseIdleConnections()
	ctx := context.Background()
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 256, CPU: 1}})
	require.NoError(b, err)
	id := res.Guest.ID
	waitComplete(b, c, res.Job.ID)
	res, err = c.Do(ctx, hvagent.ActionStart, id, hvagent.Request{})
	require.NoError(b, err)
	waitComplete(b, c, res.Job.ID)

	at := []string{"--data-dir", filepath.Clean(dir)}
	var viaHvctl, viaClient []time.Duration
	for b.Loop() {
		began := time.Now()
		r := hvctlExec(b, append(at, "guest", "reboot", id, "--wait")...)
		viaHvctl = append(viaHvctl, time.Since(began))
		require.Equal(b, exitOK, r.code, r.errOut)

		began = time.Now()
		res, err := c.Do(ctx, hvagent.ActionReboot, id, hvagent.Request{})
		require.NoError(b, err)
		waitComplete(b, c, res.Job.ID)
		viaClient = append(viaClient, time.Since(began))
	}
	h, cl := medianOf(viaHvctl), medianOf(viaClient)
	b.ReportMetric(millis(h), "hvctl-ms")
	b.ReportMetric(millis(cl), "client-ms")
	b.ReportMetric(millis(h-cl), "added-ms")
	b.ReportMetric(cl.Seconds()/h.Seconds(), "ratio")
}

// waitComplete waits up to 30 s for job id and requires it Complete.
func waitComplete(b *testing.B, c *rest.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := c.WaitJob(ctx, id)
	require.NoError(b, err)
	require.Equal(b, hvagent.JobComplete, j.Status, j.Message)
}

// medianOf returns the median of d, sorting it.
func medianOf(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// millis is d in milliseconds.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
