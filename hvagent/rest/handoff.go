package rest

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// handoffListener is the listener of the net/http server behind a
// SyncServer: its connections are the ones the SyncServer hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// newHandoffListener returns a listener at addr (as reported by Addr)
// whose connections come from give.
func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to the server that accepts from l; once l is closed, it
// closes c instead.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next connection handed over.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and give.
func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address of the listener the connections came from.
func (l *handoffListener) Addr() net.Addr { return l.addr }

// handoffConn is a connection handed over with bytes already read from it:
// reads drain the reader first.
type handoffConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads what was read ahead, then from the connection.
func (c *handoffConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ReadFrom copies r to the connection with the wrapped connection's own
// ReadFrom when it has one (sendfile, or the loopback copy, for downloads).
func (c *handoffConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the connection when the wrapped one can.
func (c *handoffConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the wrapped connection.
func (c *handoffConn) Unwrap() net.Conn { return c.Conn }
