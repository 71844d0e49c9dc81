package store

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch caps how many writes share one commit: enough for 64 callers
// and the queue workers that run their jobs.
const maxBatch = 128

// txBudget is how long a transaction's statements run before it stops
// taking in the writes that wait: those wait for the next commit instead.
// Each write is answered only when its whole transaction is durable, so a
// transaction that took in every waiting write would make its first write
// wait for the statements of all the others: when a hundred queues end
// their jobs together, for ~20 ms. With the budget the first writes are
// answered after ~2 ms and their queues go on, which spreads the next
// round of writes out instead of bunching it again. 2 ms is about what a
// commit costs here: a batch pays at most as much in others' statements
// as in its own fsync.
const txBudget = 2 * time.Millisecond

// errClosed is returned by writes after Close.
var errClosed = errors.New("store is closed")

// committer runs every write of the store on the one writer connection and
// lets concurrent writes share a commit (group commit): each write is
// atomic on its own and fails alone (see txRun), and each caller returns
// only once the commit that holds its write is durable.
type committer struct {
	pool *sql.DB
	ckpt *checkpointer // kicked after each commit; asks for catch-ups
	reqs chan *writeReq
	quit chan struct{}
	// budget: a transaction takes in no more writes once its statements
	// ran this long (see txBudget).
	budget time.Duration
	wg     sync.WaitGroup

	// held are the large writes next put off because they came behind
	// other writes: each begins a transaction of its own next (loop only).
	held []*writeReq

	mu     sync.RWMutex
	closed bool

	// beforeCommit, when set (before the first write), runs right before
	// the COMMIT of each transaction that may have written a guest (see
	// guestWrite), and afterTx after each such transaction, committed or
	// not, before its writes are answered: the guest cache is held in
	// between and ends its generation at afterTx.
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
	fn    func(context.Context, querier) error
	done  chan error
	large bool // see doLarge
	pure  bool // see doPure
	// putOff: the write was held, then put off once more for the writes
	// waiting when its turn came (see loop).
	putOff bool
}

// newCommitter starts the committer of the writer pool; budget is how long
// a transaction's statements run before it stops taking in writes
// (txBudget).
func newCommitter(pool *sql.DB, ckpt *checkpointer, budget time.Duration) *committer {
	c := &committer{pool: pool, ckpt: ckpt, budget: budget, reqs: make(chan *writeReq, maxBatch), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// do runs fn in a transaction shared with concurrent writes and returns
// once it is committed (or failed). ctx bounds the wait for the writer: a
// write whose ctx ends before it starts fails with ctx's error. Once
// started, a write runs to its end: fn gets ctx without its cancellation
// (its statements are short, and a cancellable context costs the SQLite
// driver a goroutine handoff per statement, on the one writer). A write
// that fails for want of disk space gives EUNAVAILABLE (see diskFull).
func (c *committer) do(ctx context.Context, fn func(context.Context, querier) error) error {
	return diskFull(c.submit(ctx, &writeReq{fn: fn}))
}

// doPure is do for a write whose only effects are its statements and the
// variables it sets each time it runs (a job's transitions): the committer
// runs it without a savepoint of its own, and runs it again, in a new
// transaction, when a later write of its transaction fails (see
// txRun.redo).
func (c *committer) doPure(ctx context.Context, fn func(context.Context, querier) error) error {
	return diskFull(c.submit(ctx, &writeReq{fn: fn, pure: true}))
}

// doLarge is do for a write whose statements take much longer than a
// small write's (one that rewrites hundreds of rows). It always runs first
// in its transaction: the writes that arrive while it runs share its
// commit, but no write already in a transaction, or waiting for one, waits
// for it (it would delay their commit by its whole run to save itself one
// commit). It is held for a later transaction instead, at most two commits
// later (see loop). One large write a transaction, so that a write that
// joined after one never waits for a second.
func (c *committer) doLarge(ctx context.Context, fn func(context.Context, querier) error) error {
	return diskFull(c.submit(ctx, &writeReq{fn: fn, large: true}))
}

// submit hands r (its fn and kind) to the commit loop and waits for its
// outcome.
func (c *committer) submit(ctx context.Context, r *writeReq) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errClosed
	}
	r.ctx, r.done = ctx, make(chan error, 1)
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

// next returns a write that waits to join the current transaction, if
// any. A large write (see doLarge) is held for a transaction of its own
// instead.
func (c *committer) next() (*writeReq, bool) {
	for {
		select {
		case r := <-c.reqs:
			if r.large {
				c.held = append(c.held, r)
				continue
			}
			return r, true
		default:
			return nil, false
		}
	}
}

// commit runs first in a transaction and then, one after the other, the
// writes that wait meanwhile (so that a write arriving during a long one
// shares its commit instead of waiting for the next), until none waits,
// maxBatch ran or the statements took their budget; then it commits, and
// answers each write once the commit is durable or failed.
// A catch-up checkpoint the checkpointer asked for runs first, and counts
// in the hold.
func (c *committer) commit(first *writeReq) {
	start := time.Now()
	c.ckpt.catchUp(c.pool)
	batch, errs, guests, err := c.transact(first)
	if guests && c.afterTx != nil {
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
	// The writes' callers were just made runnable on this goroutine's P.
	// The next transaction's statements are cgo calls, which keep the P
	// however long they run back to back, so the callers would wait for
	// the other CPU to steal them or for this loop to block: yield to
	// them first (a job's next call starts ~0.4 ms sooner; see
	// BENCHMARKS.md, queued actions).
	runtime.Gosched()
}
