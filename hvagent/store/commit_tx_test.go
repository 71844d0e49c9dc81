package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// runs is a write that inserts v and counts how many times it ran.
func runs(v string, n *atomic.Int32) func(context.Context, querier) error {
	return func(ctx context.Context, tx querier) error {
		n.Add(1)
		return insert(v)(ctx, tx)
	}
}

// errHalfDone is the error of halfDone.
var errHalfDone = errors.New("failed after its first statement")

// halfDone is a write that inserts v and then fails, or panics.
func halfDone(v string, panics bool) func(context.Context, querier) error {
	return func(ctx context.Context, tx querier) error {
		if err := insert(v)(ctx, tx); err != nil {
			return err
		}
		if panics {
			panic(errHalfDone)
		}
		return errHalfDone
	}
}

// firstWaiting is a write that, the first time it runs (it may run
// again), closes started and waits until n more writes are handed over;
// then it runs fn.
func firstWaiting(c *committer, n int, started chan<- struct{}, fn func(context.Context, querier) error) func(context.Context, querier) error {
	var once sync.Once
	return func(ctx context.Context, tx querier) error {
		var err error
		once.Do(func() {
			close(started)
			err = handedOver(c, n)
		})
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	}
}

// TestCommitter_PureWriteFailsWithoutSavepoint: pure writes run without
// savepoints; when one fails half done, the transaction is rolled back and
// the writes before it run again in a new one: nothing of the failed write
// is committed, every other write exactly once, in one commit.
func TestCommitter_PureWriteFailsWithoutSavepoint(t *testing.T) {
	for _, panics := range []bool{false, true} {
		c, pool, commits := testCommitter(t)
		ctx := context.Background()
		var first, second, last atomic.Int32
		started := make(chan struct{})
		errs := make(chan error, 4)
		go func() { errs <- c.doPure(ctx, firstWaiting(c, 3, started, runs("a", &first))) }()
		<-started
		go func() { errs <- c.doPure(ctx, runs("b", &second)) }()
		require.NoError(t, handedOver(c, 1))
		go func() { errs <- c.doPure(ctx, halfDone("x", panics)) }()
		require.NoError(t, handedOver(c, 2))
		go func() { errs <- c.doPure(ctx, runs("c", &last)) }()
		var failed []error
		for range 4 {
			if err := <-errs; err != nil {
				failed = append(failed, err)
			}
		}
		require.Len(t, failed, 1)
		if panics {
			require.ErrorContains(t, failed[0], "write panicked")
		} else {
			require.ErrorIs(t, failed[0], errHalfDone)
		}
		require.Equal(t, []string{"a", "b", "c"}, stored(t, pool), "the failed write left nothing")
		require.Equal(t, int32(2), first.Load(), "ran again after the rollback")
		require.Equal(t, int32(2), second.Load())
		require.Equal(t, int32(1), last.Load(), "a write after the failure runs once")
		require.Equal(t, int32(1), commits.Load())
	}
}

// TestCommitter_ImpureWriteIsNeverRunTwice: a write that is not pure makes
// the writes after it in its transaction run in savepoints: one of them
// that fails is undone alone, and the impure write runs once.
func TestCommitter_ImpureWriteIsNeverRunTwice(t *testing.T) {
	c, pool, commits := testCommitter(t)
	ctx := context.Background()
	var first atomic.Int32
	started := make(chan struct{})
	errs := make(chan error, 3)
	go func() { errs <- c.do(ctx, firstWaiting(c, 2, started, runs("a", &first))) }()
	<-started
	go func() { errs <- c.doPure(ctx, halfDone("x", false)) }()
	require.NoError(t, handedOver(c, 1))
	go func() { errs <- c.doPure(ctx, insert("b")) }()
	failed := 0
	for range 3 {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, errHalfDone)
			failed++
		}
	}
	require.Equal(t, 1, failed)
	require.Equal(t, []string{"a", "b"}, stored(t, pool))
	require.Equal(t, int32(1), first.Load())
	require.Equal(t, int32(1), commits.Load())
}
