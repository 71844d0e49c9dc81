package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testTargets are the declared targets of the render tests.
var testTargets = []Target{
	{Bench: "BenchmarkScale/Startup", Metric: "startup-ms", Cmp: "<", Value: 2000, Measure: "start-up"},
	{Bench: "BenchmarkScale/Startup", Metric: "rss-MiB", Cmp: "<", Value: 64, Measure: "RSS"},
	{Bench: "BenchmarkScale/GuestsPage", Metric: "p50-ms", Cmp: "<", Value: 20, Measure: "guest page", Region: "scale"},
	{Bench: "BenchmarkFails", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "fails"},
	{Bench: "BenchmarkGone", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "skipped"},
	{Bench: "BenchmarkNeverRun", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "never", Region: "elsewhere"},
}

// parseFile parses a file of testdata.
func parseFile(t *testing.T, name string) *Output {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	out, err := Parse(f)
	require.NoError(t, err)
	return out
}

func TestReport_Regions(t *testing.T) {
	t.Parallel()
	regions := NewReport(parseFile(t, "bench.txt"), testTargets).Regions(nil)
	header := "Latest run: 2026-11-30 15:04 UTC on Intel(R) Xeon(R) Processor, 2 cores, 23.4 GiB RAM, load 5.1–9.8 · " +
		"go1.26.8 linux/amd64 · durability: full · `go test -run '^$' -bench . -count 2 ./...`. " +
		"A row dated earlier (UTC) was not measured in it.\n\n"
	require.Equal(t, header+
		"| measure | benchmark | result (median) | target | met | other figures (median) | date |\n"+
		"|---|---|---|---|---|---|---|\n"+
		"| start-up | `BenchmarkScale/Startup` (cmd/hvagentd) | 405 ms (2 runs: 398–412) | < 2000 ms | yes | rss-MiB 50.6 | 2026-11-30 15:04 |\n"+
		"| RSS | `BenchmarkScale/Startup` (cmd/hvagentd) | 50.6 MiB (2 runs: 31.2–70) | < 64 MiB | yes | startup-ms 405 | 2026-11-30 15:04 |\n"+
		"| fails | `BenchmarkFails` | failed | ≥ 1 | **no** |  | 2026-11-30 15:04 |\n"+
		"| skipped | `BenchmarkGone` | skipped | ≥ 1 | — |  | 2026-11-30 15:04 |\n"+
		"| — | `BenchmarkPrune` (hvagent/store) | 0.600 (2 runs: 0.500–0.700) | — | — | hold-max-ms 4 | 2026-11-30 15:04 |\n"+
		"| — | `BenchmarkGuestStart` (cmd/hvagentd) | 4.20 ms | — | — |  | 2026-11-30 15:04 |\n",
		regions["targets"])
	require.Equal(t, header+
		"| measure | benchmark | result (median) | target | met | other figures (median) | date |\n"+
		"|---|---|---|---|---|---|---|\n"+
		"| guest page | `BenchmarkScale/GuestsPage` (cmd/hvagentd) | 25 ms | < 20 ms | **no** | p99-ms 41 | 2026-11-30 15:04 |\n",
		regions["scale"])
	require.Equal(t, header+
		"| benchmark | runs | time/op | B/op | allocs/op | other figures (median) | date |\n"+
		"|---|---|---|---|---|---|---|\n"+
		"| `BenchmarkRawTx` (hvagent/store) | 2 | 4.17 ms | 2683 | 62 |  | 2026-11-30 15:04 |\n",
		regions["other"])
	require.NotContains(t, regions, "elsewhere", "a region none of whose benchmarks ran is left as it was")
}

func TestReport_NoOther(t *testing.T) {
	t.Parallel()
	out := &Output{Config: map[string]string{}, Benches: []*Bench{
		{Name: "BenchmarkA", Runs: []map[string]float64{{"ratio": 0.9}}},
	}}
	regions := NewReport(out, nil).Regions(nil)
	require.Contains(t, regions["targets"], "Latest run: unknown on unknown, unknown cores, unknown RAM · unknown")
	require.Contains(t, regions["targets"], "| — | `BenchmarkA` | 0.900 | — | — |  | unknown |\n")
	require.NotContains(t, regions, "other")
}

func TestReport_MetricMissing(t *testing.T) {
	t.Parallel()
	out := &Output{Config: map[string]string{}, Benches: []*Bench{
		{Name: "BenchmarkA", Runs: []map[string]float64{{"ns/op": 5}}},
	}}
	ts := []Target{{Bench: "BenchmarkA", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "a"}}
	require.Contains(t, NewReport(out, ts).Regions(nil)["targets"], "| a | `BenchmarkA` | no ratio reported | ≥ 1 | **no** |")
}

func TestTarget_Met(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmp       string
		v         float64
		met       bool
		rendering string
	}{
		{">=", 0.8, true, "≥ 0.8"}, {">=", 0.79, false, "≥ 0.8"},
		{">", 0.8, false, "> 0.8"}, {"<=", 0.8, true, "≤ 0.8"},
		{"<", 0.8, false, "< 0.8"}, {"<", 0.7, true, "< 0.8"},
	} {
		target := Target{Cmp: tc.cmp, Value: 0.8, Metric: "ratio"}
		require.Equal(t, tc.met, target.Met(tc.v), "%v %s 0.8", tc.v, tc.cmp)
		require.Equal(t, tc.rendering, target.String())
	}
}

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkTargets(targets), "the declared targets")
	ok := Target{Bench: "BenchmarkA", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "a"}
	for name, tc := range map[string]struct {
		edit func(*Target)
		err  string
	}{
		"Name":    {func(x *Target) { x.Bench = "A" }, `target 1: benchmark "A" does not start with Benchmark`},
		"Metric":  {func(x *Target) { x.Metric = "" }, `target 1 (BenchmarkA): no metric`},
		"Cmp":     {func(x *Target) { x.Cmp = "=" }, `target 1 (BenchmarkA ratio): comparison "=" is not one of >=, >, <=, <`},
		"Measure": {func(x *Target) { x.Measure = "" }, `target 1 (BenchmarkA ratio): no measure`},
		"Twice":   {func(*Target) {}, `target 1: BenchmarkA ratio is declared twice`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bad := ok
			tc.edit(&bad)
			require.EqualError(t, checkTargets([]Target{ok, bad}), tc.err)
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v      float64
		metric string
		want   string
	}{
		{412.3, "p50-ms", "412 ms"}, {41.23, "rss-MiB", "41.2 MiB"}, {4.123, "added-ms", "4.12 ms"},
		{0.4123, "ratio", "0.412"}, {0.004123, "raw/jobs", "0.00412"}, {0, "ratio", "0"},
		{5012, "jobs/s", "5012 jobs/s"}, {1.5e9, "ns/op", "1.50 s"}, {35200, "ns/op", "35.2 µs"},
		{812, "ns/op", "812 ns"}, {-3.5, "added-ms", "-3.50 ms"},
	} {
		require.Equal(t, tc.want, formatValue(tc.v, tc.metric), "%v %s", tc.v, tc.metric)
	}
	require.Equal(t, `a \| b c`, cell("a | b\nc"))
}

func TestReport_OneRowPerUndeclared(t *testing.T) {
	t.Parallel()
	out := &Output{Config: map[string]string{}, Benches: []*Bench{
		{Name: "BenchmarkBoth", Runs: []map[string]float64{{"ratio": 0.5, "added-ms": 3}}},
		{Name: "BenchmarkAdded", Runs: []map[string]float64{{"added-ms": 3}}},
	}}
	got := NewReport(out, nil).Regions(nil)["targets"]
	require.Contains(t, got, "| — | `BenchmarkBoth` | 0.500 | — | — | added-ms 3 | unknown |\n")
	require.Contains(t, got, "| — | `BenchmarkAdded` | 3 ms | — | — |  | unknown |\n")
	require.Equal(t, 4, strings.Count(got, "\n|"), "header, rule and two rows")
}

func TestReport_FailedAfterResults(t *testing.T) {
	t.Parallel()
	out := &Output{Config: map[string]string{}, Failed: []string{"BenchmarkA"}, Benches: []*Bench{
		{Name: "BenchmarkA", Runs: []map[string]float64{{"ratio": 0.9}, {"ratio": 0.7}}},
	}}
	ts := []Target{{Bench: "BenchmarkA", Metric: "ratio", Cmp: ">=", Value: 0.5, Measure: "a"}}
	require.Contains(t, NewReport(out, ts).Regions(nil)["targets"],
		"| a | `BenchmarkA` | 0.800 (2 runs: 0.700–0.900); a run failed | ≥ 0.5 | **no** |")
}

func TestReport_KeepsRowsNotMeasured(t *testing.T) {
	t.Parallel()
	ts := []Target{
		{Bench: "BenchmarkA", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "a"},
		{Bench: "BenchmarkB", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "b | c"},
		{Bench: "BenchmarkNew", Metric: "ratio", Cmp: ">=", Value: 1, Measure: "new"},
	}
	previous := map[string]string{
		"targets": "Latest run: earlier.\n\n| measure | benchmark | result (median) | target | met | other figures (median) | date |\n" +
			"|---|---|---|---|---|---|---|\n" +
			"| a | `BenchmarkA` (p) | 0.500 | ≥ 1 | **no** |  | 2026-11-01 |\n" +
			"| b \\| c | `BenchmarkB` (p) | 1.50 | ≥ 1 | yes |  | 2026-11-02 |\n" +
			"| — | `BenchmarkUndeclared` (p) | 0.250 | — | — | p50-ms 3 | 2026-11-03 |\n" +
			"| — | `BenchmarkUndeclaredRun` (p) | 0.250 | — | — |  | 2026-11-03 |\n",
		"other": "| benchmark | runs | time/op | B/op | allocs/op | other figures (median) | date |\n|---|---|---|---|---|---|---|\n" +
			"| `BenchmarkOldOther` (p) | 3 | 1 ms | 1 | 1 |  | 2026-11-01 |\n" +
			"| `BenchmarkOther` (p) | 3 | 9 ms | 1 | 1 |  | 2026-11-01 |\n" +
			"| `BenchmarkB` (p) | 3 | 9 ms | 1 | 1 |  | 2026-11-01 |\n",
	}
	out := &Output{Config: map[string]string{"hvagent-date": "2026-11-30 15:04 UTC"}, Benches: []*Bench{
		{Name: "BenchmarkA", Pkg: modulePath + "/p", Runs: []map[string]float64{{"ratio": 2}}},
		{Name: "BenchmarkOther", Pkg: modulePath + "/p", Runs: []map[string]float64{{"ns/op": 5}}},
		{Name: "BenchmarkUndeclaredRun", Pkg: modulePath + "/p", Runs: []map[string]float64{{"ratio": 0.5}}},
	}}
	regions := NewReport(out, ts).Regions(previous)
	require.Contains(t, regions["targets"], "| new | `BenchmarkNew` | not run | ≥ 1 | — |  | — |\n"+
		"| — | `BenchmarkUndeclaredRun` (p) | 0.500 | — | — |  | 2026-11-30 15:04 |\n"+
		"| — | `BenchmarkUndeclared` (p) | 0.250 | — | — | p50-ms 3 | 2026-11-03 |\n",
		"a row with no declared target that the run did not measure is kept")
	require.Equal(t, 1, strings.Count(regions["targets"], "BenchmarkUndeclaredRun"))
	require.Contains(t, regions["targets"], "| a | `BenchmarkA` (p) | 2 | ≥ 1 | yes |  | 2026-11-30 15:04 |\n"+
		"| b \\| c | `BenchmarkB` (p) | 1.50 | ≥ 1 | yes |  | 2026-11-02 |\n"+
		"| new | `BenchmarkNew` | not run | ≥ 1 | — |  | — |\n")
	require.Contains(t, regions["other"], "|---|\n| `BenchmarkOther` (p) | 1 | 5 ns | — | — |  | 2026-11-30 15:04 |\n"+
		"| `BenchmarkOldOther` (p) | 3 | 1 ms | 1 | 1 |  | 2026-11-01 |\n")
	require.NotContains(t, regions["other"], "BenchmarkB`", "a benchmark with a targets row is not kept among the others")
}

func TestContents(t *testing.T) {
	t.Parallel()
	got, err := Contents("a\n<!-- bench:x -->\none\ntwo\n<!-- /bench:x -->\n<!-- bench:y -->\n<!-- /bench:y -->\n")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x": "one\ntwo\n", "y": ""}, got)
	_, err = Contents("<!-- bench:x -->\n<!-- bench:y -->\n")
	require.EqualError(t, err, `line 2: region "y" opens inside region "x"`)
	_, err = Contents("<!-- /bench:y -->\n")
	require.EqualError(t, err, `line 1: "<!-- /bench:y -->" closes region "y", but the open region is ""`)
}
