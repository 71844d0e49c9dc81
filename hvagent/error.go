package hvagent

import (
	"errors"
	"fmt"
)

// Error codes. The code word is what crosses the wire; HTTP statuses are
// derived from it by the REST handler (see rest.HTTPStatus).
const (
	EINVALID          = "invalid"            // 400: bad action, guest or request
	EUNAUTHENTICATED  = "unauthenticated"    // 401
	EFORBIDDEN        = "forbidden"          // 403
	ENOTFOUND         = "not_found"          // 404
	EMETHODNOTALLOWED = "method_not_allowed" // 405
	ECONFLICT         = "conflict"           // 409: duplicate, wrong state, finished job
	ECANCELED         = "canceled"           // 409: the job or call was canceled
	ETOOLARGE         = "too_large"          // 413
	EBUSY             = "busy"               // 429: a queue is full
	EINTERNAL         = "internal"           // 500: message hidden from clients
	ESUBAGENT         = "subagent"           // 502: a sub-agent failed; its message is shown
	EUNAVAILABLE      = "unavailable"        // 503: the agent is stopping or not started
	ETIMEOUT          = "timeout"            // 504
)

// Error is the one application error of hvagent. Code is one of the E*
// constants; Message is meant for people. Err is kept for Unwrap only and is
// never serialized.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and a formatted message that
// unwraps to err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil
// error and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other error so that internal details never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}
