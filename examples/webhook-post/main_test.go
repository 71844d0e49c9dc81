package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const guestID = "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60"

// posted is one request the fake webhook received.
type posted struct {
	contentType string
	msg         map[string]string
}

// fakeWebhook records posts and answers status; with block it waits until
// the poster gives up.
func fakeWebhook(t *testing.T, status int, block bool) (string, <-chan posted) {
	t.Helper()
	got := make(chan posted, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg map[string]string
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- posted{contentType: r.Header.Get("Content-Type"), msg: msg}
		if block {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

// start runs the program with args on a free port and returns a client of
// its RPC endpoint. The program is stopped, and must exit 0, at cleanup.
func start(t *testing.T, args ...string) *subagent.Client {
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
	return subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
}

func post(c *subagent.Client, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	var resp subagent.GuestResponse
	err := c.Call(context.Background(), "Webhook.Post", req, &resp)
	return &resp, err
}

func TestWebhook_Post(t *testing.T) {
	t.Parallel()
	g := &subagent.Guest{ID: guestID, State: "running", Metadata: map[string]string{"k": "v"}}

	t.Run("DefaultArgs", func(t *testing.T) {
		t.Parallel()
		url, got := fakeWebhook(t, http.StatusOK, false)
		c := start(t, "-e", url)
		resp, err := post(c, &subagent.GuestRequest{Guest: g, Action: "start"})
		require.NoError(t, err)
		require.Equal(t, g, resp.Guest)
		require.Equal(t, posted{contentType: "application/json", msg: map[string]string{
			"text": "start called on " + guestID, "icon_emoji": ":rainbow:", "username": "mistify-webhook-post",
		}}, <-got)
	})

	t.Run("Args", func(t *testing.T) {
		t.Parallel()
		url, got := fakeWebhook(t, http.StatusNoContent, false)
		c := start(t, "--endpoint", url)
		_, err := post(c, &subagent.GuestRequest{Guest: g, Action: "containerReboot",
			Args: map[string]string{"emoji": "boom", "name": "ops-bot"}})
		require.NoError(t, err)
		require.Equal(t, map[string]string{
			"text": "containerReboot called on " + guestID, "icon_emoji": ":boom:", "username": "ops-bot",
		}, (<-got).msg)
	})

	t.Run("ErrInvalidGuest", func(t *testing.T) {
		t.Parallel()
		url, got := fakeWebhook(t, http.StatusOK, false)
		c := start(t, "-e", url)
		_, err := post(c, &subagent.GuestRequest{Action: "start"})
		require.ErrorContains(t, err, "invalid guest")
		require.Empty(t, got, "nothing is posted")
	})

	t.Run("ErrStatus", func(t *testing.T) {
		t.Parallel()
		url, _ := fakeWebhook(t, http.StatusInternalServerError, false)
		c := start(t, "-e", url)
		_, err := post(c, &subagent.GuestRequest{Guest: g, Action: "start"})
		require.ErrorContains(t, err, "post webhook: answered 500 Internal Server Error")
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		url, got := fakeWebhook(t, http.StatusOK, true)
		c := start(t, "-e", url, "--timeout", "100ms")
		began := time.Now()
		_, err := post(c, &subagent.GuestRequest{Guest: g, Action: "start"})
		require.ErrorContains(t, err, "context deadline exceeded")
		require.Less(t, time.Since(began), 5*time.Second)
		require.Len(t, got, 1)
	})
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-e", "https://hooks.example.com/x"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{port: 31245, endpoint: "https://hooks.example.com/x", timeout: 5 * time.Second}, *o)
	o, err = parseFlags([]string{"--port", "1", "--endpoint=http://h/", "--timeout", "2s"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, options{port: 1, endpoint: "http://h/", timeout: 2 * time.Second}, *o)

	for _, args := range [][]string{
		nil,
		{"-e", "ftp://h/"},
		{"-e", "not a url"},
		{"-e", "http://h/", "--timeout", "0s"},
		{"--bogus"},
	} {
		var stderr strings.Builder
		require.Equal(t, 2, runContext(context.Background(), args, io.Discard, &stderr), "%q", args)
		require.NotEmpty(t, stderr.String(), "%q explains itself", args)
	}
	require.Equal(t, 0, runContext(context.Background(), []string{"--help"}, io.Discard, io.Discard))
}
