package subagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// RPCPath is the path of the RPC endpoint, as in the original mistify-agent.
const RPCPath = "/_mistify_RPC_"

// maxRequest caps the size of a request body the Server reads.
const maxRequest = 16 << 20

// errNoResult is the method error when a handler returns neither a response
// nor an error.
var errNoResult = errors.New("no result")

// Server is an http.Handler serving registered methods at RPCPath over the
// original JSON-RPC 1.0 wire (and JSON-RPC 2.0), plus raw endpoints added
// with HandleRaw. Register methods before serving; registration is safe for
// concurrent use but is meant for setup.
type Server struct {
	mux *http.ServeMux

	mu       sync.RWMutex
	methods  map[string]methodFunc
	services map[string]bool
}

// methodFunc decodes raw params and runs one registered method. A params
// decoding failure is a *paramsError.
type methodFunc func(ctx context.Context, params json.RawMessage) (any, error)

type paramsError struct{ err error }

func (e *paramsError) Error() string { return "rpc: invalid params: " + e.err.Error() }
func (e *paramsError) Unwrap() error { return e.err }

// NewServer returns a Server with no methods.
func NewServer() *Server {
	s := &Server{
		mux:      http.NewServeMux(),
		methods:  make(map[string]methodFunc),
		services: make(map[string]bool),
	}
	s.mux.HandleFunc(RPCPath, s.serveRPC)
	return s
}

// Handle registers fn as method ("Service.Method") of s. fn gets a fresh
// *Req decoded from the call's params and the request's context, which
// carries the caller's job ID and attempt (see CallInfo) and ends when the
// caller goes away. An error from fn reaches the caller verbatim; a nil
// *Resp without error is answered as the error "no result", and a panic as
// the error "panic in Service.Method: <value>".
//
// Handle panics when method is not of the form "Service.Method" or is
// already registered.
func Handle[Req, Resp any](s *Server, method string, fn func(ctx context.Context, req *Req) (*Resp, error)) {
	svc, name, ok := strings.Cut(method, ".")
	if !ok || svc == "" || name == "" || strings.Contains(name, ".") {
		panic(fmt.Sprintf("subagent: method %q is not of the form Service.Method", method))
	}
	call := func(ctx context.Context, params json.RawMessage) (any, error) {
		req := new(Req)
		if err := decodeParams(params, req); err != nil {
			return nil, &paramsError{err: err}
		}
		resp, err := fn(ctx, req)
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return nil, errNoResult
		}
		return resp, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.methods[method]; dup {
		panic(fmt.Sprintf("subagent: method %q registered twice", method))
	}
	s.methods[method] = call
	s.services[svc] = true
}

// HandleRaw registers h for pattern (http.ServeMux syntax), for raw
// endpoints such as streams. Its requests' contexts carry CallInfo too.
func (s *Server) HandleRaw(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// ServeHTTP serves the RPC endpoint and the raw endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	jobID := r.Header.Get(HeaderJobID)
	attempt, _ := strconv.Atoi(r.Header.Get(HeaderAttempt))
	if jobID != "" || attempt != 0 {
		r = r.WithContext(WithCall(r.Context(), jobID, attempt))
	}
	s.mux.ServeHTTP(w, r)
}

// lookup finds method, with the original's error texts when it is missing.
func (s *Server) lookup(method string) (methodFunc, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if fn, ok := s.methods[method]; ok {
		return fn, nil
	}
	svc, _, ok := strings.Cut(method, ".")
	switch {
	case !ok:
		return nil, fmt.Errorf("rpc: service/method request ill-formed: %q", method)
	case !s.services[svc]:
		return nil, fmt.Errorf("rpc: can't find service %q", method)
	}
	return nil, fmt.Errorf("rpc: can't find method %q", method)
}

// invoke runs fn, turning a panic into a method error.
func invoke(ctx context.Context, method string, fn methodFunc, params json.RawMessage) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			result, err = nil, fmt.Errorf("panic in %s: %v", method, v)
		}
	}()
	return fn(ctx, params)
}

// decodeParams decodes the original's one-element params array, or a bare
// object, into dst. Absent, null and empty params leave dst zero.
func decodeParams(raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil
	}
	if p, ok := dst.(*GuestRequest); ok && parseGuestParams(raw, p) {
		return nil
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return err
		}
		switch len(list) {
		case 0:
			return nil
		case 1:
			raw = list[0]
		default:
			return fmt.Errorf("params has %d elements, want 1", len(list))
		}
	}
	if isNull(raw) {
		return nil
	}
	return json.Unmarshal(raw, dst)
}
