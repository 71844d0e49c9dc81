package subagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	if batch := bytes.TrimLeft(data, " \t\r\n"); len(batch) > 0 && batch[0] == '[' && bytes.Contains(batch, []byte(`"jsonrpc"`)) {
		s.serveBatch(w, r, batch) // 1.0 has no batches: an array without "jsonrpc" is a bad request below
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
	reply, err := s.call2(r, env)
	if reply == nil { // a notification gets no reply
		w.WriteHeader(http.StatusNoContent)
		return
	}
	setCode(w, err)
	writeBody(w, reply)
}

// call2 runs a JSON-RPC 2.0 call and returns its encoded reply, nil for a
// notification, and the method's error, if any.
func (s *Server) call2(r *http.Request, env *envelope) (json.RawMessage, error) {
	if env.Method == "" {
		return encodeReply2(env.ID, nil, &rpcError{Code: codeInvalidRequest, Message: "rpc: method missing"}), nil
	}
	fn, err := s.lookup(env.Method)
	switch {
	case err != nil && env.ID == nil: // a notification gets no reply, not even an error
		return nil, nil
	case err != nil:
		return encodeReply2(env.ID, nil, &rpcError{Code: codeMethodNotFound, Message: err.Error()}), nil
	}
	result, err := invoke(r.Context(), env.Method, fn, env.Params)
	if env.ID == nil {
		return nil, err
	}
	var pe *paramsError
	switch {
	case errors.As(err, &pe):
		return encodeReply2(env.ID, nil, &rpcError{Code: codeInvalidParams, Message: pe.Error()}), nil
	case err != nil:
		return encodeReply2(env.ID, nil, &rpcError{Code: codeMethodError, Message: err.Error()}), err
	}
	return encodeReply2(env.ID, result, nil), nil
}

// maxBatch caps the calls of one JSON-RPC 2.0 batch.
const maxBatch = 100

// serveBatch answers a JSON-RPC 2.0 batch: its calls run one after the
// other and their replies come back as an array, in the calls' order,
// without those of notifications (no body at all when every call is one).
// A batch that is too long is one Invalid Request reply, one that does not
// parse one Parse Error reply; each element that is not a 2.0 request gets
// an Invalid Request reply.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, data []byte) {
	var calls []json.RawMessage
	if err := json.Unmarshal(data, &calls); err != nil {
		writeBody(w, encodeReply2(nil, nil, &rpcError{Code: codeParseError, Message: "rpc: " + err.Error()}))
		return
	}
	if len(calls) > maxBatch {
		msg := fmt.Sprintf("rpc: a batch holds at most %d calls, got %d", maxBatch, len(calls))
		writeBody(w, encodeReply2(nil, nil, &rpcError{Code: codeInvalidRequest, Message: msg}))
		return
	}
	var replies []json.RawMessage
	for _, c := range calls {
		var env envelope
		if err := json.Unmarshal(c, &env); err != nil || env.JSONRPC != "2.0" {
			replies = append(replies, encodeReply2(nil, nil, &rpcError{Code: codeInvalidRequest, Message: "rpc: not a JSON-RPC 2.0 request"}))
			continue
		}
		if reply, _ := s.call2(r, &env); reply != nil {
			replies = append(replies, reply)
		}
	}
	if len(replies) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, _ := json.Marshal(replies) // valid JSON each
	writeBody(w, body)
}

func writeReply2(w http.ResponseWriter, id json.RawMessage, result any, rerr *rpcError) {
	writeBody(w, encodeReply2(id, result, rerr))
}

// encodeReply2 encodes a JSON-RPC 2.0 reply; a result that does not
// encode gives a method error instead.
func encodeReply2(id json.RawMessage, result any, rerr *rpcError) json.RawMessage {
	body, err := json.Marshal(reply2{JSONRPC: "2.0", Result: result, Error: rerr, ID: id})
	if err != nil {
		rerr = &rpcError{Code: codeMethodError, Message: "rpc: encode result: " + err.Error()}
		body, _ = json.Marshal(reply2{JSONRPC: "2.0", Error: rerr, ID: id})
	}
	return body
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
