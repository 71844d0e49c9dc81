package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/servicetest"
)

const (
	doGuestID = "4b0f3f6c-1b7d-4a53-9a43-5f8f1b0a6d2e"
	doJobID   = "6f1d3c57-8f4e-4a36-bf57-0e1c1f3b9a10"
)

// doCall is what the fake service saw of one Do.
type doCall struct {
	action, guest string
	req           hvagent.Request
}

// doFake records each Do and answers it by the action's kind.
func doFake(calls chan<- doCall) *servicetest.Fake {
	return &servicetest.Fake{
		DoFunc: func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
			calls <- doCall{action, guest, req}
			kind, _ := hvagent.KindOf(action)
			switch {
			case req.DryRun && kind == hvagent.Async:
				return &hvagent.Result{Pipeline: []hvagent.StageConfig{{Service: "svc", Method: "Svc." + action}}, Guest: &hvagent.Guest{ID: guest}}, nil
			case kind == hvagent.Info:
				return &hvagent.Result{Body: json.RawMessage(`{"action":"` + action + `"}`)}, nil
			case kind == hvagent.Stream:
				return &hvagent.Result{Stream: io.NopCloser(strings.NewReader("bytes of " + action)), Size: int64(len("bytes of " + action))}, nil
			case action == hvagent.ActionCreate:
				guest = doGuestID
			}
			return &hvagent.Result{Job: &hvagent.Job{ID: doJobID, Action: action}, Guest: &hvagent.Guest{ID: guest}}, nil
		},
		JobFunc: func(_ context.Context, id string) (*hvagent.Job, error) {
			return &hvagent.Job{ID: id, Status: hvagent.JobRunning}, nil
		},
		GuestFunc: func(_ context.Context, id string) (*hvagent.Guest, error) {
			return &hvagent.Guest{ID: id}, nil
		},
	}
}

// doRequest is a request for action that fills every field it uses.
func doRequest(action string) (string, hvagent.Request) {
	base := hvagent.BaseAction(action)
	typ := ""
	if base != action {
		typ = hvagent.ContainerGuestType
	}
	disk := 1
	switch base {
	case hvagent.ActionCreate:
		return "", hvagent.Request{Guest: &hvagent.Guest{Type: typ, Image: "nginx", Memory: 64}}
	case hvagent.ActionFetchImage:
		return "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "img", Type: typ, Source: "https://h/x", SHA256: strings.Repeat("0", 64)}}
	case hvagent.ActionListImages:
		return "", hvagent.Request{Image: &hvagent.ImageRequest{Type: typ}}
	case hvagent.ActionGetImage, hvagent.ActionDeleteImage:
		return "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "img", Type: typ}}
	case hvagent.ActionListSnapshots:
		return doGuestID, hvagent.Request{Disk: &disk}
	case hvagent.ActionCreateSnapshot, hvagent.ActionGetSnapshot, hvagent.ActionDeleteSnapshot, hvagent.ActionDownloadSnapshot:
		return doGuestID, hvagent.Request{Disk: &disk, Snapshot: "s 1"}
	case hvagent.ActionRollbackSnapshot:
		return doGuestID, hvagent.Request{Snapshot: "s1", DestroyMoreRecent: true}
	}
	return doGuestID, hvagent.Request{}
}

// TestClient_DoEveryAction sends each of the 36 actions through the client
// and the handler and checks what reaches the service and what comes back.
func TestClient_DoEveryAction(t *testing.T) {
	t.Parallel()
	calls := make(chan doCall, 1)
	c := newFakeClient(t, doFake(calls), rest.HandlerOptions{})
	actions := hvagent.ValidActions()
	slices.Sort(actions)
	require.Len(t, actions, 36)
	for _, action := range actions {
		kind, _ := hvagent.KindOf(action)
		guest, req := doRequest(action)
		if kind == hvagent.Async {
			req.IdempotencyKey = "key-" + action
		}
		res, err := c.Do(t.Context(), action, guest, req)
		require.NoError(t, err, action)
		got := <-calls
		require.Equal(t, hvagent.BaseAction(action), got.action, "the service resolves container variants")
		require.Equal(t, guest, got.guest, action)
		require.Equal(t, req.Disk, got.req.Disk, action)
		require.Equal(t, req.Snapshot, got.req.Snapshot, action)
		require.Equal(t, req.DestroyMoreRecent, got.req.DestroyMoreRecent, action)
		require.Equal(t, req.Guest, got.req.Guest, action)
		require.Equal(t, req.IdempotencyKey, got.req.IdempotencyKey, action)
		if req.Image != nil {
			require.Equal(t, req.Image, got.req.Image, action)
		}
		switch kind {
		case hvagent.Info:
			require.JSONEq(t, `{"action":"`+hvagent.BaseAction(action)+`"}`, string(res.Body), action)
		case hvagent.Stream:
			data, err := io.ReadAll(res.Stream)
			require.NoError(t, err)
			require.NoError(t, res.Stream.Close())
			require.Equal(t, "bytes of "+action, string(data))
			require.Equal(t, int64(len(data)), res.Size)
		default:
			require.Equal(t, doJobID, res.Job.ID, action)
			if guest != "" || hvagent.BaseAction(action) == hvagent.ActionCreate {
				require.NotNil(t, res.Guest, action)
				require.Equal(t, doGuestID, res.Guest.ID, action)
				if !strings.HasSuffix(action, "Snapshot") { // their reply is the job itself
					require.Equal(t, &hvagent.Job{ID: doJobID, Action: hvagent.BaseAction(action)}, res.Job,
						"%s: the job as queued, from the reply's header", action)
				}
			} else {
				require.Nil(t, res.Guest, action)
			}
			testDryRun(t, c, calls, action, guest, req)
		}
	}
}

func testDryRun(t *testing.T, c *rest.Client, calls <-chan doCall, action, guest string, req hvagent.Request) {
	t.Helper()
	req.DryRun = true
	res, err := c.Do(t.Context(), action, guest, req)
	require.NoError(t, err, action)
	got := <-calls
	require.True(t, got.req.DryRun)
	require.Nil(t, res.Job)
	require.Equal(t, []hvagent.StageConfig{{Service: "svc", Method: "Svc." + got.action}}, res.Pipeline)
}

func TestClient_DoLocalErrors(t *testing.T) {
	t.Parallel()
	c := rest.NewClient("127.0.0.1:1") // never reached
	for _, tc := range []struct {
		action, guest string
		req           hvagent.Request
		code          string
	}{
		{"bogus", doGuestID, hvagent.Request{}, hvagent.EINVALID},
		{hvagent.ActionCreate, "", hvagent.Request{}, hvagent.EINVALID},
		{hvagent.ActionStart, "", hvagent.Request{}, hvagent.EINVALID},
		{hvagent.ActionStart, "../../metadata", hvagent.Request{}, hvagent.EINVALID},
		{hvagent.ActionGetSnapshot, doGuestID, hvagent.Request{}, hvagent.EINVALID},
		{hvagent.ActionGetImage, "", hvagent.Request{}, hvagent.EINVALID},
	} {
		_, err := c.Do(t.Context(), tc.action, tc.guest, tc.req)
		require.Equal(t, tc.code, hvagent.ErrorCode(err), "%s %q: %v", tc.action, tc.guest, err)
	}
	_, err := c.Job(t.Context(), "../guests")
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err))
}

// withoutQueuedJob serves h without the X-Guest-Job header, as a server
// that does not send it.
func withoutQueuedJob(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&stripJobHeader{ResponseWriter: w}, r)
	})
}

// stripJobHeader drops X-Guest-Job as the reply's headers are written.
type stripJobHeader struct{ http.ResponseWriter }

func (s *stripJobHeader) WriteHeader(code int) {
	s.Header().Del("X-Guest-Job")
	s.ResponseWriter.WriteHeader(code)
}

// newOldServerClient is a client of the handler of fake served without
// the X-Guest-Job header.
func newOldServerClient(t *testing.T, fake *servicetest.Fake) *rest.Client {
	t.Helper()
	srv := httptest.NewServer(withoutQueuedJob(rest.NewHandler(fake, rest.HandlerOptions{})))
	c := rest.NewClient(srv.URL)
	t.Cleanup(func() {
		c.CloseIdleConnections()
		srv.Close()
	})
	return c
}

// TestClient_DoQueuedJobHeader: the 202 of a guest action carries the job
// as queued in X-Guest-Job; a server that sends none has the job read
// back.
func TestClient_DoQueuedJobHeader(t *testing.T) {
	t.Parallel()
	calls := make(chan doCall, 2)
	fake := doFake(calls)
	resp, body := rawDo(t, rest.NewHandler(fake, rest.HandlerOptions{}), "/guests/"+doGuestID+"/start")
	<-calls
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, doJobID, resp.Header.Get("X-Guest-Job-ID"))
	require.JSONEq(t, `{"ID":"`+doJobID+`","GuestID":"","Action":"start","QueuedAt":"0001-01-01T00:00:00Z",
		"StartedAt":"0001-01-01T00:00:00Z","UpdatedAt":"0001-01-01T00:00:00Z","Status":"","Message":"","Stage":"",
		"StageStartedAt":"0001-01-01T00:00:00Z","Attempt":0,"FinishedAt":"0001-01-01T00:00:00Z"}`, resp.Header.Get("X-Guest-Job"))
	require.JSONEq(t, `{"id":"`+doGuestID+`"}`, body, "the body is the guest")

	c := newOldServerClient(t, fake)
	res, err := c.Do(t.Context(), hvagent.ActionStart, doGuestID, hvagent.Request{})
	require.NoError(t, err)
	<-calls
	require.Equal(t, &hvagent.Job{ID: doJobID, Status: hvagent.JobRunning}, res.Job, "read back")
}

// TestClient_DoQueuedJobTooLong: a job whose JSON is too long for a header
// is not sent in one; the client reads it back.
func TestClient_DoQueuedJobTooLong(t *testing.T) {
	t.Parallel()
	calls := make(chan doCall, 2)
	fake := doFake(calls)
	do := fake.DoFunc
	fake.DoFunc = func(ctx context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
		res, err := do(ctx, action, guest, req)
		res.Job.Message = strings.Repeat("x", 3<<10)
		return res, err
	}
	resp, _ := rawDo(t, rest.NewHandler(fake, rest.HandlerOptions{}), "/guests/"+doGuestID+"/start")
	<-calls
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Empty(t, resp.Header.Get("X-Guest-Job"))
	c := newFakeClient(t, fake, rest.HandlerOptions{})
	res, err := c.Do(t.Context(), hvagent.ActionStart, doGuestID, hvagent.Request{})
	require.NoError(t, err)
	<-calls
	require.Equal(t, hvagent.JobRunning, res.Job.Status, "read back")
}

// rawDo posts to path on h and returns the reply and its body.
func rawDo(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, nil))
	resp := w.Result()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// TestClient_DoJobNotReadBack: an accepted action is reported even when
// its job can neither come in the reply nor be read back, so that the
// caller does not retry it.
func TestClient_DoJobNotReadBack(t *testing.T) {
	t.Parallel()
	calls := make(chan doCall, 1)
	fake := doFake(calls)
	fake.JobFunc = func(context.Context, string) (*hvagent.Job, error) { return nil, errors.New("store is gone") }
	c := newOldServerClient(t, fake)
	res, err := c.Do(t.Context(), hvagent.ActionStart, doGuestID, hvagent.Request{})
	require.NoError(t, err)
	<-calls
	require.Equal(t, &hvagent.Job{ID: doJobID, GuestID: doGuestID, Action: hvagent.ActionStart, Status: hvagent.JobQueued}, res.Job)
	require.Equal(t, doGuestID, res.Guest.ID)
}
