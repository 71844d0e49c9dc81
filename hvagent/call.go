package hvagent

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent/pipeline"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// call makes one stage's sub-agent call, retrying connection errors as the
// action's retry policy says.
func (a *Agent) call(ctx context.Context, act ActionConfig, st StageConfig, params, result any) error {
	c := a.services.client(st.Service)
	if c == nil {
		return Errorf(EINTERNAL, "service %s is not configured", st.Service)
	}
	attempts, backoff := 1, time.Duration(0)
	if act.Retry != nil {
		attempts, backoff = act.Retry.Attempts, act.Retry.Backoff.Duration
	}
	for try := 1; ; try++ {
		began := time.Now()
		err := c.Call(ctx, st.Method, params, result)
		a.observer.StageCalled(st.Service, st.Method, time.Since(began), failureKind(err))
		if err == nil || try >= attempts || !subagent.IsConnectError(err) {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
		backoff *= 2
	}
}

// callError turns a failed synchronous call into an *Error: deadlines
// ETIMEOUT, cancellation ECANCELED, a failure the sub-agent gave a code
// (subagent.WithCode) that code with its words (see codedError), a
// sub-agent's "not found" ENOTFOUND with the text notFound (when set),
// anything else ESUBAGENT with the sub-agent's words.
func callError(err error, notFound string) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var se *pipeline.StageError
	cause := err
	if errors.As(err, &se) {
		cause = se.Err
	}
	var ce *subagent.CallError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return WrapError(ETIMEOUT, err, "%s", err.Error())
	case errors.Is(err, context.Canceled):
		return WrapError(ECANCELED, err, "%s", err.Error())
	case subagent.ErrorCode(err) != "":
		return codedError(err, notFound)
	case notFound != "" && errors.As(cause, &ce) && isNotFound(ce):
		return WrapError(ENOTFOUND, err, "%s", notFound)
	}
	return WrapError(ESUBAGENT, err, "%s", err.Error())
}

// codedError is callError for a failure the sub-agent gave a code: the
// code, with the sub-agent's words (notFound, when set, for not_found).
func codedError(err error, notFound string) error {
	code := subagent.ErrorCode(err)
	if code == ENOTFOUND && notFound != "" {
		return WrapError(code, err, "%s", notFound)
	}
	return WrapError(code, err, "%s", err.Error())
}

// isNotFound reports whether a sub-agent said the thing does not exist, in
// the words the original sub-agents use.
func isNotFound(ce *subagent.CallError) bool {
	if ce.Kind == subagent.KindHTTP {
		return ce.Status == 404
	}
	if ce.Kind != subagent.KindMethod {
		return false
	}
	m := strings.ToLower(ce.Message)
	return m == "not found" || m == "no such image" || strings.HasSuffix(m, ": not found")
}

// failureKind names how a sub-agent call failed, for the Observer: the
// subagent.CallError kind, "" on success or for other errors.
func failureKind(err error) string {
	if err == nil {
		return ""
	}
	var ce *subagent.CallError
	if errors.As(err, &ce) {
		return ce.Kind.String()
	}
	return ""
}
