package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse_OK(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/bench.txt")
	require.NoError(t, err)
	defer f.Close()
	out, err := Parse(f)
	require.NoError(t, err)

	require.Equal(t, "Intel(R) Xeon(R) Processor", out.Config["cpu"])
	require.Equal(t, "5.1–9.8", out.Config["hvagent-load"])
	require.Equal(t, "github.com/hvagent/hvagent/hvagent/store", out.Config["pkg"], "the first value of a key")
	var names []string
	for _, b := range out.Benches {
		names = append(names, b.Name)
	}
	require.Equal(t, []string{"BenchmarkRawTx", "BenchmarkPrune", "BenchmarkScale/Startup",
		"BenchmarkScale/GuestsPage", "BenchmarkGuestStart"}, names)

	raw := out.Find("BenchmarkRawTx")
	require.Len(t, raw, 1)
	require.Equal(t, "github.com/hvagent/hvagent/hvagent/store", raw[0].Pkg)
	require.Len(t, raw[0].Runs, 2)
	require.Equal(t, map[string]float64{"ns/op": 6523413, "B/op": 2520, "allocs/op": 62}, raw[0].Runs[0])
	med, ok := raw[0].Median("ns/op")
	require.True(t, ok)
	require.InDelta(t, (6523413.0+1825675.0)/2, med, 0.001)
	_, ok = raw[0].Median("ratio")
	require.False(t, ok)

	startup := out.Find("BenchmarkScale/Startup")[0]
	require.Equal(t, "github.com/hvagent/hvagent/cmd/hvagentd", startup.Pkg)
	require.Equal(t, []string{"rss-MiB", "startup-ms", "ns/op"}, startup.Units())

	require.Equal(t, []string{"BenchmarkFails", "github.com/hvagent/hvagent/cmd/hvagentd"}, out.Failed)
	require.Equal(t, []string{"BenchmarkGone"}, out.Skipped)
	require.True(t, out.HasFailed("BenchmarkFails"))
	require.True(t, out.HasFailed("BenchmarkFails/sub"), "a sub-benchmark of a failed one")
	require.False(t, out.HasFailed("BenchmarkFailsToo"))
}

func TestParse_Median(t *testing.T) {
	t.Parallel()
	b := &Bench{Runs: []map[string]float64{{"x": 3}, {"x": 1}, {"y": 7}, {"x": 2}}}
	v, ok := b.Median("x")
	require.True(t, ok)
	require.Equal(t, 2.0, v, "odd count: the middle value; runs without the metric are left out")
}

func TestParse_Errors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ in, err string }{
		"UnitMissing": {"pkg: p\nBenchmarkA-2 \t 10\t 12 ns/op\t 3\n", `line 2: benchmark line "BenchmarkA-2 \t 10\t 12 ns/op\t 3": a value without its unit`},
		"NotANumber":  {"BenchmarkA-2 \t 10\t twelve ns/op\n", `line 1: benchmark line "BenchmarkA-2 \t 10\t twelve ns/op": value "twelve" of ns/op is not a number`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tc.in))
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestParse_IgnoresOtherLines(t *testing.T) {
	t.Parallel()
	in := "Benchmarking is fun\nBenchmarkA\nBenchmarkA-2 \t abc\n=== RUN TestX\nok \tpkg\t1s\n"
	out, err := Parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Empty(t, out.Benches)
	require.Empty(t, out.Failed)
}
