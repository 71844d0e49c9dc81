package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/store"
)

// The size of the scale benchmarks' store: 10,000 guests, 100,000 jobs
// (the default retention of events, 100,000, is full). HVAGENT_BENCH_SMALL
// (set by make test, which runs every benchmark once so that none rots)
// makes it 1,000 guests and 10,000 jobs.
func scaleSize() (guests, jobsPerGuest, events int) {
	if os.Getenv("HVAGENT_BENCH_SMALL") != "" {
		return 1_000, 10, 10_000
	}
	return 10_000, 10, 100_000
}

// scalePage is the page size of GET /guests in the scale benchmarks.
const scalePage = 1000

// scaleDaemon is an hvagentd process on a scale store.
type scaleDaemon struct {
	p    *proc
	addr string
	hc   *http.Client
}

// startScaleDaemon starts the hvagentd binary on dataDir (simulated
// driver, a job retention above the store's 100,000 jobs) and returns it
// once it logs that it listens, with the time that took.
func startScaleDaemon(b *testing.B, dataDir string) (*scaleDaemon, time.Duration) {
	b.Helper()
	bin := binary(b, "hvagentd") // built before the clock starts
	began := time.Now()
	p, _ := startProc(b, bin, "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--config", simConfig, "--max-logged-jobs", "1000000")
	for {
		entry, ok := p.stderr.find(func(e map[string]any) bool { return e["message"] == "listening" && e["listener"] == "tcp" })
		if ok {
			addr, _ := entry["addr"].(string)
			return &scaleDaemon{p: p, addr: addr, hc: httpClient(b)}, time.Since(began)
		}
		select {
		case <-p.exited:
			require.FailNow(b, "hvagentd exited", "%v: %s", p.err, p.stderr.String())
		case <-time.After(time.Millisecond):
		}
		require.Less(b, time.Since(began), time.Minute, "hvagentd did not listen: %s", p.stderr.String())
	}
}

// stop ends the daemon with SIGTERM and requires a clean exit.
func (d *scaleDaemon) stop(b *testing.B) {
	d.hc.CloseIdleConnections()
	require.Equal(b, 0, d.p.signal(b, syscall.SIGTERM), d.p.stderr.String())
}

// get sends a GET of path, requires a 200 and decodes the body into v; it
// returns the time from sending to the end of the body (decoding excluded).
func (d *scaleDaemon) get(b *testing.B, path string, v any) time.Duration {
	began := time.Now()
	resp, err := d.hc.Get("http://" + d.addr + path)
	require.NoError(b, err)
	body, err := io.ReadAll(resp.Body)
	took := time.Since(began)
	require.NoError(b, resp.Body.Close())
	require.NoError(b, err)
	require.Equal(b, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
	require.NoError(b, json.Unmarshal(body, v))
	return took
}

// walkGuests reads every page of GET /guests and returns the guests seen.
func (d *scaleDaemon) walkGuests(b *testing.B) int {
	n := 0
	d.walk(b, func(page []hvagent.Guest, _ string) { n += len(page) })
	return n
}

// fullPages returns the after= cursor of each page of GET /guests that
// holds scalePage guests.
func (d *scaleDaemon) fullPages(b *testing.B) []string {
	var cursors []string
	d.walk(b, func(page []hvagent.Guest, after string) {
		if len(page) == scalePage {
			cursors = append(cursors, after)
		}
	})
	require.NotEmpty(b, cursors, "no full page of guests")
	return cursors
}

// walk calls fn with each page of GET /guests and its after= cursor.
func (d *scaleDaemon) walk(b *testing.B, fn func(page []hvagent.Guest, after string)) {
	after := ""
	for {
		var page []hvagent.Guest
		d.get(b, guestsPath(after), &page)
		fn(page, after)
		if len(page) < scalePage {
			return
		}
		after = page[len(page)-1].ID
	}
}

// guestsPath is the path of the page of guests after the guest after.
func guestsPath(after string) string {
	q := url.Values{"limit": {strconv.Itoa(scalePage)}}
	if after != "" {
		q.Set("after", after)
	}
	return "/guests?" + q.Encode()
}

// BenchmarkScale runs hvagentd (the built binary, simulated driver) on a
// store filled by direct inserts with 10,000 guests and 100,000 finished
// jobs. Startup measures the start-up and memory; the others the API's
// reads over a kept-alive loopback connection, p50 and p99.
func BenchmarkScale(b *testing.B) {
	guests, perGuest, events := scaleSize()
	binary(b, "hvagentd") // built before any round is timed
	full := tempDir(b)
	s := fillScaleStore(b, full, guests, perGuest, events)
	b.Run("Startup", func(b *testing.B) { benchScaleStartup(b, full, guests) })
	d, _ := startScaleDaemon(b, full)
	defer d.stop(b)
	rng := rand.New(rand.NewPCG(1, 2))
	pages := d.fullPages(b)
	b.Run("GuestsPage", func(b *testing.B) {
		var took []time.Duration
		for i := 0; b.Loop(); i++ {
			var page []hvagent.Guest
			took = append(took, d.get(b, guestsPath(pages[i%len(pages)]), &page))
			require.Len(b, page, scalePage)
		}
		reportMillis(b, took)
	})
	b.Run("JobsByGuest", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			var jobs []hvagent.Job
			took = append(took, d.get(b, "/jobs?guest="+s.guests[rng.IntN(len(s.guests))], &jobs))
			require.Len(b, jobs, perGuest)
		}
		reportMillis(b, took)
	})
	b.Run("JobGet", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			var job hvagent.Job
			id := s.jobs[rng.IntN(len(s.jobs))]
			took = append(took, d.get(b, "/jobs/"+id, &job))
			require.Equal(b, id, job.ID)
		}
		reportMillis(b, took)
	})
}

// benchScaleStartup starts hvagentd on the full store and, as the
// reference, on an empty one, in alternating rounds. Each start is timed
// from exec to the "listening" log line; after it the client walks every
// page of guests, then the daemon's VmHWM (its peak RSS) is read and the
// daemon is stopped.
func benchScaleStartup(b *testing.B, full string, guests int) {
	empty := tempDir(b)
	db, err := store.Open(filepath.Join(empty, "hvagent.db"), store.Options{})
	require.NoError(b, err)
	require.NoError(b, db.Close())
	var fullUp, emptyUp []time.Duration
	var fullHWM, emptyHWM int64
	round := func(dir string, want int, up *[]time.Duration, hwm *int64) {
		d, took := startScaleDaemon(b, dir)
		*up = append(*up, took)
		require.Equal(b, want, d.walkGuests(b))
		*hwm = max(*hwm, mustStatusKB(b, d.p.cmd.Process.Pid, "VmHWM"))
		d.stop(b)
	}
	for b.Loop() {
		round(full, guests, &fullUp, &fullHWM)
		round(empty, 0, &emptyUp, &emptyHWM)
	}
	b.ReportMetric(ms(median(fullUp)), "startup-ms")
	b.ReportMetric(ms(median(emptyUp)), "empty-startup-ms")
	b.ReportMetric(float64(fullHWM)/1024, "rss-MiB")
	b.ReportMetric(float64(emptyHWM)/1024, "empty-rss-MiB")
}

// reportMillis reports the 50th and 99th percentiles of took in ms.
func reportMillis(b *testing.B, took []time.Duration) {
	b.ReportMetric(ms(percentile(took, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(took, 0.99)), "p99-ms")
}

// percentile returns the p-th percentile (0 ≤ p ≤ 1) of d, sorting it.
func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(p*float64(len(d)-1))]
}
