package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Target is one row of the targets table: a benchmark's metric against a
// bound. A benchmark may have several (one per metric).
type Target struct {
	// Bench is the benchmark's full name without the -GOMAXPROCS suffix,
	// e.g. "BenchmarkScale/Startup".
	Bench string
	// Metric is the unit the benchmark reports with b.ReportMetric, e.g.
	// "ratio", "added-ms", "p50-ms", "rss-MiB".
	Metric string
	// Cmp is how the measured median must compare with Value: one of
	// ">=", ">", "<=", "<".
	Cmp string
	// Value is the bound.
	Value float64
	// Measure says in words what the row measures.
	Measure string
	// Region is the BENCHMARKS.md region the row goes in; "" is
	// regionTargets.
	Region string
}

// Regions of BENCHMARKS.md the generator writes.
const (
	// regionTargets holds every row with a target, and every benchmark
	// that reports a "ratio" or "added-ms" metric without a declared one.
	regionTargets = "targets"
	// regionOther holds every other benchmark with its figures.
	regionOther = "other"
)

// targets are the declared targets, keyed by benchmark name and metric.
// A benchmark that reports "ratio" or "added-ms" and has no row here still
// appears in the targets region, with target "—".
var targets = []Target{
	// Issue 12: scale, on a store of 10,000 guests and 100,000 jobs.
	{Bench: "BenchmarkScale/Startup", Metric: "startup-ms", Cmp: "<", Value: 2000,
		Measure: "hvagentd start-up, 10,000 guests and 100,000 jobs"},
	{Bench: "BenchmarkScale/Startup", Metric: "rss-MiB", Cmp: "<", Value: 64,
		Measure: "hvagentd RSS (peak) after start-up and a walk of every guest page, same store"},
	{Bench: "BenchmarkScale/GuestsPage", Metric: "p50-ms", Cmp: "<", Value: 20,
		Measure: "GET /guests?limit=1000 p50, same store"},
	{Bench: "BenchmarkScale/JobsByGuest", Metric: "p50-ms", Cmp: "<", Value: 20,
		Measure: "GET /jobs?guest= p50, same store"},
	{Bench: "BenchmarkScale/JobGet", Metric: "p50-ms", Cmp: "<", Value: 1,
		Measure: "GET /jobs/{id} p50, same store"},
	// Issue 12: write stalls from the prune, on a log of 100,000 jobs.
	{Bench: "BenchmarkPruneStall/Periodic", Metric: "added-ms", Cmp: "<=", Value: 5,
		Measure: "Enqueue p99 while the periodic prune runs (100,000-job log) vs idle, added"},
	{Bench: "BenchmarkPruneStall/Lowered", Metric: "added-ms", Cmp: "<=", Value: 5,
		Measure: "Enqueue p99 while a retention lowered to 1,000 is worked off vs idle, added"},
	// Issue 12: 100 guests × 100 queued single-stage actions, sim latency 20 ms.
	{Bench: "BenchmarkQueuedActions", Metric: "ratio", Cmp: ">=", Value: 0.8,
		Measure: "100 guests × 100 queued actions (sim 20 ms) vs the 100 × 20 ms limit"},
	// Issue 9: the built-in drivers through hvagentd.
	{Bench: "BenchmarkGuestStart", Metric: "added-ms", Cmp: "<=", Value: 20,
		Measure: "guest start (QEMU) through hvagentd vs by hand, added"},
	{Bench: "BenchmarkDiskSnapshotDownload/tcp", Metric: "daemon/direct", Cmp: ">=", Value: 0.9,
		Measure: "disk snapshot download over TCP vs qemu-img convert"},
	{Bench: "BenchmarkDiskSnapshotDownload/unix", Metric: "daemon/direct", Cmp: ">=", Value: 0.9,
		Measure: "disk snapshot download over the unix socket vs qemu-img convert"},
	{Bench: "BenchmarkDaemonRSSDownload", Metric: "growth-MiB", Cmp: "<", Value: 32,
		Measure: "hvagentd RSS growth while 1 GiB streams"},
	// Issue 12: the job path against serial one-row commits, and over REST.
	{Bench: "BenchmarkJobPath/callers=8", Metric: "ratio", Cmp: ">=", Value: 1.0,
		Measure: "durable jobs/s in-process (8 callers) vs serial one-row commits"},
	{Bench: "BenchmarkJobPath/callers=64", Metric: "ratio", Cmp: ">=", Value: 1.5,
		Measure: "durable jobs/s in-process (64 callers) vs serial one-row commits"},
	{Bench: "BenchmarkJobPathREST/callers=8", Metric: "ratio", Cmp: ">=", Value: 0.9,
		Measure: "jobs/s over REST (hvagentd's server, unix socket) vs in-process (8 callers)"},
	{Bench: "BenchmarkJobPathREST/callers=64", Metric: "ratio", Cmp: ">=", Value: 0.9,
		Measure: "jobs/s over REST (hvagentd's server, unix socket) vs in-process (64 callers)"},
	// Issue 12: info calls through hvagentd vs straight to the sub-agent.
	{Bench: "BenchmarkInfoAction/sim", Metric: "added-ms", Cmp: "<=", Value: 0.1,
		Measure: "info action added p50, sim sub-agent"},
	{Bench: "BenchmarkInfoAction/sim", Metric: "p99-added-ms", Cmp: "<=", Value: 1,
		Measure: "info action added p99, sim sub-agent"},
	{Bench: "BenchmarkInfoAction/rpc", Metric: "added-ms", Cmp: "<=", Value: 0.1,
		Measure: "info action added p50, test-rpc-service (own process)"},
	{Bench: "BenchmarkInfoAction/rpc", Metric: "p99-added-ms", Cmp: "<=", Value: 1,
		Measure: "info action added p99, test-rpc-service (own process)"},
	{Bench: "BenchmarkInfoAction/rpc-gzip", Metric: "added-ms", Cmp: "<=", Value: 0.1,
		Measure: "info action added p50, compressing test-rpc-service"},
	{Bench: "BenchmarkInfoAction/rpc-gzip", Metric: "p99-added-ms", Cmp: "<=", Value: 1,
		Measure: "info action added p99, compressing test-rpc-service"},
	{Bench: "BenchmarkSnapshotDownload", Metric: "ratio", Cmp: ">=", Value: 0.9,
		Measure: "stream from an HTTP sub-agent through hvagentd vs direct"},
	// Issue 11: writes wait little behind a maximum metadata PATCH.
	{Bench: "BenchmarkEnqueueWhilePatching", Metric: "ratio", Cmp: "<=", Value: 2,
		Measure: "enqueue p99 while maximum metadata PATCHes run vs idle p99"},
}

// autoMetrics are the metrics that put a benchmark in the targets region
// even without a declared target, in order of preference (a benchmark
// reporting both has one row, of the first).
var autoMetrics = []string{"ratio", "added-ms"}

// checkTargets reports the first malformed row of ts.
func checkTargets(ts []Target) error {
	seen := map[string]bool{}
	for i, t := range ts {
		switch {
		case !strings.HasPrefix(t.Bench, "Benchmark"):
			return fmt.Errorf("target %d: benchmark %q does not start with Benchmark", i, t.Bench)
		case t.Metric == "":
			return fmt.Errorf("target %d (%s): no metric", i, t.Bench)
		case !validCmp(t.Cmp):
			return fmt.Errorf("target %d (%s %s): comparison %q is not one of >=, >, <=, <", i, t.Bench, t.Metric, t.Cmp)
		case t.Measure == "":
			return fmt.Errorf("target %d (%s %s): no measure", i, t.Bench, t.Metric)
		case seen[t.Bench+" "+t.Metric]:
			return fmt.Errorf("target %d: %s %s is declared twice", i, t.Bench, t.Metric)
		}
		seen[t.Bench+" "+t.Metric] = true
	}
	return nil
}

// validCmp says whether cmp is a comparison a Target may use.
func validCmp(cmp string) bool {
	switch cmp {
	case ">=", ">", "<=", "<":
		return true
	}
	return false
}

// Met says whether v meets the target.
func (t Target) Met(v float64) bool {
	switch t.Cmp {
	case ">=":
		return v >= t.Value
	case ">":
		return v > t.Value
	case "<=":
		return v <= t.Value
	default:
		return v < t.Value
	}
}

// String renders the bound, e.g. "≥ 0.8" or "< 2000 ms".
func (t Target) String() string {
	sym := map[string]string{">=": "≥", ">": ">", "<=": "≤", "<": "<"}[t.Cmp]
	return strings.TrimSpace(sym + " " + strconv.FormatFloat(t.Value, 'f', -1, 64) + " " + unitOf(t.Metric))
}

// region returns the region the row goes in.
func (t Target) region() string {
	if t.Region == "" {
		return regionTargets
	}
	return t.Region
}
