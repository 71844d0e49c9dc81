package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// malformedCount is how many bad requests TestHandler_MalformedRequests
// sends.
const malformedCount = 10000

// malformedHeaderLimit is the server's MaxHeaderBytes in the test.
const malformedHeaderLimit = 64 << 10

// malformedWorkers is how many connections send them at once.
const malformedWorkers = 4

// TestHandler_MalformedRequests sends 10,000 generated bad requests (bad
// JSON, wrong types, huge and deeply nested bodies, bad UTF-8, bad paths,
// query values, headers, methods, lengths, and requests broken at the HTTP
// level) over TCP to a handler with tokens on a real agent. Every answer
// is a 4xx in the JSON error shape, none queues a job, and the agent
// still serves normal requests after.
func TestHandler_MalformedRequests(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener = rest.Listener(srv.Listener)
	host := srv.Listener.Addr().String()
	srv.Config.Handler = rest.NewHandler(env.Agent, rest.HandlerOptions{
		Tokens: testTokens(), Hosts: []string{host}, // a log line per request would drown the test's output
	})
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.MaxHeaderBytes = malformedHeaderLimit // not 1 MiB: less to send
	srv.Start()
	t.Cleanup(srv.Close)

	g := env.Create(t, nil)
	jobs, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{})
	require.NoError(t, err)
	gen := &malformedGen{rng: rand.New(rand.NewPCG(2026, 11)), host: host, guest: "/guests/" + g.ID, done: jobs[0].ID, token: adminSecret}

	st := sendMalformed(host, gen, malformedCount)
	t.Logf("%d malformed requests, answers by status: %v; time by kind: %v", malformedCount, st.statuses, st.took)
	require.Empty(t, st.failures, "%d of %d bad answers, first ones:\n%s", len(st.failures), malformedCount,
		strings.Join(st.failures[:min(len(st.failures), 20)], "\n"))

	after, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{})
	require.NoError(t, err)
	require.Len(t, after, len(jobs), "a malformed request queued a job")
	requireServing(t, srv, env)
}

// malformedStats is what sendMalformed saw.
type malformedStats struct {
	mu       sync.Mutex
	statuses map[int]int              // answers by status
	took     map[string]time.Duration // time spent by kind of request
	failures []string                 // a line per bad answer
}

func (st *malformedStats) note(i int, m malformed, status int, took time.Duration, problem string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.statuses[status]++
	st.took[m.kind] += took.Round(time.Millisecond)
	if problem != "" {
		st.failures = append(st.failures, fmt.Sprintf("#%d %s %.120q: %s", i, m.kind, m.raw, problem))
	}
}

// sendMalformed sends n requests of gen from malformedWorkers connections.
// They are generated one at a time, in order, so the run is the same each
// time and only a few are in memory at once.
func sendMalformed(host string, gen *malformedGen, n int) *malformedStats {
	st := &malformedStats{statuses: map[int]int{}, took: map[string]time.Duration{}}
	type job struct {
		i int
		m malformed
	}
	next := make(chan job)
	var wg sync.WaitGroup
	for range malformedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *keptConn
			defer func() { c.close() }()
			for j := range next {
				start := time.Now()
				status, problem := sendOne(host, &c, j.m)
				st.note(j.i, j.m, status, time.Since(start), problem)
			}
		}()
	}
	for i := range n {
		next <- job{i, gen.next()}
	}
	close(next)
	wg.Wait()
	sort.Strings(st.failures)
	return st
}

// keptConn is a kept-alive client connection.
type keptConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func (c *keptConn) close() {
	if c != nil {
		_ = c.conn.Close()
	}
}

// replyTimeout bounds the wait for one answer; a server that never
// answers fails the test instead of hanging it.
const replyTimeout = 30 * time.Second

// sendOne sends m, on *kept (dialled when nil) unless m needs a
// connection of its own, reads the answer and checks it. It returns the
// status (0 when there was none) and what is wrong, "" when nothing.
func sendOne(host string, kept **keptConn, m malformed) (int, string) {
	c := *kept
	if m.own || c == nil {
		conn, err := net.DialTimeout("tcp", host, replyTimeout)
		if err != nil {
			return 0, fmt.Sprintf("dial: %v", err)
		}
		c = &keptConn{conn: conn, br: bufio.NewReader(conn)}
	}
	if !m.own {
		*kept = c
	}
	_ = c.conn.SetDeadline(time.Now().Add(replyTimeout))
	// Write while reading: the server may answer (and close) before it
	// has read a huge request, and a blocked write must not hide that.
	go func() {
		_, _ = c.conn.Write(m.raw)
		if tcp, ok := c.conn.(*net.TCPConn); ok && m.own {
			_ = tcp.CloseWrite()
		}
	}()
	resp, err := readFinal(c.br)
	if err != nil {
		c.close()
		*kept = nil
		return 0, fmt.Sprintf("no answer: %v", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if m.own || resp.Close || err != nil {
		c.close()
		if !m.own {
			*kept = nil
		}
	}
	if err != nil {
		return resp.StatusCode, fmt.Sprintf("read body: %v", err)
	}
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		return resp.StatusCode, fmt.Sprintf("status %d, body %.200q", resp.StatusCode, body)
	}
	return resp.StatusCode, errorShapeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// readFinal reads a response, skipping interim 1xx ones (100 Continue).
func readFinal(br *bufio.Reader) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode >= 200 {
			return resp, err
		}
	}
}

// errorShapeProblem says how an error reply differs from the JSON error
// shape {"message","code","error"} with code equal to status; "" when it
// does not.
func errorShapeProblem(status int, ct string, body []byte) string {
	if ct != "application/json" {
		return fmt.Sprintf("status %d: Content-Type %q, body %.200q", status, ct, body)
	}
	var e struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
		Error   string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	switch err := dec.Decode(&e); {
	case err != nil:
		return fmt.Sprintf("status %d: body %.200q: %v", status, body, err)
	case e.Code != status || e.Message == "" || rest.HTTPStatus(e.Error) != status:
		return fmt.Sprintf("status %d: body %.200q is not its error shape", status, body)
	}
	return ""
}

// requireServing checks that the server still answers normal requests: a
// health check, a guest created, listed and waited for.
func requireServing(t *testing.T, srv *httptest.Server, env *agenttest.Env) {
	t.Helper()
	a := &api{env: env, srv: srv, token: adminSecret}
	var h hvagent.Health
	a.call(t, "GET", "/healthz", nil, http.StatusOK, &h, "Host", srv.Listener.Addr().String())
	require.Equal(t, "ok", h.Status)
	var g hvagent.Guest
	resp := a.call(t, "POST", "/guests", `{"memory":256,"cpu":1,"disks":[{"size":1024}]}`, http.StatusAccepted, &g,
		"Host", srv.Listener.Addr().String())
	job := env.Wait(t, resp.Header.Get("X-Guest-Job-ID"))
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	var list []hvagent.Guest
	a.call(t, "GET", "/guests", nil, http.StatusOK, &list, "Host", srv.Listener.Addr().String())
	require.Len(t, list, 2)
}
