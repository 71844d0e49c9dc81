package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// testCommitter returns a committer on a scratch database with a table t
// and a counter of its commits.
func testCommitter(t *testing.T) (*committer, *sql.DB, *atomic.Int32) {
	t.Helper()
	// Statements that wait for other writes must not end their
	// transaction's intake: no budget.
	return budgetCommitter(t, time.Hour)
}

// budgetCommitter is testCommitter with a transaction budget.
func budgetCommitter(t *testing.T, budget time.Duration) (*committer, *sql.DB, *atomic.Int32) {
	t.Helper()
	dsn := writerDSN(filepath.Join(t.TempDir(), "c.db"), "FULL")
	pool, err := openSQLite(dsn, writerPragmas)
	require.NoError(t, err)
	pool.SetMaxOpenConns(1)
	_, err = pool.Exec(`CREATE TABLE t (v TEXT PRIMARY KEY NOT NULL) STRICT`)
	require.NoError(t, err)
	ckptPool, err := openSQLite(dsn, writerPragmas)
	require.NoError(t, err)
	ckpt := newCheckpointer(ckptPool, zerolog.Nop())
	c := newCommitter(pool, ckpt, budget)
	t.Cleanup(func() {
		c.close()
		ckpt.close()
		require.NoError(t, ckptPool.Close())
		require.NoError(t, pool.Close())
	})
	var commits atomic.Int32
	f := func(time.Duration) { commits.Add(1) }
	c.onHold.Store(&f)
	return c, pool, &commits
}

// insert is a write that inserts v into t.
func insert(v string) func(context.Context, querier) error {
	return func(ctx context.Context, tx querier) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, v)
		return err
	}
}

// stored returns the values of t.
func stored(t *testing.T, pool *sql.DB) []string {
	t.Helper()
	rows, err := pool.Query(`SELECT v FROM t ORDER BY v`)
	require.NoError(t, err)
	defer rows.Close()
	vs := []string{}
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(t, rows.Err())
	return vs
}

// TestCommitter_LateWriteJoinsTheRunningCommit: a write handed over while
// another runs shares its transaction and commit, and each fails alone.
func TestCommitter_LateWriteJoinsTheRunningCommit(t *testing.T) {
	c, pool, commits := testCommitter(t)
	ctx := context.Background()
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- c.do(ctx, func(ctx context.Context, tx querier) error {
			close(started)
			for give := time.Now().Add(time.Minute); len(c.reqs) < 2; { // both late writes are handed over
				if time.Now().After(give) {
					return errors.New("the late writes were never handed over")
				}
				runtime.Gosched()
			}
			return insert("a")(ctx, tx)
		})
	}()
	<-started
	late := make(chan error, 2)
	go func() { late <- c.do(ctx, insert("b")) }()
	go func() { late <- c.do(ctx, insert("a")) }() // duplicate: fails alone
	require.NoError(t, <-first)
	errs := []error{<-late, <-late}
	require.Equal(t, 1, countNil(errs), errs)
	require.Equal(t, []string{"a", "b"}, stored(t, pool))
	require.Equal(t, int32(1), commits.Load())
}

// TestCommitter_BudgetEndsTheIntake: once a transaction's statements ran
// for its budget, the writes that wait are left for the next transaction,
// which they share.
func TestCommitter_BudgetEndsTheIntake(t *testing.T) {
	c, pool, commits := budgetCommitter(t, time.Millisecond)
	ctx := context.Background()
	var first, late1, late2 querier
	started := make(chan struct{})
	done := make(chan error, 3)
	go func() {
		done <- c.do(ctx, func(ctx context.Context, tx querier) error {
			close(started)
			if err := handedOver(c, 2); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond) // past the budget
			return txOf("a", &first)(ctx, tx)
		})
	}()
	<-started
	go func() { done <- c.do(ctx, txOf("b", &late1)) }()
	go func() { done <- c.do(ctx, txOf("c", &late2)) }()
	for range 3 {
		require.NoError(t, <-done)
	}
	require.NotSame(t, first, late1, "a write waiting past the budget goes to the next transaction")
	require.Same(t, late1, late2, "the writes left behind share the next transaction")
	require.Equal(t, int32(2), commits.Load())
	require.Equal(t, []string{"a", "b", "c"}, stored(t, pool))
}

// countNil counts the nil errors of errs.
func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// TestCommitter_LoneWriteFailsAndPanics: a write alone in its transaction
// that fails or panics is rolled back and gets its error.
func TestCommitter_LoneWriteFailsAndPanics(t *testing.T) {
	c, pool, _ := testCommitter(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := c.do(ctx, func(ctx context.Context, tx querier) error {
		if err := insert("x")(ctx, tx); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	err = c.do(ctx, func(ctx context.Context, tx querier) error {
		if err := insert("y")(ctx, tx); err != nil {
			return err
		}
		panic("broken write")
	})
	require.ErrorContains(t, err, "broken write")
	require.NoError(t, c.do(ctx, insert("z")))
	require.Equal(t, []string{"z"}, stored(t, pool))
}

// TestCommitter_CanceledBeforeItRuns: a write whose context has ended
// before the committer runs it is not run.
func TestCommitter_CanceledBeforeItRuns(t *testing.T) {
	c, pool, _ := testCommitter(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.do(ctx, insert("x")), context.Canceled)
	require.Empty(t, stored(t, pool))
}

// TestCommitter_WriteContextIsNotCancellable: a running write gets its
// caller's values without its cancellation.
func TestCommitter_WriteContextIsNotCancellable(t *testing.T) {
	c, _, _ := testCommitter(t)
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	var got context.Context
	err := c.do(ctx, func(wctx context.Context, tx querier) error {
		got = wctx
		return nil
	})
	require.NoError(t, err)
	require.Nil(t, got.Done())
	require.Equal(t, "v", got.Value(key{}))
}

// handedOver waits until n writes wait in c's channel.
func handedOver(c *committer, n int) error {
	for give := time.Now().Add(time.Minute); len(c.reqs) < n; {
		if time.Now().After(give) {
			return errors.New("the late writes were never handed over")
		}
		runtime.Gosched()
	}
	return nil
}

// txOf is a write that inserts v and records its transaction in *got.
func txOf(v string, got *querier) func(context.Context, querier) error {
	return func(ctx context.Context, tx querier) error {
		*got = tx
		return insert(v)(ctx, tx)
	}
}

// TestCommitter_LargeWriteBeginsItsTransaction: a large write handed over
// while a small one runs does not join it (the small write's commit would
// wait for it) but begins the next transaction, a small write behind it
// still joins the running one, and a small write handed over while the
// large one runs shares its commit while a second large one does not.
func TestCommitter_LargeWriteBeginsItsTransaction(t *testing.T) {
	c, pool, commits := testCommitter(t)
	ctx := context.Background()
	var small1, large1, small2, large2, small3 querier
	errs := make(chan error, 5)
	started := make(chan struct{})
	go func() {
		errs <- c.do(ctx, func(ctx context.Context, tx querier) error {
			close(started)
			if err := handedOver(c, 2); err != nil {
				return err
			}
			return txOf("a", &small1)(ctx, tx)
		})
	}()
	<-started
	largeRuns := make(chan struct{})
	go func() {
		errs <- c.doLarge(ctx, func(ctx context.Context, tx querier) error {
			close(largeRuns)
			if err := handedOver(c, 2); err != nil { // handed over while it runs
				return err
			}
			return txOf("b", &large1)(ctx, tx)
		})
	}()
	require.NoError(t, handedOver(c, 1))
	go func() { errs <- c.do(ctx, txOf("c", &small2)) }()
	require.NoError(t, <-errs) // the first small write, with small2
	require.NoError(t, <-errs)
	require.Same(t, small1, small2, "the small write behind the large one joins the running transaction")
	require.Equal(t, int32(1), commits.Load())

	<-largeRuns // (a write handed over before it began would go first: see the next test)
	go func() { errs <- c.doLarge(ctx, txOf("d", &large2)) }()
	require.NoError(t, handedOver(c, 1))
	go func() { errs <- c.do(ctx, txOf("e", &small3)) }()
	for range 3 {
		require.NoError(t, <-errs)
	}
	require.NotSame(t, small1, large1, "the large write began a transaction of its own")
	require.Same(t, large1, small3, "a small write handed over during the large one shares its commit")
	require.NotSame(t, large1, large2, "one large write a transaction")
	require.Equal(t, int32(3), commits.Load())
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, stored(t, pool))
}

// TestCommitter_WaitingWritesGoBeforeAHeldLargeWrite: when a held large
// write's turn comes while other writes wait (they arrived during the
// last commit), they commit first, without it, once; then it does.
func TestCommitter_WaitingWritesGoBeforeAHeldLargeWrite(t *testing.T) {
	c, pool, commits := testCommitter(t)
	ctx := context.Background()
	var small1, large, small2 querier
	errs := make(chan error, 3)
	started := make(chan struct{})
	go func() {
		errs <- c.do(ctx, func(ctx context.Context, tx querier) error {
			close(started)
			if err := handedOver(c, 1); err != nil {
				return err
			}
			return txOf("a", &small1)(ctx, tx)
		})
	}()
	<-started
	var once atomic.Bool
	hook := func(time.Duration) { // after the first commit, before the loop goes on
		commits.Add(1)
		if once.CompareAndSwap(false, true) {
			go func() { errs <- c.do(ctx, txOf("c", &small2)) }()
			if err := handedOver(c, 1); err != nil {
				panic(err)
			}
		}
	}
	c.onHold.Store(&hook)
	go func() { errs <- c.doLarge(ctx, txOf("b", &large)) }()
	for range 3 {
		require.NoError(t, <-errs)
	}
	require.NotSame(t, small1, large)
	require.NotSame(t, small2, large, "the write waiting when the large one's turn came went first, alone")
	require.NotSame(t, small1, small2)
	require.Equal(t, int32(3), commits.Load())
	rows, err := pool.Query(`SELECT v FROM t ORDER BY rowid`)
	require.NoError(t, err)
	defer rows.Close()
	var order []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		order = append(order, v)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"a", "c", "b"}, order, "in the order they ran")
}
