package subagent

import (
	"io"
	"sync"
)

// handoffBody is the body of an in-process reply that starts with a
// handed-over file: the file (up to the declared length), then whatever
// the handler wrote to the connection after it. It is safe to Close while
// a Read or WriteTo runs; Close then waits for the step in progress.
type handoffBody struct {
	mu    sync.Mutex
	ho    *handoff // nil once the file part is done
	taken int64    // bytes read of the file part
	rest  io.ReadCloser
	done  bool // closed
}

func newHandoffBody(ho *handoff, rest io.ReadCloser) *handoffBody {
	return &handoffBody{ho: ho, rest: rest}
}

// part returns a reader of at most max more bytes of the file part: one
// *io.LimitedReader directly over the file, the form sendfile takes. The
// caller holds mu and ho is not nil.
func (b *handoffBody) part(max int64) *io.LimitedReader {
	if b.ho.n >= 0 {
		max = min(max, b.ho.n-b.taken)
	}
	return &io.LimitedReader{R: b.ho.r, N: max}
}

// finish ends the file part, returning err (nil: all read) to the handler
// with the count taken. The caller holds mu.
func (b *handoffBody) finish(err error) {
	if b.ho == nil {
		return
	}
	b.ho.done <- handoffResult{n: b.taken, err: err}
	b.ho = nil
}

// Read reads the file part, then the rest.
func (b *handoffBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return 0, errHandoffClosed
	}
	if len(p) == 0 {
		b.mu.Unlock()
		return 0, nil
	}
	if b.ho != nil {
		lr := b.part(int64(len(p)))
		n, err := lr.Read(p)
		b.taken += int64(n)
		if err == nil && lr.N == 0 && b.ho.n >= 0 && b.taken == b.ho.n {
			err = io.EOF // all the declared length read
		}
		switch {
		case err == io.EOF:
			b.finish(nil)
			err = nil
		case err != nil:
			b.finish(err)
		}
		b.mu.Unlock()
		if n > 0 || err != nil {
			return n, err
		}
	} else {
		b.mu.Unlock()
	}
	return b.rest.Read(p)
}

// WriteTo copies the file part to w in steps of handoffChunk bytes, each
// through w's ReadFrom when it has one (sendfile to a socket), then the
// rest.
func (b *handoffBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		n, more, err := b.step(w)
		total += n
		if err != nil {
			return total, err
		}
		if !more {
			break
		}
	}
	n, err := io.Copy(w, b.rest)
	return total + n, err
}

// step copies one chunk of the file part to w; more is false once the
// part is done.
func (b *handoffBody) step(w io.Writer) (n int64, more bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, false, errHandoffClosed
	}
	if b.ho == nil {
		return 0, false, nil
	}
	lr := b.part(handoffChunk)
	want := lr.N
	n, err = io.Copy(w, lr)
	b.taken += n
	if err != nil {
		b.finish(err)
		return n, false, err
	}
	if n < want || (b.ho.n >= 0 && b.taken == b.ho.n) {
		b.finish(nil)
		return n, false, nil
	}
	return n, true, nil
}

// Close ends the reply: a file part not read to its end ends the handler's
// ReadFrom with an error, and the connection is closed unless the body was
// read to its end.
func (b *handoffBody) Close() error {
	b.mu.Lock()
	b.done = true
	b.finish(errHandoffClosed)
	b.mu.Unlock()
	return b.rest.Close()
}
