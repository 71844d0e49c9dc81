package rest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/testio"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// fakeService is a Service whose methods tests set; unset ones panic
// through the nil embedded interface.
type fakeService struct {
	hvagent.Service
	DoFunc       func(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error)
	MetadataFunc func(ctx context.Context) (map[string]string, error)
	EventsFunc   func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error)
	HealthFunc   func(ctx context.Context) (*hvagent.Health, error)
	WaitJobFunc  func(ctx context.Context, id string) (*hvagent.Job, error)
}

func (f *fakeService) WaitJob(ctx context.Context, id string) (*hvagent.Job, error) {
	return f.WaitJobFunc(ctx, id)
}

func (f *fakeService) Do(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
	return f.DoFunc(ctx, action, guest, req)
}

func (f *fakeService) Metadata(ctx context.Context) (map[string]string, error) {
	return f.MetadataFunc(ctx)
}

func (f *fakeService) Events(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
	return f.EventsFunc(ctx, q)
}

func (f *fakeService) Health(ctx context.Context) (*hvagent.Health, error) {
	return f.HealthFunc(ctx)
}

// serveFake serves f with a heartbeat (0 = default) and a server write
// timeout (0 = none).
func serveFake(t *testing.T, f *fakeService, heartbeat, writeTimeout time.Duration) (*httptest.Server, *testio.Buffer) {
	t.Helper()
	logs := &testio.Buffer{}
	s := newServer(f, HandlerOptions{Logger: zerolog.New(logs)})
	if heartbeat > 0 {
		s.heartbeat = heartbeat
	}
	srv := httptest.NewUnstartedServer(s.handler())
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, logs
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestHandler_ErrorTable(t *testing.T) {
	t.Parallel()
	var code atomic.Value
	f := &fakeService{MetadataFunc: func(context.Context) (map[string]string, error) {
		c := code.Load().(string)
		if c == "plain" {
			return nil, errors.New("disk on fire")
		}
		if c == "panic" {
			panic("boom")
		}
		return nil, &hvagent.Error{Code: c, Message: "secret " + c}
	}}
	srv, logs := serveFake(t, f, 0, 0)
	for c, want := range map[string]int{
		hvagent.EINVALID: 400, hvagent.EUNAUTHENTICATED: 401, hvagent.EFORBIDDEN: 403, hvagent.ENOTFOUND: 404, hvagent.EMETHODNOTALLOWED: 405,
		hvagent.ECONFLICT: 409, hvagent.ECANCELED: 409, hvagent.ETOOLARGE: 413, hvagent.EBUSY: 429, hvagent.EINTERNAL: 500, hvagent.ESUBAGENT: 502,
		hvagent.EUNAVAILABLE: 503, hvagent.ETIMEOUT: 504, "weird": 500, "plain": 500, "panic": 500,
	} {
		code.Store(c)
		resp, body := get(t, srv, "/metadata")
		require.Equal(t, want, resp.StatusCode, c)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		if want == 500 {
			require.JSONEq(t, `{"message":"internal error","code":500,"error":"internal"}`, body, c)
			continue
		}
		require.JSONEq(t, `{"message":"secret `+c+`","code":`+strconv.Itoa(want)+`,"error":"`+c+`"}`, body)
		if c == hvagent.EBUSY {
			require.Equal(t, "1", resp.Header.Get("Retry-After"))
		}
	}
	require.Contains(t, logs.String(), "disk on fire")
	require.Contains(t, logs.String(), "secret internal")
	require.Contains(t, logs.String(), "boom")
}

func TestSSE_HeartbeatAndStop(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	healthy.Store(true)
	f := &fakeService{
		EventsFunc: func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
			if healthy.Load() {
				select {
				case <-time.After(q.Wait):
				case <-ctx.Done():
				}
			}
			return &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: 7}, nil
		},
		HealthFunc: func(context.Context) (*hvagent.Health, error) {
			if healthy.Load() {
				return &hvagent.Health{Status: "ok"}, nil
			}
			return &hvagent.Health{Status: "stopping"}, nil
		},
	}
	srv, _ := serveFake(t, f, 20*time.Millisecond, 0)
	resp, err := srv.Client().Get(srv.URL + "/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "id: 7\n", line, "a live stream first tells its cursor")
	_, err = rd.ReadString('\n')
	require.NoError(t, err)
	line, err = rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, ": ping\n", line, "an idle stream gets heartbeats")
	healthy.Store(false)
	_, err = io.ReadAll(rd)
	require.NoError(t, err, "a stream ends cleanly when the service stops")
}

// failingStream yields some bytes, then fails; it records its closing.
type failingStream struct {
	sent   bool
	closed atomic.Bool
}

func (s *failingStream) Read(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New("sub-agent went away")
}

func (s *failingStream) Close() error { s.closed.Store(true); return nil }

func TestHandler_StreamAbortsOnSourceFailure(t *testing.T) {
	t.Parallel()
	src := &failingStream{}
	f := &fakeService{DoFunc: func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
		return &hvagent.Result{Stream: src, Size: -1}, nil
	}}
	srv, logs := serveFake(t, f, 0, 0)
	resp, err := srv.Client().Get(srv.URL + "/guests/0b3c5d1e-0000-4000-8000-000000000001/console")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	data, err := io.ReadAll(resp.Body)
	require.Error(t, err, "a truncated stream must not look complete")
	require.Equal(t, "partial", string(data))
	require.Eventually(t, src.closed.Load, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, logs.String(), "sub-agent went away")
}

// A long poll and an event stream outlive the server's write timeout: they
// move their own write deadlines.
func TestHandler_LongRequestsExtendWriteDeadline(t *testing.T) {
	t.Parallel()
	const id = "0b3c5d1e-0000-4000-8000-000000000002"
	f := &fakeService{
		WaitJobFunc: func(ctx context.Context, id string) (*hvagent.Job, error) {
			time.Sleep(300 * time.Millisecond)
			return &hvagent.Job{ID: id, Status: hvagent.JobComplete}, nil
		},
		EventsFunc: func(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
			time.Sleep(q.Wait)
			return &hvagent.EventPage{Events: []*hvagent.Event{{ID: q.After + 1, Type: hvagent.EventGuestUpdated, Guest: &hvagent.Guest{ID: id}}}, Cursor: q.After + 1}, nil
		},
	}
	srv, _ := serveFake(t, f, 40*time.Millisecond, 100*time.Millisecond)
	resp, body := get(t, srv, "/jobs/"+id+"?wait=2s")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `"Status":"Complete"`)

	resp, err := srv.Client().Get(srv.URL + "/events?since=0")
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	// Read for four write timeouts and at least a few frames: however slow
	// the machine, the stream must not be cut in between.
	start := time.Now()
	frames := 0
	for time.Since(start) < 400*time.Millisecond || frames < 3 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err, "the stream was cut after %d frames", frames)
		if strings.HasPrefix(line, "id: ") {
			frames++
		}
	}
}

func TestStatusRecorder(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	rec := &statusRecorder{ResponseWriter: w}
	n, err := rec.ReadFrom(strings.NewReader("hello"))
	require.NoError(t, err)
	require.Equal(t, int64(5), n)
	_, err = rec.Write([]byte(" world"))
	require.NoError(t, err)
	require.Equal(t, int64(11), rec.n)
	require.Equal(t, http.StatusOK, rec.code())
	require.Equal(t, "hello world", w.Body.String())
	rec.WriteHeader(http.StatusTeapot) // too late: the first status stays
	require.Equal(t, http.StatusOK, rec.code())

	_, _, err = (&statusRecorder{ResponseWriter: httptest.NewRecorder()}).Hijack()
	require.Error(t, err, "a ResponseWriter that cannot be hijacked")
	require.Equal(t, http.StatusOK, (&statusRecorder{}).code(), "nothing written yet")
}
