package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runBundle is one run of the command with its files and buffers.
type runBundle struct {
	dir, md, raw   string
	stdout, stderr bytes.Buffer
}

// setupRun writes a BENCHMARKS.md with a targets region into a temp dir.
func setupRun(t *testing.T) *runBundle {
	t.Helper()
	dir := t.TempDir()
	b := &runBundle{dir: dir, md: filepath.Join(dir, "BENCHMARKS.md"), raw: filepath.Join(dir, "out", "bench.txt")}
	require.NoError(t, os.WriteFile(b.md, []byte("# B\n\n<!-- bench:targets -->\nold\n<!-- /bench:targets -->\n\nEnd.\n"), 0o644))
	return b
}

// fakeGo writes a script standing for the go command: it prints its
// arguments, then the file output, and exits with code.
func fakeGo(t *testing.T, dir, output string, code int) string {
	t.Helper()
	out := filepath.Join(dir, "canned.txt")
	require.NoError(t, os.WriteFile(out, []byte(output), 0o644))
	script := filepath.Join(dir, "go")
	body := "#!/bin/sh\necho \"args: $*\"\ncat " + out + "\nexit " + string(rune('0'+code)) + "\n"
	require.NoError(t, os.WriteFile(script, []byte(body), 0o755))
	return script
}

const cannedOutput = "pkg: github.com/hvagent/hvagent/hvagent\ncpu: Canned CPU\n" +
	"BenchmarkJobPath/callers=8-2 \t 40\t 1000 ns/op\t 1.2 ratio\t 800 jobs/s\nPASS\n"

func TestRun_RunsBenchmarks(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	goCmd := fakeGo(t, b.dir, cannedOutput, 0)
	code := run(t.Context(), []string{"-md", b.md, "-raw", b.raw, "-go", goCmd, "-durability", "normal",
		"--", "-bench", "JobPath", "./hvagent/"}, &b.stdout, &b.stderr)
	require.Equal(t, 0, code, b.stderr.String())
	require.Contains(t, b.stdout.String(), "args: test -run ^$ -bench JobPath ./hvagent/\n", "go test's output is echoed")

	raw, err := os.ReadFile(b.raw)
	require.NoError(t, err)
	require.Contains(t, string(raw), "hvagent-command: go test -run '^$' -bench JobPath ./hvagent/\n")
	require.Contains(t, string(raw), "hvagent-durability: normal\n")
	require.Contains(t, string(raw), cannedOutput)

	md, err := os.ReadFile(b.md)
	require.NoError(t, err)
	require.Contains(t, string(md), "on Canned CPU, ")
	require.Contains(t, string(md), "durability: normal · `go test -run '^$' -bench JobPath ./hvagent/`")
	require.Regexp(t, "\\| `BenchmarkJobPath/callers=8` \\(hvagent\\) \\| 1.20 \\| ≥ 1 \\| yes \\| jobs/s 800 \\| \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d \\|\n", string(md))
	require.Regexp(t, "\n<!-- /bench:targets -->\n\nEnd.\n$", string(md))
	require.Contains(t, string(md), "| `BenchmarkQueuedActions` | not run | ≥ 0.8 | — |  | — |\n", "a row not measured has no date")
	require.NotContains(t, string(md), "old")
}

func TestRun_BenchmarksFail(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	goCmd := fakeGo(t, b.dir, cannedOutput+"--- FAIL: BenchmarkScale/Startup-2\nFAIL\tgithub.com/hvagent/hvagent/cmd/hvagentd\t1s\n", 1)
	code := run(t.Context(), []string{"-md", b.md, "-raw", b.raw, "-go", goCmd, "--", "-bench", "."}, &b.stdout, &b.stderr)
	require.Equal(t, 1, code)
	require.Contains(t, b.stderr.String(), "benchreport: the benchmarks failed: exit status 1")
	md, err := os.ReadFile(b.md)
	require.NoError(t, err)
	require.Contains(t, string(md), "| `BenchmarkScale/Startup` | failed | < 2000 ms | **no** |", "the tables are written all the same")
}

func TestRun_FromSavedOutput(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	code := run(t.Context(), []string{"-md", b.md, "-in", "testdata/bench.txt"}, &b.stdout, &b.stderr)
	require.Equal(t, 0, code, b.stderr.String())
	md, err := os.ReadFile(b.md)
	require.NoError(t, err)
	require.Contains(t, string(md), "Latest run: 2026-11-30 15:04 UTC on Intel(R) Xeon(R) Processor, 2 cores, 23.4 GiB RAM, load 5.1–9.8")
	require.Contains(t, string(md), "\n## Other benchmarks\n", "a region the file lacks is appended")
	require.Empty(t, b.stdout.String())
}

func TestRun_Errors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		code int
		err  string
	}{
		"NoArgs":       {nil, 2, "benchreport: no go test arguments (e.g. -- -bench . ./...) and no -in file\n"},
		"InAndArgs":    {[]string{"-in", "x", "--", "-bench", "."}, 2, `benchreport: -in reads a saved output: go test arguments ["-bench" "."] make no sense with it` + "\n"},
		"BadFlag":      {[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		"MissingInput": {[]string{"-in", "testdata/none.txt"}, 1, "benchreport: open testdata/none.txt: no such file or directory\n"},
		"NoResults":    {[]string{"-in", "testdata/empty.txt"}, 1, "benchreport: testdata/empty.txt holds no benchmark result\n"},
		"BadMarkdown":  {[]string{"-in", "testdata/bench.txt", "-md", "testdata/unclosed.md"}, 1, `benchreport: testdata/unclosed.md: line 3: region "targets" is never closed` + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.code, run(t.Context(), tc.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tc.err)
		})
	}
}

func TestDescribeRun(t *testing.T) {
	t.Parallel()
	got := describeRun(&options{durability: "full"}, []string{"test", "-run", "^$", "-bench", "Scale|Queued", "./..."},
		time.Date(2026, 11, 30, 15, 4, 0, 0, time.UTC))
	require.True(t, strings.HasPrefix(got, "hvagent-date: 2026-11-30 15:04 UTC\nhvagent-go: go"), got)
	require.Contains(t, got, "hvagent-command: go test -run '^$' -bench 'Scale|Queued' ./...\n")
	out, err := Parse(strings.NewReader(got))
	require.NoError(t, err)
	require.Equal(t, "full", out.Config["hvagent-durability"], "the lines parse back as configuration")
}

func TestMachine(t *testing.T) {
	t.Parallel()
	ram, err := memTotal(strings.NewReader("MemFree: 1 kB\nMemTotal:       24542336 kB\n"))
	require.NoError(t, err)
	require.Equal(t, "23.4 GiB", ram)
	_, err = memTotal(strings.NewReader("MemTotal: lots\n"))
	require.EqualError(t, err, `meminfo: MemTotal line "MemTotal: lots" is not "<n> kB"`)
	_, err = memTotal(strings.NewReader("MemFree: 1 kB\n"))
	require.EqualError(t, err, "meminfo has no MemTotal line")

	cpu, err := cpuModel(strings.NewReader("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n"))
	require.NoError(t, err)
	require.Equal(t, "Intel(R) Xeon(R) Processor", cpu)
	_, err = cpuModel(strings.NewReader("processor\t: 0\n"))
	require.EqualError(t, err, "cpuinfo has no model name line")
	require.Equal(t, "unknown", readProc(filepath.Join(t.TempDir(), "none"), cpuModel))

	load, err := loadAvg(strings.NewReader("5.12 4.00 3.00 2/300 1234\n"))
	require.NoError(t, err)
	require.Equal(t, 5.12, load)
}

func TestLoadSampler(t *testing.T) {
	t.Parallel()
	vals := []float64{5.5, 2.25, 9}
	s := &loadSampler{min: math.Inf(1), max: math.Inf(-1)}
	require.Empty(t, s.String(), "nothing sampled yet")
	for _, v := range vals {
		s.read = func() (float64, error) { return v, nil }
		s.sample()
	}
	s.read = func() (float64, error) { return 0, os.ErrNotExist }
	s.sample()
	require.Equal(t, "2.25–9", s.String())
}
