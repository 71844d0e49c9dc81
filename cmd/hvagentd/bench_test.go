package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// benchSnapshotMB is the size of the snapshot the stream benchmarks download.
const benchSnapshotMB = 64

// benchEnv is an in-process hvagentd whose services are a sim served over
// HTTP, with a running guest and a snapshot of it.
type benchEnv struct {
	daemon   *daemon
	client   *rest.Client // to the daemon over TCP
	rpc      *subagent.Client
	download *subagent.Client
	guest    *hvagent.Guest
	snapshot string // the snapshot's name

	subagentAddr string // the sub-agent's host:port
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	// Downloads come from memory rather than from the sim's byte
	// generator, so that the source does not bound the throughput.
	mux := http.NewServeMux()
	mux.Handle("/", sim.New(sim.Options{}).Handler())
	mux.HandleFunc("POST "+sim.DownloadPath, serveBenchDownload)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	cfg := sim.Config()
	for name, s := range cfg.Services {
		s.Builtin, s.URL = "", srv.URL
		cfg.Services[name] = s
	}
	act := cfg.Actions[hvagent.ActionCreateSnapshot]
	act.Stages[0].Args = map[string]string{"size": strconv.Itoa(benchSnapshotMB)}
	cfg.Actions[hvagent.ActionCreateSnapshot] = act
	data, err := json.Marshal(cfg)
	require.NoError(b, err)
	dir := tempDir(b)
	path := filepath.Join(dir, "bench.json")
	require.NoError(b, os.WriteFile(path, data, 0o600))
	d := startDaemon(b, "--config", path, "--log-level", "error")

	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	e := &benchEnv{
		daemon:   d,
		client:   newClient(b, d.TCPAddr()),
		rpc:      subagent.NewClient(subagent.ClientConfig{URL: srv.URL + subagent.RPCPath, HTTPClient: hc}),
		download: subagent.NewClient(subagent.ClientConfig{URL: srv.URL + sim.DownloadPath, HTTPClient: hc}),
		snapshot: "bench",
	}
	e.subagentAddr = srv.Listener.Addr().String()
	ctx := context.Background()
	res, err := e.client.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 256, CPU: 1}})
	require.NoError(b, err)
	require.Equal(b, hvagent.JobComplete, waitJob(b, e.client, res.Job.ID).Status)
	for _, action := range []string{hvagent.ActionStart, hvagent.ActionCreateSnapshot} {
		r, err := e.client.Do(ctx, action, res.Guest.ID, hvagent.Request{Snapshot: e.snapshot})
		require.NoError(b, err)
		require.Equal(b, hvagent.JobComplete, waitJob(b, e.client, r.Job.ID).Status)
	}
	e.guest, err = e.client.Guest(ctx, res.Guest.ID)
	require.NoError(b, err)
	return e
}

// serveBenchDownload answers every download with benchSnapshotMB MiB of
// zeros, with Content-Length.
func serveBenchDownload(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(benchSnapshotMB<<20))
	buf := make([]byte, 1<<20)
	for range benchSnapshotMB {
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

// BenchmarkSnapshotDownload compares streaming a 64 MiB snapshot through
// hvagentd (REST client over loopback TCP → handler → agent → sub-agent
// over TCP) with downloading it from the sub-agent directly (the sub-agent
// serves it from memory). Each round does both, alternating which goes
// first. It reports the medians of both throughputs and of the rounds'
// ratios (through hvagentd / direct; target ≥ 0.9), and the CPU time the
// process (client, hvagentd and sub-agent all run in it) used per GiB on
// each side: what each path costs, whatever the load of the machine.
func BenchmarkSnapshotDownload(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	size := int64(benchSnapshotMB) << 20
	copyAll := func(r io.ReadCloser) {
		n, err := io.Copy(io.Discard, r)
		_ = r.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
	}
	var cpuDaemon, cpuDirect time.Duration
	daemon := func() time.Duration {
		c0 := benchkit.CPUTime(b)
		defer func() { cpuDaemon += benchkit.CPUTime(b) - c0 }()
		t0 := time.Now()
		res, err := e.client.Do(ctx, hvagent.ActionDownloadSnapshot, e.guest.ID, hvagent.Request{Snapshot: e.snapshot})
		if err != nil {
			b.Fatalf("download through hvagentd: %v", err)
		}
		copyAll(res.Stream)
		return time.Since(t0)
	}
	req := &subagent.SnapshotRequest{ID: "guests/" + e.guest.ID + "@" + e.snapshot}
	direct := func() time.Duration {
		c0 := benchkit.CPUTime(b)
		defer func() { cpuDirect += benchkit.CPUTime(b) - c0 }()
		t0 := time.Now()
		r, _, err := e.download.Stream(ctx, req)
		if err != nil {
			b.Fatalf("download: %v", err)
		}
		copyAll(r)
		return time.Since(t0)
	}
	var td, tr []time.Duration
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		var d, r time.Duration
		if i%2 == 0 {
			d, r = daemon(), direct()
		} else {
			r, d = direct(), daemon()
		}
		td, tr, ratios = append(td, d), append(tr, r), append(ratios, float64(r)/float64(d))
	}
	b.ReportMetric(mbps(size, median(td)), "daemon-MB/s")
	b.ReportMetric(mbps(size, median(tr)), "direct-MB/s")
	b.ReportMetric(medianRatio(ratios), "ratio")
	gib := float64(len(td)) * float64(size) / (1 << 30)
	b.ReportMetric(float64(cpuDaemon.Milliseconds())/gib, "daemon-cpu-ms/GiB")
	b.ReportMetric(float64(cpuDirect.Milliseconds())/gib, "direct-cpu-ms/GiB")
}
