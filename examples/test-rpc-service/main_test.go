package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const guestID = "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"

// start runs the program on a free port with args and returns its base
// URL. The program is stopped, and must exit 0, at cleanup.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		defer pw.Close()
		code <- runContext(ctx, append([]string{"-p", "0"}, args...), pw, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-code)
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)
	return "http://" + addr
}

func call[Resp any](t *testing.T, c *subagent.Client, method string, req any) *Resp {
	t.Helper()
	var resp Resp
	require.NoError(t, c.Call(context.Background(), method, req, &resp), method)
	return &resp
}

func TestTestService(t *testing.T) {
	t.Parallel()
	base := start(t)
	c := subagent.NewClient(subagent.ClientConfig{URL: base + subagent.RPCPath, Timeout: 10 * time.Second})
	called := map[string]bool{}

	for _, m := range guestMethods {
		typ := ""
		if strings.HasSuffix(m, "Container") {
			typ = "container"
		}
		g := &subagent.Guest{ID: guestID, Type: typ, State: "running", Metadata: map[string]string{"k": "v"}}
		resp := call[subagent.GuestResponse](t, c, "Test."+m, &subagent.GuestRequest{Guest: g, Action: m})
		require.Equal(t, g, resp.Guest, "Test.%s echoes the request's guest", m)
		err := c.Call(context.Background(), "Test."+m, &subagent.GuestRequest{}, &subagent.GuestResponse{})
		require.ErrorContains(t, err, "invalid guest")
		called["Test."+m] = true
	}

	g := &subagent.Guest{ID: guestID}
	metrics := func(method string) *subagent.GuestMetricsResponse {
		called[method] = true
		resp := call[subagent.GuestMetricsResponse](t, c, method, &subagent.GuestMetricsRequest{Guest: g})
		require.Equal(t, g, resp.Guest)
		return resp
	}
	require.Equal(t, &subagent.GuestMetricsResponse{Guest: g, Type: "cpu", CPU: []*subagent.GuestCPUMetrics{{}}}, metrics("Test.CPUMetrics"))
	require.Equal(t, &subagent.GuestMetricsResponse{Guest: g, Type: "disk",
		Disk: map[string]*subagent.GuestDiskMetrics{"vda": {Disk: "vda"}}}, metrics("Test.DiskMetrics"))
	require.Equal(t, &subagent.GuestMetricsResponse{Guest: g, Type: "nic",
		Nic: map[string]*subagent.GuestNicMetrics{"net0": {Name: "net0"}}}, metrics("Test.NicMetrics"))

	for _, m := range imageMethods {
		resp := call[subagent.ImageResponse](t, c, "Test."+m, &subagent.ImageRequest{ID: "anything"})
		require.Equal(t, []*subagent.Image{{ID: imageID, Size: 1024, Status: "complete"}}, resp.Images, m)
		called["Test."+m] = true
	}

	req := &subagent.SnapshotRequest{ID: "guests/" + guestID, Dest: "nightly"}
	for m, want := range map[string]string{
		"ListSnapshots":    "mistify/guests/" + guestID + "@bar",
		"GetSnapshot":      "mistify/guests/" + guestID,
		"DeleteSnapshot":   "mistify/guests/" + guestID,
		"RollbackSnapshot": "mistify/guests/" + guestID,
		"CreateSnapshot":   "mistify/guests/" + guestID + "@nightly",
	} {
		resp := call[subagent.SnapshotResponse](t, c, "Test."+m, req)
		require.Equal(t, []*subagent.Snapshot{{ID: want, Size: 1024}}, resp.Snapshots, m)
		called["Test."+m] = true
	}
	require.Len(t, called, len(methodNames()), "every method was called")

	dl := subagent.NewClient(subagent.ClientConfig{URL: base + downloadPath, Timeout: 10 * time.Second})
	body, n, err := dl.Stream(context.Background(), req)
	require.NoError(t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	require.Equal(t, "foobar", string(data))
	require.Equal(t, int64(6), n)
}

func TestAgentJSON(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("agent.json")
	require.NoError(t, err)
	cfg, err := hvagent.ParseConfig(data)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())

	methods := map[string]bool{}
	for _, m := range methodNames() {
		methods[m] = true
	}
	require.Len(t, cfg.Actions, len(hvagent.ValidActions()))
	for _, name := range hvagent.ValidActions() {
		a, ok := cfg.Actions[name]
		require.True(t, ok, "action %s is wired", name)
		require.Len(t, a.Stages, 1, name)
		svc, ok := cfg.Services[a.Stages[0].Service]
		require.True(t, ok, name)
		require.Equal(t, uint(9999), svc.Port)
		if kind, _ := hvagent.KindOf(name); kind == hvagent.Stream {
			require.Equal(t, downloadPath, svc.Path, name)
			continue
		}
		require.Empty(t, svc.Path, name)
		require.True(t, methods[a.Stages[0].Method], "action %s calls %s, which the service has", name, a.Stages[0].Method)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	opts, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{port: 9999}, opts)
	opts, err = parseFlags([]string{"--port", "1234", "--compress", "-q"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{port: 1234, compress: true, quiet: true}, opts)
	require.Equal(t, 0, runContext(context.Background(), []string{"-h"}, io.Discard, io.Discard))
	var stderr strings.Builder
	require.Equal(t, 2, runContext(context.Background(), []string{"-p", "x"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "test-rpc-service: invalid argument")
}
