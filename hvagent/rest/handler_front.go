package rest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// reqState is what one request carries through the handler: its status
// and size for the log line, its caller, and the exchange its route
// serves. The front layer allocates it once per request and hands it down
// as the ResponseWriter, so no layer copies the request to pass it on.
type reqState struct {
	statusRecorder
	// who is the caller, set by admit; the zero value (admit did not run)
	// reads as the local caller without a scope.
	who identity
	// caller is the caller's name once admitted, for the log line ("" for
	// a refused request).
	caller string
	x      exchange
}

// stateOf returns the state the front layer handed down as w, or a fresh
// one when w did not come through it.
func stateOf(w http.ResponseWriter) *reqState {
	if st, ok := w.(*reqState); ok {
		return st
	}
	return &reqState{statusRecorder: statusRecorder{ResponseWriter: w}}
}

// identity returns the caller admit stored.
func (st *reqState) identity() identity {
	if st.who.name == "" {
		return identity{name: localCaller}
	}
	return st.who
}

// exchange returns the request's exchange, set up for s, w and r.
func (st *reqState) exchange(s *server, w http.ResponseWriter, r *http.Request) *exchange {
	st.x = exchange{s: s, w: w, r: r, who: st.identity()}
	return &st.x
}

// front is the outer layer of the handler, run once per request: the log
// line, panic recovery, the Host/Origin, token and rate checks, and the
// clean-path check, in that order around the route mux.
type front struct {
	s   *server
	mux http.Handler
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &reqState{statusRecorder: statusRecorder{ResponseWriter: w}}
	start := time.Now()
	f.serve(st, r)
	f.s.logRequest(st, r, start)
}

// serve runs the checks and the mux for st, turning a panic into a logged
// 500 reply.
func (f *front) serve(st *reqState, r *http.Request) {
	// Every reply is bounded; a long poll, a stream or a console sets a
	// deadline of its own, which ends the bound (and a deadline an earlier
	// reply left on the connection is lifted here).
	st.bound(f.s.replyStall)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v) // net/http aborts the connection quietly
		}
		f.s.writeError(st, r, fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
	}()
	if !f.s.admit(st, r) {
		return
	}
	if p := r.URL.Path; !isCleanPath(p) {
		f.s.writeError(st, r, hvagent.Errorf(hvagent.EINVALID,
			"path %q is not in clean form: no empty, . or .. segments", p))
		return
	}
	if err := checkQuery(r.URL.RawQuery); err != nil {
		f.s.writeError(st, r, err)
		return
	}
	f.mux.ServeHTTP(st, r)
	st.extend() // what the server still holds of the reply goes out within the stall too
}

// checkQuery refuses a query string that does not parse whole (a ";"
// separator, a bad escape, more parameters than Go parses): url.Values
// would hold only what came before the fault, so a ?dry_run=true or a
// filter after it would be dropped without a word, and a dry run would
// really run. A parameter given twice is refused too: every route reads
// one value of each, and which one was meant is not for the agent to
// guess.
func checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return hvagent.Errorf(hvagent.EINVALID, "query string: %v", err)
	}
	for name, values := range q {
		if len(values) > 1 {
			return hvagent.Errorf(hvagent.EINVALID, "query parameter %q is given %d times", name, len(values))
		}
	}
	return nil
}
