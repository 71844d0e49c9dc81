package subagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// ErrorKind classifies why a sub-agent call failed.
type ErrorKind int

const (
	// KindTransport: connecting, sending or reading failed, or the deadline
	// passed. The request may or may not have reached the sub-agent.
	KindTransport ErrorKind = iota + 1
	// KindHTTP: the sub-agent answered with an HTTP status >= 300 (or, for
	// Stream, any status other than 200). Message is the body text.
	KindHTTP
	// KindMethod: the reply carried "error": Message is its text verbatim.
	KindMethod
	// KindNullResult: the reply had neither a result nor an error.
	KindNullResult
	// KindDecode: the reply was not valid JSON, had the wrong shape, was too
	// large, or answered another request id.
	KindDecode
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case KindTransport:
		return "transport"
	case KindHTTP:
		return "http"
	case KindMethod:
		return "method"
	case KindNullResult:
		return "null result"
	case KindDecode:
		return "decode"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// CallError is the error of every failed Call or Stream.
type CallError struct {
	Kind    ErrorKind
	Method  string // "Service.Method"; "" for Stream
	Status  int    // HTTP status, for KindHTTP
	Message string // what went wrong; for KindMethod the sub-agent's text verbatim
	// Code is the known code the sub-agent gave in HeaderErrorCode (for
	// KindMethod and KindHTTP), or "".
	Code string
	Err  error // the underlying error, if any
}

// Error describes the failure, prefixed with the method name when there is one.
func (e *CallError) Error() string {
	var msg string
	switch e.Kind {
	case KindHTTP:
		if e.Message == "" {
			msg = fmt.Sprintf("sub-agent answered HTTP %d with an empty body", e.Status)
		} else {
			msg = fmt.Sprintf("sub-agent answered HTTP %d: %s", e.Status, e.Message)
		}
	case KindMethod:
		msg = e.Message
		if msg == "" {
			msg = "sub-agent returned an empty error"
		}
	case KindDecode:
		msg = "invalid reply: " + e.Message
	default:
		msg = e.Message
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
	}
	if e.Method == "" {
		return msg
	}
	return e.Method + ": " + msg
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// IsConnectError reports whether err is a call failure where the request
// certainly did not reach the sub-agent: the connection was refused, the
// socket does not exist, or dialing failed otherwise. Such calls are safe to
// retry. A cancellation or deadline is never a connect error.
func IsConnectError(err error) bool {
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindTransport {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
