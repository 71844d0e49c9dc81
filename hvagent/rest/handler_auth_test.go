package rest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

func TestHandler_TokenScopes(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{Tokens: testTokens(), Hosts: []string{selfHost, "hv1.example:8080"}})
	g := a.env.Create(t, nil)
	as := func(secret string) *api { c := *a; c.token = secret; return &c }
	reader, writer, root := as(readSecret), as(writeSecret), as(adminSecret)

	var h hvagent.Health
	a.call(t, "GET", "/healthz", nil, http.StatusOK, &h) // no token
	require.Equal(t, "ok", h.Status)
	require.True(t, h.Simulated)
	reader.call(t, "GET", "/guests/"+g.ID, nil, http.StatusOK, &hvagent.Guest{})
	reader.call(t, "GET", "/metrics", nil, http.StatusOK, nil)
	reader.openSSE(t, "/events").close()

	var job hvagent.Job
	writer.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, "writer", job.RequestedBy)
	writer.call(t, "PATCH", "/guests/"+g.ID+"/metadata", `{"a":"b"}`, http.StatusOK, nil)
	root.call(t, "POST", "/guests/"+g.ID+"/reboot?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, "root", job.RequestedBy)
	root.call(t, "PATCH", "/metadata", `{"a":"b"}`, http.StatusOK, nil)
	root.call(t, "POST", "/queue/pause", nil, http.StatusOK, nil)
	root.call(t, "POST", "/queue/resume", nil, http.StatusOK, nil)

	// Idempotency keys are scoped to the caller.
	key := []string{"Idempotency-Key", "same"}
	r1 := writer.call(t, "POST", "/guests/"+g.ID+"/shutdown", nil, http.StatusAccepted, nil, key...)
	r2 := root.call(t, "POST", "/guests/"+g.ID+"/shutdown", nil, http.StatusAccepted, nil, key...)
	require.NotEqual(t, r1.Header.Get("X-Guest-Job-ID"), r2.Header.Get("X-Guest-Job-ID"))

	// The listener's own origins and host names are accepted.
	self := a.srv.Listener.Addr().String()
	reader.call(t, "GET", "/guests", nil, http.StatusOK, nil, "Origin", "http://"+self)
	writer.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, nil, "Origin", "https://"+self)
	reader.call(t, "GET", "/guests", nil, http.StatusOK, nil, "Host", "HV1.example:8080")
	reader.call(t, "GET", "/guests", nil, http.StatusForbidden, nil, "Origin", "http://"+self+".evil.example")
}

func TestHandler_OriginWithoutHosts(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	a.call(t, "GET", "/guests", nil, http.StatusOK, nil, "Host", "anything.example")
	resp := a.call(t, "GET", "/guests", nil, http.StatusForbidden, nil, "Origin", "http://"+a.srv.Listener.Addr().String())
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}

func TestHandler_MetricsHealthzPprof(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	a.call(t, "POST", "/queue/pause", nil, http.StatusOK, nil)
	a.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, nil)
	resp := a.do(t, "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), `hvagent_queue_depth{queue="`+g.ID+`"} 1`)
	require.Contains(t, string(body), "hvagent_jobs_finished_total")
	a.call(t, "POST", "/queue/resume", nil, http.StatusOK, nil)

	// Without a gatherer /metrics is a JSON 404; /debug/ is served only
	// when the caller gives a Debug handler.
	debug := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "debug "+r.URL.Path) })
	plain := rest.NewHandler(a.env.Agent, rest.HandlerOptions{})
	admin := rest.NewHandler(a.env.Agent, rest.HandlerOptions{Debug: debug})
	for _, c := range []struct {
		h      http.Handler
		path   string
		status int
	}{
		{plain, "/metrics", http.StatusNotFound},
		{plain, "/debug/pprof/", http.StatusNotFound},
		{admin, "/debug/pprof/", http.StatusOK},
		{admin, "/debug/anything", http.StatusOK},
		{admin, "/debug", http.StatusNotFound},
		{admin, "/debug/../debug/pprof/", http.StatusBadRequest},
		{admin, "/debug//pprof/", http.StatusBadRequest},
		{admin, "/healthz", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		require.Equal(t, c.status, rec.Code, c.path)
	}
}

func TestLoadTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	sum := sha256Hex("s")
	ok := write("ok.json", `[{"name":"ci","sha256":"`+strings.ToUpper(sum)+`","scope":"write"},{"name":"ops","sha256":"`+sum+`","scope":"admin"}]`)
	tokens, err := rest.LoadTokens(ok)
	require.NoError(t, err)
	require.Equal(t, []rest.Token{{Name: "ci", SHA256: sum, Scope: "write"}, {Name: "ops", SHA256: sum, Scope: "admin"}}, tokens)

	for _, c := range []struct{ name, body, msg string }{
		{"notjson", `{`, "truncated"},
		{"object", `{"name":"x"}`, "expected"},
		{"unknown", `[{"name":"x","sha256":"` + sum + `","scope":"read","secret":"s"}]`, `"secret"`},
		{"empty", `[]`, "no tokens"},
		{"noname", `[{"sha256":"` + sum + `","scope":"read"}]`, "no name"},
		{"dup", `[{"name":"x","sha256":"` + sum + `","scope":"read"},{"name":"x","sha256":"` + sum + `","scope":"read"}]`, "twice"},
		{"badsha", `[{"name":"x","sha256":"abc","scope":"read"}]`, "64 hex digits"},
		{"badscope", `[{"name":"x","sha256":"` + sum + `","scope":"root"}]`, `"root"`},
		{"trailing", `[] []`, "unexpected data"},
		{"strayclose", `[{"name":"x","sha256":"` + sum + `","scope":"read"}] ]`, "unexpected data"},
		{"straybrace", `[{"name":"x","sha256":"` + sum + `","scope":"read"}] }`, "unexpected data"},
	} {
		p := write(c.name+".json", c.body)
		_, err := rest.LoadTokens(p)
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), c.name)
		require.Contains(t, err.Error(), c.msg, c.name)
		require.Contains(t, err.Error(), p, c.name)
	}
	_, err = rest.LoadTokens(filepath.Join(dir, "missing.json"))
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	require.Contains(t, err.Error(), "missing.json")
}
