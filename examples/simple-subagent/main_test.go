package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs the program with args on a free port and returns a client of
// its RPC endpoint. The program is stopped, and must exit 0, at cleanup.
func start(t *testing.T, args ...string) *subagent.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		defer pw.Close()
		code <- runContext(ctx, append([]string{"--port", "0"}, args...), pw, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, 0, <-code)
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)
	return subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
}

func doStuff(c *subagent.Client, g *subagent.Guest) (*subagent.GuestResponse, error) {
	var resp subagent.GuestResponse
	err := c.Call(context.Background(), "Simple.DoStuff", &subagent.GuestRequest{Guest: g, Action: "start"}, &resp)
	return &resp, err
}

func TestSimple_DoStuff(t *testing.T) {
	t.Parallel()
	g := &subagent.Guest{ID: "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60", State: "running", Metadata: map[string]string{"k": "v"}}

	t.Run("NeverFails", func(t *testing.T) {
		t.Parallel()
		c := start(t, "--percent", "0")
		for range 20 {
			resp, err := doStuff(c, g)
			require.NoError(t, err)
			require.Equal(t, g, resp.Guest)
		}
	})

	t.Run("AlwaysFails", func(t *testing.T) {
		t.Parallel()
		c := start(t, "-c", "100")
		_, err := doStuff(c, g)
		var ce *subagent.CallError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, subagent.KindMethod, ce.Kind)
		require.Equal(t, "returning an error as I do 100% of the time", ce.Message)
	})

	t.Run("ErrInvalidGuest", func(t *testing.T) {
		t.Parallel()
		c := start(t, "-c", "0")
		_, err := doStuff(c, nil)
		require.ErrorContains(t, err, "invalid guest")
		require.Equal(t, subagent.CodeInvalid, subagent.ErrorCode(err))
	})
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		want options
	}{
		{name: "Defaults", want: options{port: 21356, percent: 50}},
		{name: "Short", args: []string{"-p", "1234", "-c", "7"}, want: options{port: 1234, percent: 7}},
		{name: "Long", args: []string{"--port=1", "--percent=100"}, want: options{port: 1, percent: 100}},
		{name: "ClampHigh", args: []string{"-c", "150"}, want: options{port: 21356, percent: 100}},
		{name: "ClampLow", args: []string{"-c", "-5"}, want: options{port: 21356, percent: 0}},
	} {
		got, err := parseFlags(tt.args, io.Discard)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, *got, tt.name)
	}
	require.Equal(t, 0, runContext(context.Background(), []string{"--help"}, io.Discard, io.Discard))
	var stderr strings.Builder
	require.Equal(t, 2, runContext(context.Background(), []string{"--nope"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "simple-subagent: unknown flag: --nope")
}
