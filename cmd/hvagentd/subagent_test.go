package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// result is how a run ended.
type result struct {
	code   int
	stderr string
}

// startRun runs hvagentd with args until the returned cancel is called and
// returns the address it reported.
func startRun(t *testing.T, args ...string) (addr string, cancel func() result) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		defer pw.Close()
		var stderr strings.Builder
		code := run(ctx, args, strings.NewReader(""), pw, &stderr)
		done <- result{code: code, stderr: stderr.String()}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		stop()
		r := <-done
		require.NoError(t, err, "no address reported; exit %d: %s", r.code, r.stderr)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)
	return addr, func() result {
		stop()
		return <-done
	}
}

func TestSubagentSim(t *testing.T) {
	t.Parallel()
	addr, cancel := startRun(t, "subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "1ms", "--seed", "7")
	c := subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
	var resp subagent.GuestResponse
	err := c.Call(context.Background(), "Sim.CreateGuest",
		&subagent.GuestRequest{Guest: &subagent.Guest{ID: "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"}, Action: "create"}, &resp)
	require.NoError(t, err)
	require.Equal(t, "shutoff", resp.Guest.State)
	require.Equal(t, uint(512), resp.Guest.Memory)

	r := cancel()
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "simulated hypervisor")
	require.Contains(t, r.stderr, "stopped")
}

func TestSubagentSim_FailureRate(t *testing.T) {
	t.Parallel()
	addr, cancel := startRun(t, "subagent", "sim", "--listen", "127.0.0.1:0", "--failure-rate", "1")
	c := subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
	err := c.Call(context.Background(), "Sim.ListImages", &subagent.ImageRequest{}, &subagent.ImageResponse{})
	require.ErrorContains(t, err, "simulated failure")
	require.Equal(t, 0, cancel().code)
}

func TestSubagentSim_ExecLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "exec.jsonl")
	addr, cancel := startRun(t, "subagent", "sim", "--listen", "127.0.0.1:0", "--exec-log", path, "--log-size", "1")
	c := subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
	ctx := subagent.WithCall(context.Background(), "job-1", 2)
	for range 2 {
		require.NoError(t, c.Call(ctx, "Sim.ListImages", &subagent.ImageRequest{}, &subagent.ImageResponse{}))
	}
	r := cancel()
	require.Equal(t, 0, r.code, r.stderr)
	calls := readExecLog(t, path)
	require.Len(t, calls, 2)
	for _, c := range calls {
		require.Equal(t, sim.Call{JobID: "job-1", Attempt: 2, Method: "Sim.ListImages", At: c.At}, c)
	}
}

func TestSubagentSim_Errors(t *testing.T) {
	t.Parallel()
	runFailures(t, []runFailure{
		{name: "NoListen", args: []string{"subagent", "sim"}, code: exitUsage, want: "hvagentd subagent sim needs --listen\nUsage: hvagentd subagent sim [flags]\n"},
		{name: "FailureRate", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "--failure-rate", "1.5"}, code: exitUsage, want: "--failure-rate 1.5: want a probability between 0 and 1"},
		{name: "Latency", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "-1s"}, code: exitUsage, want: "--latency -1s: must not be negative"},
		{name: "BadLatency", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "soon"}, code: exitUsage, want: `invalid argument "soon" for "--latency" flag`},
		{name: "BadAddress", args: []string{"subagent", "sim", "--listen", "nowhere:-1"}, code: exitFailure, want: "listen:"},
		{name: "LogSize", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "--log-size", "0"}, code: exitUsage, want: "--log-size 0: must be at least 1"},
		{name: "ExecLogDir", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "--exec-log", "/nonexistent-dir/x.jsonl"}, code: exitFailure, want: "execution log: open /nonexistent-dir/x.jsonl"},
		{name: "ExtraArgs", args: []string{"subagent", "sim", "--listen", "127.0.0.1:0", "extra"}, code: exitUsage, want: `hvagentd subagent sim takes no arguments, got "extra"`},
	})
}

// runFailure is a command line hvagentd must refuse: its exit code and
// what stderr must contain; nothing goes to stdout.
type runFailure struct {
	name string
	args []string
	code int
	want string
}

// runFailures runs each case as its own parallel subtest.
func runFailures(t *testing.T, cases []runFailure) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			require.Equal(t, tt.code, code, stderr.String())
			require.Contains(t, stderr.String(), tt.want)
			require.Empty(t, stdout.String())
		})
	}
}
