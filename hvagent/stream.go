package hvagent

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// streamIdle is how long a stream may go without data before it is cut.
const streamIdle = 60 * time.Second

// stream runs a stream action (downloadSnapshot, console) on the guest's
// stream throttle. The slot is held until the caller closes the stream.
func (a *Agent) stream(ctx context.Context, name string, act ActionConfig, g *Guest, req Request) (*Result, error) {
	st := act.Stages[0]
	var params any = &subagent.GuestRequest{Guest: g, Action: name, Args: st.Args}
	notFound := "guest " + g.ID + " has no console"
	if name == ActionDownloadSnapshot {
		sr, err := a.snapshotRequest(name, g, req)
		if err != nil {
			return nil, err
		}
		sr.Args = st.Args
		params, notFound = sr, "snapshot "+sr.ID+" not found"
	}
	if BaseAction(name) == ActionConsole && req.Attach {
		params = &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g, Action: name, Args: st.Args}, Follow: true}
	}
	lim := a.limitsFor(g.ID)
	if err := acquire(ctx, lim.stream); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	body, size, err := a.services.client(st.Service).Stream(sctx, params)
	if err != nil {
		cancel()
		<-lim.stream
		return nil, callError(err, notFound)
	}
	release := func() { cancel(); <-lim.stream }
	if BaseAction(name) == ActionConsole && req.Attach {
		// A console is idle while nobody types: no idle cut; the session
		// ends when the caller closes it or the guest stops.
		in := &consoleInput{ctx: sctx, client: a.services.client(st.Service), guest: g, action: name, args: st.Args}
		return &Result{Stream: &releaseBody{ReadCloser: body, release: release}, Size: -1, Input: in}, nil
	}
	idle := act.Timeout.Duration
	if idle <= 0 || idle > streamIdle {
		idle = streamIdle
	}
	ib := newIdleBody(body, idle, release)
	if wt, ok := body.(io.WriterTo); ok {
		return &Result{Stream: &idleWriterTo{idleBody: ib, wt: wt}, Size: size}, nil
	}
	return &Result{Stream: ib, Size: size}, nil
}

// idleBody cuts a stream that delivers no data for idle, and runs release
// once when closed.
type idleBody struct {
	rc      io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	once    sync.Once
	release func()
}

func newIdleBody(rc io.ReadCloser, idle time.Duration, release func()) *idleBody {
	b := &idleBody{rc: rc, idle: idle, release: release}
	b.timer = time.AfterFunc(idle, func() { _ = rc.Close() })
	return b
}

// Read reads from the stream and restarts the idle timer.
func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	return n, err
}

// Close ends the stream and frees its slot.
func (b *idleBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.release()
	})
	return err
}

// idleWriterTo is an idleBody whose stream has WriteTo (a file handed
// over by a built-in driver), which it keeps: each write or ReadFrom of
// the copy restarts the idle timer.
type idleWriterTo struct {
	*idleBody
	wt io.WriterTo
}

// WriteTo copies the stream to w with the stream's own WriteTo.
func (b *idleWriterTo) WriteTo(w io.Writer) (int64, error) {
	return b.wt.WriteTo(&idleWriter{w: w, body: b.idleBody})
}

// idleWriter restarts an idleBody's timer around every write to w; its
// ReadFrom is w's when w has one.
type idleWriter struct {
	w    io.Writer
	body *idleBody
}

func (iw *idleWriter) Write(p []byte) (int, error) {
	iw.body.timer.Reset(iw.body.idle)
	n, err := iw.w.Write(p)
	iw.body.timer.Reset(iw.body.idle)
	return n, err
}

func (iw *idleWriter) ReadFrom(r io.Reader) (int64, error) {
	iw.body.timer.Reset(iw.body.idle)
	defer iw.body.timer.Reset(iw.body.idle)
	if rf, ok := iw.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{iw.w}, r)
}

// releaseBody runs release once when closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

// Close ends the stream and frees its slot.
func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// consoleInputTimeout bounds sending one piece of console input.
const consoleInputTimeout = 10 * time.Second

// consoleInput sends an attached console's input to the console stream's
// sub-agent, at most subagent.MaxConsoleInput bytes a call.
type consoleInput struct {
	ctx    context.Context // the session's: input ends with it
	client *subagent.Client
	guest  *Guest
	action string
	args   map[string]string
}

// Write sends p in order; it fails once the session has ended. Errors
// carry the codes of the sub-agent's reply (conflict: no session).
func (c *consoleInput) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		end := min(len(p), done+subagent.MaxConsoleInput)
		req := &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: c.guest, Action: c.action, Args: c.args}, Input: p[done:end]}
		ctx, cancel := context.WithTimeout(c.ctx, consoleInputTimeout)
		body, _, err := c.client.Stream(ctx, req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(body, 4096))
			err = body.Close()
		}
		cancel()
		if err != nil {
			return done, callError(err, "")
		}
		done = end
	}
	return done, nil
}
