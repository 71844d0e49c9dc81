package httpconn

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBodyClosed is the error of a read of a reply body after its Close.
var ErrBodyClosed = errors.New("httpconn: read on closed reply body")

// body is the body of a reply read by a Pool. Close gives the connection
// back when the body was read to its end (draining some of it, see
// Config.WaitDrain) and the reply allows keep-alive, and closes it
// otherwise. Close may be called while a Read is under way in another
// goroutine: it then closes the connection, which ends the Read.
type body struct {
	body   io.ReadCloser
	pc     *conn
	pool   *Pool
	stop   func() bool // stops the close on the request's context
	keep   bool        // the reply allows reuse
	closed atomic.Bool

	mu  sync.Mutex // held by Read and by Close's drain
	eof bool
}

// Read reads the body.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, ErrBodyClosed
	}
	n, err := b.body.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

// Close ends the reply, keeping or closing its connection.
func (b *body) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	if !b.mu.TryLock() { // a Read is blocked in another goroutine
		b.stop()
		b.pc.close()
		return nil
	}
	defer b.mu.Unlock()
	if !b.eof {
		b.drain()
	}
	// stop is false when the request's context ended: the connection is closed.
	if b.stop() && b.eof && b.keep {
		b.pool.put(b.pc)
		return nil
	}
	b.pc.close()
	return nil
}

// drain reads the rest of the body, up to DrainLimit: waiting for it with
// WaitDrain, else only what is already read from the socket (a read that
// needs the socket fails at once on a deadline in the past).
func (b *body) drain() {
	if !b.pool.waitDrain {
		if b.pc.raw.SetReadDeadline(time.Unix(1, 0)) != nil {
			return
		}
	}
	var buf [512]byte
	for left := DrainLimit + 1; left > 0; {
		n, err := b.body.Read(buf[:min(left, len(buf))])
		left -= n
		if errors.Is(err, io.EOF) {
			b.eof = true
			break
		}
		if err != nil {
			return
		}
	}
	if b.eof && !b.pool.waitDrain && b.pc.raw.SetReadDeadline(time.Time{}) != nil {
		b.eof = false
	}
}
