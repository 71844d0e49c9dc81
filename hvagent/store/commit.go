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

// maxBatch caps how many writes share one commit: enough for 64 callers
// and the queue workers that run their jobs.
const maxBatch = 128

// errClosed is returned by writes after Close.
var errClosed = errors.New("store is closed")

// committer runs every write of the store on the one writer connection and
// lets concurrent writes share a commit (group commit): each write runs in
// its own savepoint, so it is atomic on its own and fails alone, and each
// caller returns only once the commit that holds its write is durable.
type committer struct {
	pool *sql.DB
	ckpt *checkpointer // kicked after each commit; asks for catch-ups
	reqs chan *writeReq
	quit chan struct{}
	wg   sync.WaitGroup

	// held are the large writes gather put off because they came behind
	// other writes: each begins a transaction of its own next (loop only).
	held []*writeReq

	mu     sync.RWMutex
	closed bool

	// beforeCommit, when set (before the first write), runs right before
	// each COMMIT, and afterTx after each transaction, committed or not,
	// before its writes are answered: the guest cache is held in between
	// and ends its generation at afterTx.
	beforeCommit, afterTx func()

	// onHold, when set, receives how long each batch held the writer, from
	// BEGIN to the end of COMMIT (benchmarks and tests measure with it).
	onHold atomic.Pointer[func(time.Duration)]
	// onCommit, when set, receives how long each COMMIT took, the WAL
	// write and its fsync (the rest of the hold is the writes' statements).
	onCommit atomic.Pointer[func(time.Duration)]
}

// writeReq is one write waiting for the committer.
type writeReq struct {
	ctx   context.Context
	fn    func(context.Context, *sql.Tx) error
	done  chan error
	large bool // see doLarge
	// putOff: the write was held, then put off once more for the writes
	// waiting when its turn came (see loop).
	putOff bool
}

func newCommitter(pool *sql.DB, ckpt *checkpointer) *committer {
	c := &committer{pool: pool, ckpt: ckpt, reqs: make(chan *writeReq, maxBatch), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// write runs fn in a transaction shared with concurrent writes and returns
// once it is committed (or failed), as do does.
func (c *committer) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return c.do(ctx, func(_ context.Context, tx *sql.Tx) error { return fn(tx) })
}

// do runs fn in a transaction shared with concurrent writes and returns
// once it is committed (or failed). ctx bounds the wait for the writer: a
// write whose ctx ends before it starts fails with ctx's error. Once
// started, a write runs to its end: fn gets ctx without its cancellation
// (its statements are short, and a cancellable context costs the SQLite
// driver a goroutine handoff per statement, on the one writer). A write
// that fails for want of disk space gives EUNAVAILABLE (see diskFull).
func (c *committer) do(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	return diskFull(c.submit(ctx, fn, false))
}

// doLarge is do for a write whose statements take much longer than a
// small write's (one that rewrites hundreds of rows). It always runs first
// in its transaction: the writes that arrive while it runs share its
// commit, but no write already in a transaction, or waiting for one, waits
// for it (it would delay their commit by its whole run to save itself one
// commit). It is held for a later transaction instead, at most two commits
// later (see loop). One large write a transaction, so that a write that
// joined after one never waits for a second.
func (c *committer) doLarge(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	return diskFull(c.submit(ctx, fn, true))
}

// submit hands fn to the commit loop and waits for its outcome.
func (c *committer) submit(ctx context.Context, fn func(context.Context, *sql.Tx) error, large bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errClosed
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1), large: large}
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

// loop commits the writes handed over, in transactions begun by the
// oldest waiting write. A held large write begins the next one, unless
// writes arrived meanwhile: they go first, in a transaction of their own,
// and a held write is put off so only once (a write that arrived during a
// commit does not wait for a large write's statements too, and a large
// write waits at most two commits more than it would have).
func (c *committer) loop() {
	defer c.wg.Done()
	for {
		if len(c.held) > 0 { // its caller still waits: close cannot have begun
			r := c.held[0]
			if r.putOff || len(c.reqs) == 0 {
				c.held = c.held[1:]
				c.commit(r)
				continue
			}
			r.putOff = true
		}
		select {
		case r := <-c.reqs:
			c.commit(r)
		case <-c.quit:
			return
		}
	}
}

// gather appends to batch the writes already waiting, up to maxBatch in
// all, and returns it. A large write (see doLarge) behind others is held
// for the next transaction instead.
func (c *committer) gather(batch []*writeReq) []*writeReq {
	for len(batch) < maxBatch {
		select {
		case r := <-c.reqs:
			if r.large && len(batch) > 0 {
				c.held = append(c.held, r)
				continue
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs first and the writes waiting with it in one transaction,
// takes in those that arrive while it runs (so that a write arriving
// during a long one shares its commit instead of waiting for the next),
// commits, and answers each write once the commit is durable or failed.
// A catch-up checkpoint the checkpointer asked for runs first, and counts
// in the hold.
func (c *committer) commit(first *writeReq) {
	start := time.Now()
	c.ckpt.catchUp(c.pool)
	batch, errs, err := c.transact(first)
	if c.afterTx != nil {
		c.afterTx()
	}
	if f := c.onHold.Load(); f != nil {
		(*f)(time.Since(start))
	}
	c.ckpt.kick()
	for i, r := range batch {
		if i < len(errs) && errs[i] != nil {
			r.done <- errs[i]
			continue
		}
		r.done <- err
	}
}

// transact runs the transaction of commit and returns its writes, the
// error of each that failed alone, and the error of the commit.
func (c *committer) transact(first *writeReq) ([]*writeReq, []error, error) {
	batch := c.gather([]*writeReq{first})
	tx, err := c.pool.BeginTx(context.Background(), nil)
	if err != nil {
		return batch, nil, fmt.Errorf("commit: %w", err)
	}
	batch, errs, err := c.run(tx, batch)
	if errors.Is(err, errAloneFailed) { // batch is that one write
		_ = tx.Rollback()
		return batch, errs, nil
	}
	start := time.Now()
	if c.beforeCommit != nil {
		c.beforeCommit()
	}
	if err = tx.Commit(); err != nil {
		_ = tx.Rollback()
		return batch, errs, fmt.Errorf("commit: %w", err)
	}
	if f := c.onCommit.Load(); f != nil {
		(*f)(time.Since(start))
	}
	return batch, errs, nil
}

// errAloneFailed tells commit that the only write of its transaction
// failed: the transaction must be rolled back.
var errAloneFailed = errors.New("the only write of the transaction failed")

// run runs the writes of batch in tx, each in its own savepoint, then
// those that arrived meanwhile, until none waits or the batch is full, and
// returns the batch and each write's error. A write found alone runs
// without a savepoint (the transaction is its savepoint); when it fails,
// run returns errAloneFailed.
func (c *committer) run(tx *sql.Tx, batch []*writeReq) ([]*writeReq, []error, error) {
	errs := make([]error, 0, len(batch))
	if len(batch) == 1 {
		if err := runAlone(tx, batch[0]); err != nil {
			return batch, []error{err}, errAloneFailed
		}
		errs = append(errs, nil)
	}
	for i := len(errs); ; i++ {
		if i == len(batch) {
			if batch = c.gather(batch); i == len(batch) {
				return batch, errs, nil
			}
		}
		errs = append(errs, runSavepoint(tx, batch[i]))
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
	return r.fn(context.WithoutCancel(r.ctx), tx)
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
	return r.fn(context.WithoutCancel(r.ctx), tx)
}
