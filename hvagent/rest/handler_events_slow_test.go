package rest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// readEventIDs reads SSE frames from rd and calls got with the ID of each
// complete event (an id-only frame and comments are no event), until rd
// fails or got returns false.
func readEventIDs(rd *bufio.Reader, got func(id int64) bool) error {
	var id int64
	event := false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && event:
			if !got(id) {
				return nil
			}
			event = false
		case strings.HasPrefix(line, "id: "):
			if id, err = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64); err != nil {
				return err
			}
		case strings.HasPrefix(line, "event: "):
			event = true
		}
	}
}

// dialSmallWindow connects to addr with a 4 KiB receive buffer, so that a
// client that stops reading soon stops the server's writes.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	// A bound on the whole exchange, far above the stall the handler allows.
	require.NoError(t, conn.SetDeadline(time.Now().Add(60*time.Second)))
	return conn
}

// eventReader reads an SSE stream in the background and keeps the IDs of
// its events.
type eventReader struct {
	mu   sync.Mutex
	ids  []int64
	done chan error
}

func readAllEvents(rd *bufio.Reader) *eventReader {
	r := &eventReader{done: make(chan error, 1)}
	go func() {
		r.done <- readEventIDs(rd, func(id int64) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.ids = append(r.ids, id)
			return true
		})
	}()
	return r
}

func (r *eventReader) seen() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.ids...)
}

// A reader that stops reading holds up neither the agent nor the other
// readers; it is dropped once it takes no bytes for the stall time, and
// with Last-Event-ID it then gets every event it missed.
func TestSSE_SlowReaderDroppedAndResumes(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	g := env.Create(t, nil)
	limits := defaultLimits()
	s := newServer(env.Agent, HandlerOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Limits: limits})
	s.eventStall = time.Second
	srv := httptest.NewUnstartedServer(s.handler())
	var conns sync.Map // the server's side of each connection, by client address
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Store(c.RemoteAddr().String(), c)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	start, err := env.Store.LastEventID(ctx)
	require.NoError(t, err)

	// The slow reader's connection has small buffers at both ends, so that
	// the handler's writes stop soon after the reader does.
	slow := dialSmallWindow(t, srv.Listener.Addr().String())
	var server any
	require.Eventually(t, func() bool {
		var ok bool
		server, ok = conns.Load(slow.LocalAddr().String())
		return ok
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, server.(*net.TCPConn).SetWriteBuffer(4096))
	_, err = fmt.Fprintf(slow, "GET /events?since=%d HTTP/1.1\r\nHost: x\r\n\r\n", start)
	require.NoError(t, err)
	slowRd := bufio.NewReaderSize(slow, 4096)
	slowResp, err := http.ReadResponse(slowRd, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, slowResp.StatusCode)
	// From here on the slow reader reads nothing until the end.

	fastResp := open(t, srv, fmt.Sprintf("/events?since=%d", start))
	require.Equal(t, http.StatusOK, fastResp.StatusCode)
	fast := readAllEvents(bufio.NewReader(fastResp.Body))

	var jobs []string
	for i := range 60 {
		action := hvagent.ActionStart
		if i%2 == 1 {
			action = hvagent.ActionPoweroff
		}
		jobs = append(jobs, env.Do(t, action, g.ID, hvagent.Request{}).Job.ID)
	}
	for _, id := range jobs {
		job := env.Wait(t, id)
		require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	}
	end, err := env.Store.LastEventID(ctx)
	require.NoError(t, err)
	want := storedEventIDs(t, env.Agent, start)
	require.Equal(t, end, want[len(want)-1])

	require.Eventually(t, func() bool { return len(fast.seen()) >= len(want) }, 30*time.Second, 10*time.Millisecond,
		"the other reader gets every event")
	require.Equal(t, want, fast.seen())
	require.Eventually(t, func() bool { return limits.Stats().EventClients == 1 }, 30*time.Second, 10*time.Millisecond,
		"the slow reader is dropped while the other reader stays")

	var first []int64
	err = readEventIDs(bufio.NewReader(slowResp.Body), func(id int64) bool { first = append(first, id); return true })
	require.Error(t, err, "the slow reader's stream is cut, not ended as complete")
	require.False(t, isTimeout(err), "the handler never cut the stream: %v", err)
	t.Logf("slow got %d of %d", len(first), len(want))
	require.Less(t, len(first), len(want), "the slow reader missed events")
	resume := start
	if len(first) > 0 {
		resume = first[len(first)-1]
	}

	resumed := openLastEventID(t, srv, resume)
	var rest []int64
	require.NoError(t, readEventIDs(bufio.NewReader(resumed.Body), func(id int64) bool { rest = append(rest, id); return id < end }))
	require.Equal(t, want, append(first, rest...), "no gap and no repeat across the reconnection")
}

// openLastEventID opens GET /events resuming after id.
func openLastEventID(t *testing.T, srv *httptest.Server, id int64) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", strconv.FormatInt(id, 10))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp
}

// storedEventIDs lists the IDs of the stored events after id.
func storedEventIDs(t *testing.T, svc hvagent.Service, id int64) []int64 {
	t.Helper()
	page, err := svc.Events(context.Background(), hvagent.EventQuery{After: id})
	require.NoError(t, err)
	require.NotEmpty(t, page.Events)
	var ids []int64
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	return ids
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// The stall bounds how long a write may wait for the client, not how long a
// stream may be idle: a stream with no events for longer than the stall
// keeps its client.
func TestSSE_IdleLongerThanStall(t *testing.T) {
	t.Parallel()
	f := &fakeService{
		EventsFunc: func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
			select {
			case <-time.After(q.Wait):
			case <-ctx.Done():
			}
			return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: 3}, nil
		},
		HealthFunc: func(context.Context) (*hvagent.Health, error) { return &hvagent.Health{Status: "ok"}, nil },
	}
	s := newServer(f, HandlerOptions{})
	s.heartbeat, s.eventStall = 150*time.Millisecond, 20*time.Millisecond
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	resp := open(t, srv, "/events")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	pings := 0
	for pings < 3 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err, "the idle stream was dropped after %d pings", pings)
		if line == ": ping\n" {
			pings++
		}
	}
}
