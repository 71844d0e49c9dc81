package rest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// api is a handler under test on a real agent.
type api struct {
	env   *agenttest.Env
	srv   *httptest.Server
	token string // sent as a bearer token when set
}

// selfHost in HandlerOptions.Hosts stands for the test server's address.
const selfHost = "self"

// newAPI serves NewHandler(env.Agent, opts) on a test server; the agent's
// metrics are served when opts.Metrics is nil.
func newAPI(t *testing.T, opts rest.HandlerOptions, o ...agenttest.Opts) *api {
	t.Helper()
	o = append(o, agenttest.Opts{})
	env := agenttest.New(t, o[0])
	if opts.Metrics == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(env.Metrics.Collector(env.Agent))
		opts.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	opts.Logger = agenttest.Logger(t)
	srv := httptest.NewUnstartedServer(nil)
	for i, h := range opts.Hosts {
		if h == selfHost {
			opts.Hosts[i] = srv.Listener.Addr().String()
		}
	}
	srv.Config.Handler = rest.NewHandler(env.Agent, opts)
	srv.Start()
	t.Cleanup(srv.Close)
	return &api{env: env, srv: srv}
}

// do sends a request; a non-nil body is sent as JSON (a string as is).
func (a *api) do(t *testing.T, method, path string, body any, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	given := map[string]bool{} // a name given twice in hdr is sent twice
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		if given[hdr[i]] {
			req.Header.Add(hdr[i], hdr[i+1])
			continue
		}
		given[hdr[i]] = true
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// call sends a request, requires status and decodes the JSON reply into
// out (when non-nil).
func (a *api) call(t *testing.T, method, path string, body any, status int, out any, hdr ...string) *http.Response {
	t.Helper()
	resp := a.do(t, method, path, body, hdr...)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, raw)
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero() // decode afresh, never merged into an earlier reply
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.True(t, bytes.HasSuffix(raw, []byte("\n")), "no trailing newline: %q", raw)
		require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	}
	return resp
}

func TestHandler_Routes(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	const zero = "00000000-0000-0000-0000-000000000000"
	routes := rest.Routes()
	require.GreaterOrEqual(t, len(routes), 50)
	seen := map[string]bool{}
	for _, rt := range routes {
		require.False(t, seen[rt.String()], "duplicate route %s", rt)
		seen[rt.String()] = true
		id := g.ID
		if !strings.HasPrefix(rt.Pattern, "/guests/") {
			id = zero
		}
		path := strings.NewReplacer("{id}", id, "{jobID}", zero, "{n}", "0", "{name}", "nosuch").Replace(rt.Pattern)
		// dry_run keeps async routes from queuing anything.
		resp := a.do(t, rt.Method, path+"?dry_run=true", nil)
		var raw []byte
		if resp.Header.Get("Content-Type") != "text/event-stream" { // a stream never ends
			raw, _ = io.ReadAll(resp.Body)
		}
		require.NoError(t, resp.Body.Close())
		require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s: %s", rt, raw)
		require.NotContains(t, string(raw), "no route", "%s is not served", rt)
		require.Less(t, resp.StatusCode, 500, "%s: %s", rt, raw)
	}
}

// TestHandler_OriginalClientBodies: the bodies the original mistify Go
// client (and lochness, built on it) sends are accepted: null on guest
// actions and deletes, and the original's ImageRequest and SnapshotRequest
// with every field (none has omitempty), the ones the original ignored
// ignored here too.
func TestHandler_OriginalClientBodies(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	gp := "/guests/" + g.ID
	a.call(t, "POST", gp+"/start?wait=30s", "null", http.StatusOK, nil)
	a.call(t, "POST", gp+"/snapshots?wait=30s", `{"id":"","dest":"s2","recursive":false,"destroyMoreRecent":false}`, http.StatusOK, nil)
	a.call(t, "POST", gp+"/poweroff?wait=30s", "null", http.StatusOK, nil)
	a.call(t, "POST", gp+"/snapshots/s2/rollback?wait=30s", `{"id":"","dest":"","recursive":false,"destroyMoreRecent":true}`, http.StatusOK, nil)
	a.call(t, "POST", "/images", `{"id":"289120e4-ed12-431d-8d18-48f8a94bb05a","type":"","dest":"","source":"http://127.0.0.1:1/x"}`, http.StatusAccepted, nil)
	a.call(t, "DELETE", gp+"?wait=30s", "null", http.StatusOK, nil)
}
