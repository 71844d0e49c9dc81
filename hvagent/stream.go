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
	if name == ActionDownloadSnapshot {
		sr, err := a.snapshotRequest(name, g, req)
		if err != nil {
			return nil, err
		}
		sr.Args = st.Args
		params = sr
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
		return nil, callError(err, "snapshot not found")
	}
	idle := act.Timeout.Duration
	if idle <= 0 || idle > streamIdle {
		idle = streamIdle
	}
	return &Result{Stream: newIdleBody(body, idle, func() { cancel(); <-lim.stream }), Size: size}, nil
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
