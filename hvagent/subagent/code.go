package subagent

import (
	"errors"
	"io"
	"net/http"
)

// HeaderErrorCode is the response header in which a sub-agent gives the
// code of a method error (on the HTTP 200 error reply) or of a failed
// stream (on its error status). Old clients ignore it.
const HeaderErrorCode = "X-Hvagent-Error-Code"

// Codes a sub-agent may give a failure. They are words of hvagent's error
// table; any other value of the header is ignored.
const (
	// CodeInvalid: the request itself is wrong (bad ID, bad argument).
	CodeInvalid = "invalid"
	// CodeNotFound: the guest, snapshot or image does not exist.
	CodeNotFound = "not_found"
	// CodeConflict: the thing exists already, or its state forbids the
	// action (reboot of a stopped guest).
	CodeConflict = "conflict"
)

// KnownCode reports whether code is one a sub-agent may give.
func KnownCode(code string) bool {
	switch code {
	case CodeInvalid, CodeNotFound, CodeConflict:
		return true
	}
	return false
}

// CodedError is an error carrying the code a sub-agent answers with. Its
// text is its cause's, unchanged.
type CodedError struct {
	Code string
	Err  error
}

// Error returns the cause's text.
func (e *CodedError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *CodedError) Unwrap() error { return e.Err }

// WithCode returns err carrying code (one of the Code* constants): a Server
// answering a method or stream with it sets HeaderErrorCode. It returns nil
// for a nil err.
func WithCode(code string, err error) error {
	if err == nil {
		return nil
	}
	return &CodedError{Code: code, Err: err}
}

// ErrorCode returns the code of err: that of the first *CodedError in its
// chain, or else the Code of a *CallError (what the sub-agent answered).
// It is "" when there is none or the code is not a known one.
func ErrorCode(err error) string {
	var code string
	var ce *CodedError
	var call *CallError
	switch {
	case errors.As(err, &ce):
		code = ce.Code
	case errors.As(err, &call):
		code = call.Code
	}
	if !KnownCode(code) {
		return ""
	}
	return code
}

// StatusOf returns the HTTP status a stream answers a failure with: 400,
// 404 or 409 by its code, 500 without one.
func StatusOf(err error) int {
	switch ErrorCode(err) {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// WriteError answers a raw (stream) request that failed with err: status
// (StatusOf(err) when 0), HeaderErrorCode when err carries a code, and
// err's text as a text/plain body, as http.Error writes it.
func WriteError(w http.ResponseWriter, status int, err error) {
	if status == 0 {
		status = StatusOf(err)
	}
	setCode(w, err)
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, err.Error()+"\n")
}

// setCode sets HeaderErrorCode when err carries a known code.
func setCode(w http.ResponseWriter, err error) {
	if code := ErrorCode(err); code != "" {
		w.Header().Set(HeaderErrorCode, code)
	}
}

// replyCode is the known code in a reply's HeaderErrorCode, or "".
func replyCode(h http.Header) string {
	if code := h.Get(HeaderErrorCode); KnownCode(code) {
		return code
	}
	return ""
}
