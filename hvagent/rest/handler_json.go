package rest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/jsonform"
	"github.com/hvagent/hvagent/internal/wirejson"
)

// exchange is one request being served.
type exchange struct {
	s    *server
	w    http.ResponseWriter
	r    *http.Request
	who  identity
	body []byte // the request body of a mutation
	// q is the parsed query once query was called.
	q      url.Values
	parsed bool
}

func (x *exchange) ctx() context.Context { return x.r.Context() }

// query returns the request's query parameters, parsed once.
func (x *exchange) query() url.Values {
	if !x.parsed && x.r.URL.RawQuery != "" {
		x.q = x.r.URL.Query()
	}
	x.parsed = true
	return x.q
}

// reply writes v as a JSON body with status.
func (x *exchange) reply(status int, v any) error {
	writeJSON(x.w, status, v)
	return nil
}

// listChunk is the buffer a list reply is written through: each item is
// encoded on its own and the reply goes out in chunks of this size, never
// held whole in memory.
const listChunk = 32 << 10

// replyList writes items as a JSON array with status, the same bytes as
// reply(status, items) gives (an empty array for none), encoding one item
// at a time (see writeItems).
func replyList[T any](x *exchange, status int, items []T) error {
	x.w.Header()["Content-Type"] = jsonContentType
	x.w.WriteHeader(status)
	bw := bufio.NewWriterSize(x.w, listChunk)
	if !writeItems(bw, items) {
		return nil
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
	return nil
}

// writeItems writes items to bw as a JSON array without its closing
// bracket, encoding one item at a time (appendItem). It reports false
// when it stopped short, at an item that cannot be encoded or a client
// gone: the status is sent, so the reply then ends there, as a failed
// Encode would end it.
func writeItems[T any](bw *bufio.Writer, items []T) bool {
	_ = bw.WriteByte('[')
	var buf []byte
	for i := range items {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		b, err := appendItem(buf[:0], items[i])
		if err != nil {
			return false
		}
		buf = b
		if _, err := bw.Write(b); err != nil {
			return false
		}
	}
	return true
}

// appendItem appends item's JSON, json.Marshal's bytes, to b: a guest by
// subagent.AppendGuest, a job by wirejson.AppendJob when it takes it, an
// event by appendEvent, anything else by encoding/json.
func appendItem(b []byte, item any) ([]byte, error) {
	switch v := item.(type) {
	case *hvagent.Event:
		if v != nil {
			return appendEvent(b, v)
		}
	case *hvagent.Guest:
		if v != nil {
			return subagent.AppendGuest(b, v), nil
		}
	case *hvagent.Job:
		if v != nil {
			if jb, ok := wirejson.AppendJob(b, v); ok {
				return jb, nil
			} // else its bytes past len(b) are written over below
		}
	}
	v, err := json.Marshal(item)
	return append(b, v...), err
}

// jsonContentType is the Content-Type header value of JSON replies,
// shared by all of them (header values are never modified in place).
var jsonContentType = []string{"application/json"}

// writeJSON encodes v, with a trailing newline, as the reply. A Job takes
// wirejson.AppendJob's direct path when it can, a Guest subagent.AppendGuest's (the same
// bytes).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	if j, ok := v.(*hvagent.Job); ok && j != nil {
		bp := jsonform.GetBuffer()
		defer jsonform.PutBuffer(bp)
		var ok bool
		if *bp, ok = wirejson.AppendJob(*bp, j); ok {
			w.WriteHeader(status)
			*bp = append(*bp, '\n')
			_, _ = w.Write(*bp) // the client may be gone; nothing to do then
			return
		}
	}
	if g, ok := v.(*hvagent.Guest); ok && g != nil {
		bp := jsonform.GetBuffer()
		defer jsonform.PutBuffer(bp)
		*bp = append(subagent.AppendGuest(*bp, g), '\n')
		w.WriteHeader(status)
		_, _ = w.Write(*bp) // the client may be gone; nothing to do then
		return
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

// writeError replies with err's code word and status. Internal errors are
// logged and their text hidden. An error from a client that went away is
// logged at debug level and gets no reply.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := hvagent.ErrorCode(err)
	msg := hvagent.ErrorMessage(err)
	status := HTTPStatus(code)
	if clientGone(r, err) {
		s.log.Debug().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("client went away")
		return // nobody is left to read a reply
	}
	if status == http.StatusInternalServerError {
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("internal error")
		code, msg = hvagent.EINTERNAL, "internal error"
	}
	if code == hvagent.EBUSY && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Message: msg, Code: status, Error: code})
}

// decode decodes the request body strictly into v: invalid UTF-8 (lone
// surrogate escapes included), unknown fields, wrong types, trailing data
// and a body of null (every body is an object) are EINVALID naming the
// problem. It returns false (and leaves v alone) when
// there is no body.
func (x *exchange) decode(v any) (bool, error) {
	body := bytes.TrimSpace(x.body)
	if len(body) == 0 {
		return false, nil
	}
	if err := checkUTF8(body); err != nil {
		return true, err
	}
	if err := checkEscapes(body); err != nil {
		return true, err
	}
	if bytes.Equal(body, []byte("null")) {
		return true, hvagent.Errorf(hvagent.EINVALID, "request body: expected a JSON object, got null")
	}
	dec := json.NewDecoder(bytes.NewReader(x.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, hvagent.WrapError(hvagent.EINVALID, err, "request body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return true, hvagent.Errorf(hvagent.EINVALID, "request body: unexpected data after the JSON value")
	}
	return true, nil
}

// decodeRequired is decode for routes whose body is mandatory.
func (x *exchange) decodeRequired(v any, what string) error {
	ok, err := x.decode(v)
	if err == nil && !ok {
		err = hvagent.Errorf(hvagent.EINVALID, "request body: %s is required", what)
	}
	return err
}

// noBody accepts an empty body, {} or null and rejects anything else: the
// original Go client (and lochness) sends null with its guest actions.
func (x *exchange) noBody() error {
	if bytes.Equal(bytes.TrimSpace(x.body), []byte("null")) {
		return nil
	}
	_, err := x.decode(&struct{}{})
	return err
}

// jsonProblem describes a JSON decoding error in terms of the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("expected %s, got JSON %s", typ.Type, typ.Value)
		}
		return fmt.Sprintf("field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	var e *hvagent.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return msg
}

// queryLimit parses ?limit= (1..1000); 0 when absent.
func (x *exchange) queryLimit() (int, error) {
	v := x.query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, hvagent.Errorf(hvagent.EINVALID, "limit %q must be an integer from 1 to %d", v, maxListLimit)
	}
	return n, nil
}

// queryWait parses ?wait= (a Go duration from 0 to 5m); 0 when absent.
func (x *exchange) queryWait() (time.Duration, error) {
	v := x.query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxWait {
		return 0, hvagent.Errorf(hvagent.EINVALID, "wait %q must be a Go duration from 0s to %s (such as 30s)", v, MaxWait)
	}
	return d, nil
}

// queryBool parses a boolean parameter; false when absent.
func (x *exchange) queryBool(name string) (bool, error) {
	v := x.query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, hvagent.Errorf(hvagent.EINVALID, "%s %q must be true or false", name, v)
	}
	return b, nil
}

// queryID parses an optional UUID parameter (a cursor or filter).
func (x *exchange) queryID(name string) (string, error) {
	v := x.query().Get(name)
	if v == "" {
		return "", nil
	}
	return parseID(name, v)
}

// pathGuest parses the {id} path value: a guest ID (lowercased) or a
// guest name, which the service resolves.
func (x *exchange) pathGuest() (string, error) {
	return parseGuestRef(x.r.PathValue("id"))
}

// parseGuestRef checks that ref is a guest ID or name and returns the ID
// in lowercase, or the name.
func parseGuestRef(ref string) (string, error) {
	id, name, err := hvagent.ParseGuestRef(ref)
	if err != nil {
		return "", err
	}
	return id + name, nil
}

// pathID parses a UUID path value.
func (x *exchange) pathID(name string) (string, error) {
	return parseID(name, x.r.PathValue(name))
}

// parseID checks that v is a UUID and lowercases it, naming the parameter
// in its EINVALID error.
func parseID(name, v string) (string, error) {
	id, err := hvagent.ParseGuestID(v)
	if err != nil {
		return "", hvagent.Errorf(hvagent.EINVALID, "%s %q must be a UUID", name, v)
	}
	return id, nil
}

// nonNilList returns list, or an empty slice for nil so that it encodes
// as [].
func nonNilList[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
