package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/servicetest"
)

// allCodes is every error code word of the error table (hvagent.E*).
var allCodes = []string{
	hvagent.EINVALID, hvagent.EUNAUTHENTICATED, hvagent.EFORBIDDEN, hvagent.ENOTFOUND,
	hvagent.EMETHODNOTALLOWED, hvagent.ECONFLICT, hvagent.ECANCELED, hvagent.ETOOLARGE,
	hvagent.EBUSY, hvagent.EINTERNAL, hvagent.ESUBAGENT, hvagent.EUNAVAILABLE, hvagent.ETIMEOUT,
}

// newFakeClient serves fake through NewHandler and returns a client of it.
func newFakeClient(t *testing.T, fake *servicetest.Fake, opts rest.HandlerOptions, observe ...func(*http.Request)) *rest.Client {
	t.Helper()
	h := rest.NewHandler(fake, opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range observe {
			f(r)
		}
		h.ServeHTTP(w, r)
	}))
	c := rest.NewClient(srv.URL)
	t.Cleanup(func() {
		c.CloseIdleConnections()
		srv.Close()
	})
	return c
}

// failingFake returns a fake whose every method fails with err.
func failingFake(err error) *servicetest.Fake {
	return &servicetest.Fake{
		DoFunc:     func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) { return nil, err },
		GuestFunc:  func(context.Context, string) (*hvagent.Guest, error) { return nil, err },
		GuestsFunc: func(context.Context, hvagent.GuestFilter) ([]*hvagent.Guest, error) { return nil, err },
		PatchMetadataFunc: func(context.Context, map[string]string) (map[string]string, error) {
			return nil, err
		},
		JobFunc:         func(context.Context, string) (*hvagent.Job, error) { return nil, err },
		JobsFunc:        func(context.Context, hvagent.JobFilter) ([]*hvagent.Job, error) { return nil, err },
		CancelJobFunc:   func(context.Context, string) (*hvagent.Job, error) { return nil, err },
		EventsFunc:      func(context.Context, hvagent.EventQuery) (*hvagent.EventPage, error) { return nil, err },
		PauseQueueFunc:  func(context.Context, string) error { return err },
		ResumeQueueFunc: func(context.Context, string) error { return err },
	}
}

func TestClient_ErrorCodes(t *testing.T) {
	t.Parallel()
	const guest = "4b0f3f6c-1b7d-4a53-9a43-5f8f1b0a6d2e"
	calls := map[string]func(context.Context, *rest.Client) error{
		"Do": func(ctx context.Context, c *rest.Client) error {
			_, err := c.Do(ctx, hvagent.ActionStart, guest, hvagent.Request{})
			return err
		},
		"DoInfo": func(ctx context.Context, c *rest.Client) error {
			_, err := c.Do(ctx, hvagent.ActionCPUMetrics, guest, hvagent.Request{})
			return err
		},
		"Guest": func(ctx context.Context, c *rest.Client) error { _, err := c.Guest(ctx, guest); return err },
		"Guests": func(ctx context.Context, c *rest.Client) error {
			_, err := c.Guests(ctx, hvagent.GuestFilter{})
			return err
		},
		"PatchMetadata": func(ctx context.Context, c *rest.Client) error {
			_, err := c.PatchMetadata(ctx, map[string]string{"a": "b"})
			return err
		},
		"Job":       func(ctx context.Context, c *rest.Client) error { _, err := c.Job(ctx, guest); return err },
		"CancelJob": func(ctx context.Context, c *rest.Client) error { _, err := c.CancelJob(ctx, guest); return err },
		"Jobs": func(ctx context.Context, c *rest.Client) error {
			_, err := c.Jobs(ctx, hvagent.JobFilter{})
			return err
		},
		"Events": func(ctx context.Context, c *rest.Client) error {
			_, err := c.Events(ctx, hvagent.EventQuery{})
			return err
		},
		"PauseQueue": func(ctx context.Context, c *rest.Client) error { return c.PauseQueue(ctx, "") },
	}
	for _, code := range allCodes {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			c := newFakeClient(t, failingFake(hvagent.Errorf(code, "boom: %s", code)), rest.HandlerOptions{})
			for name, call := range calls {
				err := call(t.Context(), c)
				var e *hvagent.Error
				require.True(t, errors.As(err, &e), "%s: %T %v", name, err, err)
				require.Equal(t, code, hvagent.ErrorCode(err), "%s: %v", name, err)
				if code == hvagent.EINTERNAL {
					require.Equal(t, "internal error", err.Error(), "%s: an internal error's text is hidden", name)
				} else {
					require.Equal(t, "boom: "+code, err.Error(), name)
				}
			}
		})
	}
	t.Run("PlainErrorIsInternal", func(t *testing.T) {
		t.Parallel()
		c := newFakeClient(t, failingFake(errors.New("disk on fire at /secret")), rest.HandlerOptions{})
		_, err := c.Guest(t.Context(), guest)
		require.Equal(t, hvagent.EINTERNAL, hvagent.ErrorCode(err))
		require.Equal(t, "internal error", err.Error())
	})
}

func TestClient_ErrorsNotOurs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		code   string
	}{
		{http.StatusNotFound, "404 page not found\n", hvagent.ENOTFOUND},
		{http.StatusServiceUnavailable, "", hvagent.EUNAVAILABLE},
		{http.StatusBadGateway, "<html>bad gateway</html>", hvagent.ESUBAGENT},
		{http.StatusInternalServerError, "oops", hvagent.EINTERNAL},
		{http.StatusTeapot, `{"message":"not ours"}`, hvagent.EINTERNAL},
		{http.StatusConflict, `{"error":"conflict","message":"from the body"}`, hvagent.ECONFLICT},
		{http.StatusInternalServerError, `{"error":"busy","code":500,"message":"the word wins"}`, hvagent.EBUSY},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		}))
		c := rest.NewClient(srv.URL)
		_, err := c.Health(t.Context())
		srv.Close()
		require.Equal(t, tc.code, hvagent.ErrorCode(err), "%d %q: %v", tc.status, tc.body, err)
		if !strings.HasPrefix(tc.body, `{"error"`) {
			require.Contains(t, err.Error(), fmt.Sprintf("(HTTP %d)", tc.status), "the status is named")
		}
	}
}

func TestClient_Unreachable(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := rest.NewClient("unix://" + sock).Health(t.Context())
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err))
	require.Equal(t, "cannot reach hvagentd at unix://"+sock+": no such file or directory", err.Error())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = rest.NewClient(addr).Guests(t.Context(), hvagent.GuestFilter{})
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err))
	require.Equal(t, "cannot reach hvagentd at "+addr+": connection refused", err.Error())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = rest.NewClient(addr).Health(ctx)
	require.Equal(t, hvagent.ECANCELED, hvagent.ErrorCode(err), "a done context is the caller's, not the daemon's")
}
