package subagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/hvagent/hvagent/internal/jsonform"
)

// JSON-RPC 2.0 error codes the Server answers with.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeMethodError    = -32000
)

// envelope is a request in either protocol version.
type envelope struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
}

// reply1 is the original codec's reply; the field order is its.
type reply1 struct {
	Result any             `json:"result"`
	Error  any             `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// reply2 is a JSON-RPC 2.0 reply.
type reply2 struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

// serveRPC answers one call. Transport-level failures of a 1.0 request get
// the original's text/plain statuses; every 2.0 failure is a 2.0 error reply.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		textError(w, http.StatusMethodNotAllowed, "rpc: POST method required, received "+r.Method)
		return
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		textError(w, http.StatusUnsupportedMediaType, "rpc: unrecognized Content-Type: "+ct)
		return
	}
	data, err := readBody(http.MaxBytesReader(w, r.Body, maxRequest), r.ContentLength, maxRequest)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			textError(w, http.StatusRequestEntityTooLarge, "rpc: request body too large (limit 16 MiB)")
			return
		}
		textError(w, http.StatusBadRequest, "rpc: read request: "+err.Error())
		return
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		if bytes.Contains(data, []byte(`"jsonrpc"`)) {
			code := codeInvalidRequest
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				code = codeParseError
			}
			writeReply2(w, nil, nil, &rpcError{Code: code, Message: "rpc: " + err.Error()})
			return
		}
		textError(w, http.StatusBadRequest, "rpc: invalid request: "+err.Error())
		return
	}
	if env.JSONRPC == "2.0" {
		s.serve2(w, r, &env)
		return
	}
	s.serve1(w, r, &env)
}

func (s *Server) serve1(w http.ResponseWriter, r *http.Request, env *envelope) {
	fn, err := s.lookup(env.Method)
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	result, err := invoke(r.Context(), env.Method, fn, env.Params)
	var pe *paramsError
	switch {
	case errors.As(err, &pe):
		textError(w, http.StatusBadRequest, pe.Error())
		return
	case err != nil:
		setCode(w, err)
		writeJSON(w, reply1{Error: err.Error(), ID: env.ID})
		return
	}
	if r, ok := result.(*GuestResponse); ok && plainID(env.ID) {
		buf := jsonform.GetBuffer()
		defer jsonform.PutBuffer(buf)
		*buf = appendGuestReply(*buf, r, env.ID)
		writeBody(w, *buf) // Write keeps no part of it
		return
	}
	body, err := json.Marshal(reply1{Result: result, ID: env.ID})
	if err != nil {
		writeJSON(w, reply1{Error: "rpc: encode result: " + err.Error(), ID: env.ID})
		return
	}
	writeBody(w, body)
}

func (s *Server) serve2(w http.ResponseWriter, r *http.Request, env *envelope) {
	if env.Method == "" {
		writeReply2(w, env.ID, nil, &rpcError{Code: codeInvalidRequest, Message: "rpc: method missing"})
		return
	}
	fn, err := s.lookup(env.Method)
	if err != nil {
		writeReply2(w, env.ID, nil, &rpcError{Code: codeMethodNotFound, Message: err.Error()})
		return
	}
	result, err := invoke(r.Context(), env.Method, fn, env.Params)
	if env.ID == nil {
		// A notification gets no reply.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var pe *paramsError
	switch {
	case errors.As(err, &pe):
		writeReply2(w, env.ID, nil, &rpcError{Code: codeInvalidParams, Message: pe.Error()})
	case err != nil:
		setCode(w, err)
		writeReply2(w, env.ID, nil, &rpcError{Code: codeMethodError, Message: err.Error()})
	default:
		writeReply2(w, env.ID, result, nil)
	}
}

func writeReply2(w http.ResponseWriter, id json.RawMessage, result any, rerr *rpcError) {
	body, err := json.Marshal(reply2{JSONRPC: "2.0", Result: result, Error: rerr, ID: id})
	if err != nil {
		rerr = &rpcError{Code: codeMethodError, Message: "rpc: encode result: " + err.Error()}
		body, _ = json.Marshal(reply2{JSONRPC: "2.0", Error: rerr, ID: id})
	}
	writeBody(w, body)
}

// writeJSON writes a reply that always encodes (no caller-supplied result).
func writeJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	writeBody(w, body)
}

// writeBody writes a JSON reply as the original codec did: status 200 and a
// trailing newline.
func writeBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(body, '\n'))
}

func textError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
