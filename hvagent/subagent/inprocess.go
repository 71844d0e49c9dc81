package subagent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// InProcess serves an http.Handler on an in-memory listener, so clients in
// the same process reach it with real HTTP semantics (streaming bodies,
// cancellation, connection reuse) but without a TCP port.
//
// A Client's calls (Call, whose reply is read whole) skip the connection:
// the handler is called directly and its reply buffered, which costs no
// HTTP encoding and parsing; cancellation, Abandoned and Close behave as
// over the connection.
//
// A file the handler copies to its reply with io.Copy (ReadFrom) as the
// start of a 200 reply's body is not copied through the connection: the
// client's body reads it directly, and its WriteTo hands it to a
// destination's ReadFrom (sendfile to a socket). The handler's copy returns
// once the client has read the file, or closed the body.
type InProcess struct {
	ln        *pipeListener
	srv       *http.Server
	transport *http.Transport
	rt        http.RoundTripper // transport, with the hand-over
	served    chan struct{}
	closeOnce sync.Once

	handler http.Handler // h, tracked: what direct calls call

	mu      sync.Mutex
	calls   map[*http.Request]struct{}             // handler calls in progress
	directs map[context.Context]context.CancelFunc // direct calls in progress
	closed  bool                                   // no more direct calls
}

// NewInProcess starts serving h in memory. Close stops it.
func NewInProcess(h http.Handler) *InProcess {
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	slots := &handoffSlots{}
	p := &InProcess{
		ln:      ln,
		served:  make(chan struct{}),
		calls:   map[*http.Request]struct{}{},
		directs: map[context.Context]context.CancelFunc{},
	}
	p.handler = p.track(h)
	p.srv = &http.Server{Handler: slots.handoffServer(p.handler), ReadHeaderTimeout: 10 * time.Second}
	p.transport = &http.Transport{
		DialContext:         ln.dial,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	p.rt = &handoffTransport{slots: slots, next: p.transport, direct: p.direct}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln)
	}()
	return p
}

// HTTPClient returns a client whose requests reach the handler whatever the
// URL's host. It has no timeout; deadlines come from request contexts.
func (p *InProcess) HTTPClient() *http.Client {
	return &http.Client{Transport: p.rt}
}

// track registers each call of h while it runs.
func (p *InProcess) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[r] = struct{}{}
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.calls, r)
			p.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// Abandoned returns how many handler calls still run although their client
// is gone (it gave up, or Close closed the connection): calls of a handler
// that does not honour its request's context. The server notices a client
// leave once the handler has read the request body, as Server's handlers
// do.
func (p *InProcess) Abandoned() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for r := range p.calls {
		if r.Context().Err() != nil {
			n++
		}
	}
	return n
}

// Close stops the server, closes every connection and waits for the serving
// goroutine to end. Later dials fail with a connect error.
func (p *InProcess) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.closeDirect()
		err = p.srv.Close()
		<-p.served
		p.transport.CloseIdleConnections()
	})
	return err
}

// pipeListener is a net.Listener whose connections are net.Pipe ends handed
// over by dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
		closePipe(client, server)
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: ctx.Err()}
	case <-l.done:
		closePipe(client, server)
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: errInProcessClosed}
	}
}

func closePipe(a, b net.Conn) {
	_ = a.Close()
	_ = b.Close()
}

var errInProcessClosed = errors.New("in-process server closed")

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "in-process" }
