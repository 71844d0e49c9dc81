package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// TestEvents_FollowPages follows a real agent's events over REST while the
// server hands them out three at a time: every event is printed exactly
// once, in order, across many pages, and hvctl never has more than one
// request open.
func TestEvents_FollowPages(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	h := rest.NewHandler(env.Agent, rest.HandlerOptions{Logger: agenttest.Logger(t)})
	var mu sync.Mutex
	open, maxOpen, requests := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			q := r.URL.Query()
			q.Set("limit", "3") // a server with small pages
			r.URL.RawQuery = q.Encode()
			mu.Lock()
			open, requests = open+1, requests+1
			maxOpen = max(maxOpen, open)
			mu.Unlock()
			defer func() { mu.Lock(); open--; mu.Unlock() }()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client := rest.NewClient(srv.URL)
	t.Cleanup(client.CloseIdleConnections)

	for range 3 { // events before the follow starts: several pages
		env.Create(t, nil)
	}
	out := &testio.Buffer{}
	ios := &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: &testio.Buffer{}}
	f := &Factory{IO: ios, Service: func() (hvagent.Service, error) { return client, nil }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		root := newRootCmd(f, nil)
		root.SetArgs([]string{"events", "--follow", "--since", "0", "-q"})
		cmd, err := root.ExecuteContextC(ctx)
		done <- report(ios.ErrOut, cmd, err)
	}()
	waitLines := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") >= n }, 20*time.Second, 10*time.Millisecond)
	}
	all := func() []string {
		page, err := env.Agent.Events(t.Context(), hvagent.EventQuery{After: 0})
		require.NoError(t, err)
		var ids []string
		for _, e := range page.Events {
			ids = append(ids, strconv.FormatInt(e.ID, 10))
		}
		return ids
	}
	before := all()
	require.Greater(t, len(before), 6, "the events before the follow span at least three pages")
	waitLines(len(before))
	env.Create(t, nil) // events while following wake the waiting request
	after := all()
	waitLines(len(after))
	cancel()
	require.Equal(t, exitOK, <-done)
	require.Equal(t, strings.Join(after, "\n")+"\n", out.String(), "each event once, in order")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, maxOpen, "one request open at a time")
	require.GreaterOrEqual(t, requests, (len(after)+2)/3)
}
