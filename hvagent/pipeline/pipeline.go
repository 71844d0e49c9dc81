// Package pipeline runs ordered stages: each stage's output, validated, is the
// next stage's input; the first error stops the run and names the stage.
//
// It imports nothing of hvagent: callers wrap their sub-agent calls as stages.
package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Stage is one step of a pipeline: a call of Method on Service.
type Stage[T any] struct {
	// Service and Method name the call for errors and progress.
	Service string
	Method  string
	// Run performs the call. It must return a fresh value, never a value
	// shared with its input.
	Run func(ctx context.Context, in T) (T, error)
}

// Hooks are optional callbacks around each stage, and how long a cancelled
// stage may take to return.
type Hooks[T any] struct {
	// Before runs before stage i (0-based); an error stops the run.
	Before func(ctx context.Context, i int, s Stage[T], in T) error
	// Validate checks a stage's output before it is accepted.
	Validate func(in, out T) error
	// After runs once stage i's output is validated; an error stops the run.
	After func(ctx context.Context, i int, s Stage[T], out T) error
	// Grace is how long a stage whose ctx ended may take to return before
	// Run abandons it; 0 abandons it at once. A stage that returns within
	// the grace has finished its call when Run returns; one that does not
	// runs on in the background, and its result is dropped.
	Grace time.Duration
	// Inline runs each stage on the caller's goroutine instead of one of
	// its own, for stages known to return promptly once ctx ends (such as
	// sub-agent calls, which close their connection): no goroutine start
	// and hand-off per stage. A stage is then never abandoned: Run returns
	// when it does, and Grace is not used.
	Inline bool
}

// StageError is the error of a failed stage.
type StageError struct {
	// Index is the 1-based stage number and Total the number of stages.
	Index, Total int
	// Service and Method name the stage.
	Service, Method string
	// InFlight is true when the stage's call was started and abandoned
	// (ctx cancelled), so its outcome is unknown.
	InFlight bool
	// Err is the cause.
	Err error
}

// Label returns "i/n Method", the stage's progress label.
func (e *StageError) Label() string { return Label(e.Index-1, e.Total, e.Method) }

// Error returns "stage i/n Method (service): cause".
func (e *StageError) Error() string {
	return fmt.Sprintf("stage %s (%s): %v", e.Label(), e.Service, e.Err)
}

// Unwrap returns the cause.
func (e *StageError) Unwrap() error { return e.Err }

// Label returns the progress label of stage i (0-based) of n: "2/3 Libvirt.CreateGuest".
func Label(i, n int, method string) string {
	return fmt.Sprintf("%d/%d %s", i+1, n, method)
}

// Run runs stages in order on in and returns the last stage's output (in
// itself for no stages). Cancelling ctx abandons a running stage, at once or
// after h.Grace, and starts no next one.
func Run[T any](ctx context.Context, stages []Stage[T], in T, h Hooks[T]) (T, error) {
	cur := in
	for i, s := range stages {
		fail := func(err error, inFlight bool) (T, error) {
			var zero T
			return zero, &StageError{Index: i + 1, Total: len(stages), Service: s.Service, Method: s.Method, InFlight: inFlight, Err: err}
		}
		if err := ctx.Err(); err != nil {
			return fail(err, false)
		}
		if h.Before != nil {
			if err := h.Before(ctx, i, s, cur); err != nil {
				return fail(err, false)
			}
		}
		out, err := runStage(ctx, s, cur, h)
		if err != nil {
			return fail(err, ctx.Err() != nil)
		}
		if h.Validate != nil {
			if err := h.Validate(cur, out); err != nil {
				return fail(err, false)
			}
		}
		if h.After != nil {
			if err := h.After(ctx, i, s, out); err != nil {
				return fail(err, false)
			}
		}
		cur = out
	}
	return cur, nil
}

// runStage runs one stage, returning when ctx is done and the stage has not
// returned within h.Grace; an abandoned call finishes in the background and
// its result is dropped. A stage that returns within the grace of ctx's end
// (or at all, for h.Inline) gets ctx's error whatever it returned.
func runStage[T any](ctx context.Context, s Stage[T], in T, h Hooks[T]) (T, error) {
	var zero T
	if h.Inline {
		out, err := s.Run(ctx, in)
		if err == nil && ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return out, err
	}
	type result struct {
		out T
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := s.Run(ctx, in)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return r.out, r.err
	case <-ctx.Done():
	}
	if h.Grace > 0 {
		t := time.NewTimer(h.Grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	}
	return zero, ctx.Err()
}
