package agenttest

import (
	"context"
	"errors"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

var _ hvagent.Store = (*Store)(nil)

// Store wraps a real hvagent.Store to inject failures of the agent's own
// parts: each XFunc that is set replaces its method, and every other call
// goes to the wrapped Store. A test fails the Nth call of a method with a
// counter in the func and a call to the wrapped store otherwise. Set the
// funcs before the agent starts: they are read without locking.
type Store struct {
	hvagent.Store

	GuestFunc        func(ctx context.Context, id string) (*hvagent.Guest, error)
	ClaimFunc        func(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error)
	AdvanceFunc      func(ctx context.Context, u hvagent.JobUpdate) (*hvagent.Job, error)
	FinishFunc       func(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error)
	FinishClaimFunc  func(ctx context.Context, e hvagent.JobEnd, queue string, o hvagent.ClaimOptions) (*hvagent.Ended, error)
	RequeueFunc      func(ctx context.Context, id, message string, at time.Time) (*hvagent.Job, error)
	RunningJobsFunc  func(ctx context.Context) ([]*hvagent.Job, error)
	QueuedQueuesFunc func(ctx context.Context) ([]string, error)
}

// Guest calls GuestFunc when set, else the wrapped store.
func (s *Store) Guest(ctx context.Context, id string) (*hvagent.Guest, error) {
	if s.GuestFunc != nil {
		return s.GuestFunc(ctx, id)
	}
	return s.Store.Guest(ctx, id)
}

// Claim calls ClaimFunc when set, else the wrapped store.
func (s *Store) Claim(ctx context.Context, queue string, at time.Time, o hvagent.ClaimOptions) (*hvagent.Claim, error) {
	if s.ClaimFunc != nil {
		return s.ClaimFunc(ctx, queue, at, o)
	}
	return s.Store.Claim(ctx, queue, at, o)
}

// EnqueueClaim enqueues without claiming when ClaimFunc is set (the agent
// then claims with Claim, so that the behaviour a test gives ClaimFunc
// reaches every claim), else it calls the wrapped store.
func (s *Store) EnqueueClaim(ctx context.Context, n hvagent.NewJob, o hvagent.ClaimOptions) (*hvagent.Job, *hvagent.Claim, error) {
	if s.ClaimFunc != nil {
		job, err := s.Store.Enqueue(ctx, n)
		return job, nil, err
	}
	return s.Store.EnqueueClaim(ctx, n, o)
}

// Advance calls AdvanceFunc when set, else the wrapped store.
func (s *Store) Advance(ctx context.Context, u hvagent.JobUpdate) (*hvagent.Job, error) {
	if s.AdvanceFunc != nil {
		return s.AdvanceFunc(ctx, u)
	}
	return s.Store.Advance(ctx, u)
}

// Finish calls FinishFunc when set, else the wrapped store.
func (s *Store) Finish(ctx context.Context, e hvagent.JobEnd) (*hvagent.Job, []string, error) {
	if s.FinishFunc != nil {
		return s.FinishFunc(ctx, e)
	}
	return s.Store.Finish(ctx, e)
}

// ErrSeparate is what FinishClaim returns, writing nothing, when FinishFunc
// or ClaimFunc is set.
var ErrSeparate = errors.New("agenttest: FinishFunc or ClaimFunc is set: end and claim separately")

// FinishClaim calls FinishClaimFunc when set. Otherwise, when FinishFunc or
// ClaimFunc is set, it fails with ErrSeparate: the agent then records the
// end with Finish and claims with Claim, so that the failures a test
// injects into either reach every end and every claim, one call each.
// Else it calls the wrapped store.
func (s *Store) FinishClaim(ctx context.Context, e hvagent.JobEnd, queue string, o hvagent.ClaimOptions) (*hvagent.Ended, error) {
	switch {
	case s.FinishClaimFunc != nil:
		return s.FinishClaimFunc(ctx, e, queue, o)
	case s.FinishFunc != nil || s.ClaimFunc != nil:
		return nil, ErrSeparate
	}
	return s.Store.FinishClaim(ctx, e, queue, o)
}

// Requeue calls RequeueFunc when set, else the wrapped store.
func (s *Store) Requeue(ctx context.Context, id, message string, at time.Time) (*hvagent.Job, error) {
	if s.RequeueFunc != nil {
		return s.RequeueFunc(ctx, id, message, at)
	}
	return s.Store.Requeue(ctx, id, message, at)
}

// RunningJobs calls RunningJobsFunc when set, else the wrapped store.
func (s *Store) RunningJobs(ctx context.Context) ([]*hvagent.Job, error) {
	if s.RunningJobsFunc != nil {
		return s.RunningJobsFunc(ctx)
	}
	return s.Store.RunningJobs(ctx)
}

// QueuedQueues calls QueuedQueuesFunc when set, else the wrapped store.
func (s *Store) QueuedQueues(ctx context.Context) ([]string, error) {
	if s.QueuedQueuesFunc != nil {
		return s.QueuedQueuesFunc(ctx)
	}
	return s.Store.QueuedQueues(ctx)
}
