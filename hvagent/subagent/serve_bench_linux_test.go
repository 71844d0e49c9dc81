package subagent_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// streamBenchMB is the size of BenchmarkServeStream's stream.
const streamBenchMB = 64

// processCPU is the CPU time (user and system) the process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeStream streams 64 MiB from memory, served by Serve, to a
// client on this host that reads it like BenchmarkSnapshotDownload's
// (io.Copy to io.Discard) over a kept-alive connection. It reports the
// throughput and the CPU time the process (sub-agent and client) used
// per GiB.
func BenchmarkServeStream(b *testing.B) {
	size := int64(streamBenchMB) << 20
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		buf := make([]byte, 1<<20)
		for range streamBenchMB {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- subagent.Serve(ctx, ln, h, nil) }()
	b.Cleanup(func() { cancel(); <-done })
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/"
	var cpu time.Duration
	t0 := time.Now()
	rounds := 0
	for b.Loop() {
		c0 := processCPU(b)
		resp, err := hc.Get(url)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(b, resp.Body.Close())
		require.NoError(b, err)
		require.Equal(b, size, n)
		cpu += processCPU(b) - c0
		rounds++
	}
	took := time.Since(t0)
	gib := float64(rounds) * float64(size) / (1 << 30)
	b.ReportMetric(float64(cpu.Milliseconds())/gib, "cpu-ms/GiB")
	b.ReportMetric(float64(rounds)*float64(size)/1e6/took.Seconds(), "MB/s")
}
