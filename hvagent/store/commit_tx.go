package store

import (
	"context"
	"fmt"
	"time"
)

// txRun is one transaction of the committer: its writes, in order, and the
// error of each that failed.
//
// Its first write runs without a savepoint: the transaction is its
// savepoint. So does each later write while every write before it is pure
// (doPure); when such a write fails, redo rolls the transaction back and
// runs the writes before it again in a new one, which costs a failure
// what savepoints would have cost every write. Any other write runs in a
// savepoint of its own, as does every write after a redo or after a write
// that is not pure.
type txRun struct {
	c       *committer
	tx      *wtx
	began   time.Time
	batch   []*writeReq
	errs    []error
	guarded bool // later writes run in savepoints
	guests  bool // a write may have written a guest (see guestWrite)
}

// guestWriteKey is the context key under which a pure write finds where
// to record that it wrote a guest (see guestWrite).
type guestWriteKey struct{}

// guestWrite records, for the committer, that the pure write (doPure)
// running on ctx wrote a guest row or a guest's metadata: its transaction
// then ends the guest cache's generation. Every statement that writes the
// guests or guest_metadata tables in a pure write is preceded by it. A
// write that is not pure is taken to write guests. A transaction that
// wrote none (a job's claim, stage or end with its guest unchanged) leaves
// the cache as it is: nothing it holds can have changed.
func guestWrite(ctx context.Context) {
	if p, ok := ctx.Value(guestWriteKey{}).(*bool); ok {
		*p = true
	}
}

// transact runs the transaction of commit and returns its writes, the
// error of each that failed alone, whether a write may have written a
// guest, and the error of the commit.
func (c *committer) transact(first *writeReq) ([]*writeReq, []error, bool, error) {
	t := &txRun{c: c, batch: []*writeReq{first}, began: time.Now()}
	var err error
	if t.tx, err = beginWrite(c.pool); err != nil {
		return t.batch, nil, false, fmt.Errorf("commit: %w", err)
	}
	t.errs = []error{t.runFirst(first)}
	if t.errs[0] != nil { // nothing else ran
		t.tx.rollback()
		return t.batch, t.errs, t.guests, nil
	}
	t.guarded = !first.pure
	if err := t.run(); err != nil {
		return t.batch, t.errs, t.guests, err
	}
	return t.batch, t.errs, t.guests, t.commit()
}

// run runs each write that waits, until none waits, the batch is full or
// the statements took the committer's budget.
func (t *txRun) run() error {
	for len(t.batch) < maxBatch && time.Since(t.began) < t.c.budget {
		r, ok := t.c.next()
		if !ok {
			return nil
		}
		t.batch = append(t.batch, r)
		if err := r.ctx.Err(); err != nil {
			t.errs = append(t.errs, err)
			continue
		}
		if t.guarded {
			t.errs = append(t.errs, t.runSavepoint(r))
			continue
		}
		err := t.runWrite(r)
		t.errs = append(t.errs, err)
		t.guarded = !r.pure
		if err != nil {
			if err := t.redo(); err != nil {
				return err
			}
		}
	}
	return nil
}

// redo undoes the last write, which failed outside a savepoint: it rolls
// the transaction back, begins another and runs again, each in a
// savepoint, the writes before it that had succeeded (all pure). Later
// writes run in savepoints too.
func (t *txRun) redo() error {
	t.tx.rollback()
	var err error
	if t.tx, err = beginWrite(t.c.pool); err != nil {
		t.tx = nil
		return fmt.Errorf("commit: %w", err)
	}
	t.guarded = true
	for i, r := range t.batch[:len(t.batch)-1] {
		if t.errs[i] == nil {
			t.errs[i] = t.runSavepoint(r)
		}
	}
	return nil
}

// commit commits the transaction, with the committer's hooks around it.
func (t *txRun) commit() error {
	start := time.Now()
	if t.guests && t.c.beforeCommit != nil {
		t.c.beforeCommit()
	}
	if err := t.tx.commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if f := t.c.onCommit.Load(); f != nil {
		(*f)(time.Since(start))
	}
	return nil
}

// runSavepoint runs one write inside a savepoint, undoing it alone when it
// fails or panics.
func (t *txRun) runSavepoint(r *writeReq) (err error) {
	if err := t.tx.exec(`SAVEPOINT write`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = t.tx.exec(`ROLLBACK TO write`)
		}
		if rerr := t.tx.exec(`RELEASE write`); rerr != nil && err == nil {
			err = fmt.Errorf("release savepoint: %w", rerr)
		}
	}()
	return t.runWrite(r)
}

// runFirst runs the first write of a transaction, unless its ctx ended
// before it started.
func (t *txRun) runFirst(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return t.runWrite(r)
}

// runWrite runs a write's fn on a context without cancellation (once
// started, a write runs to its end), turning a panic into an error. A
// pure write's context carries where guestWrite records that it wrote a
// guest; any other write is taken to.
func (t *txRun) runWrite(r *writeReq) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	ctx := context.WithoutCancel(r.ctx)
	if r.pure {
		ctx = context.WithValue(ctx, guestWriteKey{}, &t.guests)
	} else {
		t.guests = true
	}
	return r.fn(ctx, t.tx.conn)
}
