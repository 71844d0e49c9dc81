package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// fuzzRequestTime bounds one fuzzed request; routes that stream (events,
// console) or wait (?wait=) are cut off then, and their reply is not
// checked beyond its status.
const fuzzRequestTime = 300 * time.Millisecond

// fuzzAPI is the handler under fuzzing: a real agent over a SQLite store,
// driven by the simulation, and one live guest.
type fuzzAPI struct {
	h      http.Handler
	guest  string
	routes []rest.Route
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	nop := zerolog.Nop() // a *testing.F may not be logged to inside the fuzz function
	env := agenttest.New(f, agenttest.Opts{Logger: &nop})
	g := env.Create(f, nil)
	return &fuzzAPI{h: rest.NewHandler(env.Agent, rest.HandlerOptions{}), guest: g.ID, routes: rest.Routes()}
}

// route returns the index of the route "METHOD pattern", for seeds.
func (a *fuzzAPI) route(f *testing.F, s string) uint8 {
	for i, rt := range a.routes {
		if rt.String() == s {
			return uint8(i)
		}
	}
	f.Fatalf("no route %s", s)
	return 0
}

// path fills a route's pattern: every {…} with ref, or when ref is empty
// with the live guest, a zero job ID, disk 0 and snapshot "snap".
func (a *fuzzAPI) path(rt rest.Route, ref string) string {
	if ref != "" {
		for _, p := range []string{"{id}", "{jobID}", "{n}", "{name}"} {
			rt.Pattern = strings.ReplaceAll(rt.Pattern, p, ref)
		}
		return rt.Pattern
	}
	id := a.guest
	if !strings.HasPrefix(rt.Pattern, "/guests/") {
		id = "00000000-0000-0000-0000-000000000000"
	}
	return strings.NewReplacer("{id}", id, "{jobID}", "00000000-0000-0000-0000-000000000000",
		"{n}", "0", "{name}", "snap").Replace(rt.Pattern)
}

// serve sends one request to the handler and returns its reply, and
// whether the request ran out of time (then the reply may be partial).
func (a *fuzzAPI) serve(rt rest.Route, ref, query, hdr string, body []byte) (*httptest.ResponseRecorder, bool) {
	// Cancel rather than a deadline: a cancelled request is a client gone,
	// which gets no reply, where a deadline would be the agent's failure.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timer := time.AfterFunc(fuzzRequestTime, cancel)
	defer timer.Stop()
	r := &http.Request{
		Method:     rt.Method,
		URL:        &url.URL{Path: a.path(rt, ref), RawQuery: query},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Host:       "hvagent.test",
		RemoteAddr: "127.0.0.1:1234",
	}
	r.RequestURI = r.URL.RequestURI()
	if hdr != "" {
		r.Header.Set("Last-Event-ID", hdr)
		r.Header.Set("Idempotency-Key", hdr)
	}
	if len(body) > 0 {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, r.WithContext(ctx))
	return rec, ctx.Err() != nil
}

// checkReply checks the invariants of every reply: no 5xx and no
// redirect; an error is a JSON {"message","code","error"} whose code is
// the status and whose word maps to it; a 2xx JSON reply is valid JSON.
func checkReply(t *testing.T, rec *httptest.ResponseRecorder, cut bool) {
	t.Helper()
	body := rec.Body.Bytes()
	require.Less(t, rec.Code, 500, "%s", body)
	require.False(t, rec.Code >= 300 && rec.Code < 400, "redirect %d to %q", rec.Code, rec.Header().Get("Location"))
	if cut {
		return
	}
	ct := rec.Header().Get("Content-Type")
	if rec.Code < 400 {
		if ct == "application/json" {
			require.True(t, json.Valid(body), "invalid JSON reply: %q", body)
		}
		return
	}
	require.Empty(t, errorShapeProblem(rec.Code, ct, body))
}

// FuzzHandler sends one request per input to the handler of a real agent:
// a route of the table, a value for every path parameter, a raw query, a
// Last-Event-ID and Idempotency-Key, and a JSON body. Whatever the input,
// the handler never panics and never answers 5xx, and every error is the
// JSON error shape. Seeds: valid and broken bodies for every route that
// decodes one, and bad path, query and header values.
func FuzzHandler(f *testing.F) {
	a := newFuzzAPI(f)
	for _, s := range handlerSeeds {
		f.Add(a.route(f, s.route), s.ref, s.query, s.hdr, []byte(s.body))
	}
	for i := range a.routes { // every route once, plainly
		f.Add(uint8(i), "", "dry_run=true", "", []byte(nil))
	}
	f.Fuzz(func(t *testing.T, route uint8, ref, query, hdr string, body []byte) {
		rt := a.routes[int(route)%len(a.routes)]
		rec, cut := a.serve(rt, ref, query, hdr, body)
		checkReply(t, rec, cut)
	})
}

// handlerSeed is one seed of FuzzHandler, its route named.
type handlerSeed struct {
	route, ref, query, hdr, body string
}

// deep is a body nested far deeper than any request needs.
var deep = strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)

var handlerSeeds = []handlerSeed{
	{route: "POST /guests", query: "dry_run=true", body: `{"memory":256,"cpu":1,"disks":[{"size":1024}]}`},
	{route: "POST /guests", query: "dry_run=true", body: `{"memory":"256","cpu":-1,"disks":{}}`},
	{route: "POST /guests", body: `{"name":"web-1","memory":1e400}`},
	{route: "POST /guests", body: `{"metadata":{"a":1}}`},
	{route: "POST /guests", body: `{"nics":[{"mac":"zz"}],"disks":[{"size":-5}]}`},
	{route: "POST /guests", body: deep},
	{route: "POST /guests", body: "{\"name\":\"\xff\xfe\"}"},
	{route: "POST /guests", body: `{"name":"\ud800"}`},
	{route: "POST /guests", body: `null`},
	{route: "POST /guests", body: `[]`},
	{route: "POST /guests", body: `{} {}`},
	{route: "POST /guests", body: `{"id":"../../etc"}`},
	{route: "PATCH /guests/{id}", body: `{"name":"renamed"}`},
	{route: "PATCH /guests/{id}", body: `{"name":7}`},
	{route: "PATCH /guests/{id}", body: `{"name":"00000000-0000-0000-0000-000000000000"}`},
	{route: "PATCH /guests/{id}", body: `{}`},
	{route: "PATCH /guests/{id}/metadata", body: `{"k":"v","gone":null}`},
	{route: "PATCH /guests/{id}/metadata", body: `{"k":1,"l":[]}`},
	{route: "PATCH /guests/{id}/metadata", body: `{"":""}`},
	{route: "PATCH /metadata", body: `{"k":{"nested":"v"}}`},
	{route: "PATCH /metadata", body: `"just a string"`},
	{route: "POST /images", body: `{"id":"img","type":"","source":"file:///etc/shadow","sha256":"zz"}`},
	{route: "POST /images", body: `{"id":"img","source":"http://127.0.0.1:1/x","sha256":""}`},
	{route: "POST /images", body: `{"id":7}`},
	{route: "POST /container_images", body: `{"id":"c","type":"kvm"}`},
	{route: "POST /guests/{id}/snapshots", body: `{"dest":"a","name":"b"}`},
	{route: "POST /guests/{id}/snapshots", body: `{"name":"../x"}`},
	{route: "POST /guests/{id}/disks/{n}/snapshots", ref: "-1", body: `{"name":"s"}`},
	{route: "POST /guests/{id}/snapshots/{name}/rollback", body: `{"destroyMoreRecent":"yes"}`},
	{route: "POST /guests/{id}/start", body: `{"unexpected":true}`},
	{route: "POST /guests/{id}/start", query: "wait=1ms&dry_run=maybe"},
	{route: "POST /queue/pause", query: "action=nosuch"},
	{route: "POST /queue/resume", body: `{"action":"start"}`},
	{route: "DELETE /jobs/{id}", ref: "not-a-uuid"},
	{route: "GET /jobs/{id}", query: "wait=-1s"},
	{route: "GET /jobs/{id}", query: "wait=99999h"},
	{route: "GET /jobs", query: "limit=0&before=x&status=Done&action=nosuch&guest=UPPER"},
	{route: "GET /jobs", query: "limit=9223372036854775808"},
	{route: "GET /jobs", query: "%zz=1;limit=2"},
	{route: "GET /guests", query: "name=-bad-&after=00000000-0000-0000-0000-00000000000g"},
	{route: "GET /guests/{id}", ref: "00000000-0000-0000-0000-000000000000"},
	{route: "GET /guests/{id}", ref: "{00000000-0000-0000-0000-000000000000}"},
	{route: "GET /guests/{id}", ref: "urn:uuid:00000000-0000-0000-0000-000000000000"},
	{route: "GET /guests/{id}", ref: "0123456789abcdef0123456789abcdef"},
	{route: "GET /guests/{id}", ref: strings.Repeat("a", 64)},
	{route: "GET /guests/{id}", ref: "Ünïcode"},
	{route: "GET /events", query: "format=json&since=0&limit=5"},
	{route: "GET /events", query: "format=json", hdr: "-1"},
	{route: "GET /events", query: "format=json", hdr: "18446744073709551616"},
	{route: "GET /events", query: "format=xml&since=abc"},
	{route: "GET /images/{id}", ref: "..", query: "type=kvm"},
	{route: "DELETE /container_images/{id}", ref: "c", query: "type=kvm"},
	{route: "POST /guests/{id}/reboot", hdr: strings.Repeat("k", 300)},
}
