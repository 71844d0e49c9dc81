package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch caps how many writes share one commit.
const maxBatch = 64

// errClosed is returned by writes after Close.
var errClosed = errors.New("store is closed")

// committer runs every write of the store on the one writer connection and
// lets concurrent writes share a commit (group commit): each write runs in
// its own savepoint, so it is atomic on its own and fails alone, and each
// caller returns only once the commit that holds its write is durable.
type committer struct {
	pool *sql.DB
	reqs chan *writeReq
	quit chan struct{}
	wg   sync.WaitGroup

	mu     sync.RWMutex
	closed bool

	// onHold, when set, receives how long each batch held the writer, from
	// BEGIN to the end of COMMIT (benchmarks and tests measure with it).
	onHold atomic.Pointer[func(time.Duration)]
}

// writeReq is one write waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

func newCommitter(pool *sql.DB) *committer {
	c := &committer{pool: pool, reqs: make(chan *writeReq), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// write runs fn in a transaction shared with concurrent writes and returns
// once it is committed (or failed). A write that fails for want of disk
// space gives EUNAVAILABLE (see diskFull).
func (c *committer) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return diskFull(c.run(ctx, fn))
}

// run hands fn to the commit loop and waits for its outcome.
func (c *committer) run(ctx context.Context, fn func(*sql.Tx) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errClosed
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

// close stops the committer after the writes already handed to it.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	for {
		select {
		case r := <-c.reqs:
			c.commit(c.gather(r))
		case <-c.quit:
			return
		}
	}
}

// gather returns first and every write already waiting, up to maxBatch.
func (c *committer) gather(first *writeReq) []*writeReq {
	batch := []*writeReq{first}
	for len(batch) < maxBatch {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs a batch in one transaction and answers each write.
func (c *committer) commit(batch []*writeReq) {
	if f := c.onHold.Load(); f != nil {
		defer func(start time.Time) { (*f)(time.Since(start)) }(time.Now())
	}
	errs := make([]error, len(batch))
	tx, err := c.pool.BeginTx(context.Background(), nil)
	if err == nil && len(batch) == 1 { // alone: the transaction is its savepoint
		if errs[0] = runAlone(tx, batch[0]); errs[0] != nil {
			_ = tx.Rollback()
			batch[0].done <- errs[0]
			return
		}
		err = tx.Commit()
	} else if err == nil {
		for i, r := range batch {
			errs[i] = runSavepoint(tx, r)
		}
		err = tx.Commit()
	}
	if err != nil {
		if tx != nil {
			_ = tx.Rollback()
		}
		err = fmt.Errorf("commit: %w", err)
	}
	for i, r := range batch {
		if errs[i] == nil {
			errs[i] = err
		}
		r.done <- errs[i]
	}
}

// runSavepoint runs one write inside a savepoint, undoing it alone when it
// fails or panics.
func runSavepoint(tx *sql.Tx, r *writeReq) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if _, err := tx.Exec(`SAVEPOINT write`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
		if err != nil {
			_, _ = tx.Exec(`ROLLBACK TO write`)
		}
		if _, rerr := tx.Exec(`RELEASE write`); rerr != nil && err == nil {
			err = fmt.Errorf("release savepoint: %w", rerr)
		}
	}()
	return r.fn(tx)
}

// runAlone runs the only write of a batch, turning a panic into an error.
func runAlone(tx *sql.Tx, r *writeReq) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return r.fn(tx)
}
