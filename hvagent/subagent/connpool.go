package subagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// poolMaxIdle is how many idle connections a client keeps per sub-agent.
	poolMaxIdle = 32
	// poolIdleTimeout is how long an idle connection is kept.
	poolIdleTimeout = 90 * time.Second
	// maxInterim caps the 1xx replies read ahead of a call's reply.
	maxInterim = 5
	// drainLimit is how much of an unread reply body is read to keep its
	// connection; a longer rest closes the connection instead.
	drainLimit = 64 << 10
)

// connPool is the transport of calls: HTTP/1.1 keep-alive connections to
// one sub-agent, each used by one call at a time in the caller's goroutine.
// The request is written with http.Request.Write and the reply read with
// http.ReadResponse, on the connection itself: no goroutine per connection
// and no hand-off between goroutines, which on busy cores costs a
// scheduler wake-up each way per call.
//
// A call takes the most recently used idle connection that is still open
// (the sub-agent may have closed it: that is checked without blocking
// before reuse) or dials a new one. Its context's end closes the
// connection. A connection goes back to the pool when its reply body was
// read to the end (or drained, up to drainLimit) and the reply allows
// keep-alive; otherwise it is closed.
type connPool struct {
	network, addr string
	tls           *tls.Config // nil: plain HTTP
	dialer        net.Dialer

	mu     sync.Mutex
	idle   []*poolConn // the most recently used last
	reaper *time.Timer // closes connections idle for poolIdleTimeout
}

// newConnPool returns the pool for calls to rawURL, over the unix socket
// at socket when it is not "". It returns nil, nil when the URL's requests
// go through a proxy (net/http then makes the calls).
func newConnPool(rawURL, socket string, tlsConfig *tls.Config) (*connPool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	p := &connPool{network: "tcp", addr: u.Host, dialer: net.Dialer{KeepAlive: 30 * time.Second}}
	switch u.Scheme {
	case "http":
	case "https":
		p.tls = poolTLSConfig(tlsConfig, u.Hostname())
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if socket != "" {
		p.network, p.addr = "unix", socket
		return p, nil
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || proxy != nil {
		return nil, nil
	}
	if u.Port() == "" {
		port := "80"
		if p.tls != nil {
			port = "443"
		}
		p.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return p, nil
}

// poolTLSConfig is cfg (or the defaults: system roots) for host, speaking
// HTTP/1.1 only.
func poolTLSConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// roundTrip sends req and reads its reply's header. The caller must close
// the reply's body. A request that failed on a reused connection before a
// byte of it reached the socket is sent again on another connection: the
// sub-agent cannot have seen it. Nothing else is sent twice.
func (p *connPool) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pc, err := p.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := pc.exchange(ctx, p, req)
		if err == nil {
			return resp, nil
		}
		if !pc.reused || pc.sent.n > 0 || ctx.Err() != nil || req.GetBody == nil {
			return nil, err
		}
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
}

// get returns an idle connection that is still open, or a new one.
func (p *connPool) get(ctx context.Context) (*poolConn, error) {
	for pc := p.pop(); pc != nil; pc = p.pop() {
		if time.Since(pc.idleAt) < poolIdleTimeout && pc.br.Buffered() == 0 && idleConnOpen(pc.raw) {
			pc.reused = true
			return pc, nil
		}
		pc.close()
	}
	return p.dial(ctx)
}

func (p *connPool) pop() *poolConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	pc := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return pc
}

// put keeps pc for reuse, or closes it when the pool is full.
func (p *connPool) put(pc *poolConn) {
	pc.idleAt = time.Now()
	pc.sent.n = 0
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= poolMaxIdle {
		pc.close()
		return
	}
	p.idle = append(p.idle, pc)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(poolIdleTimeout, p.reap)
	}
}

// reap closes the connections idle for poolIdleTimeout, and comes back
// when the oldest of the others will be.
func (p *connPool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && time.Since(p.idle[n].idleAt) >= poolIdleTimeout {
		p.idle[n].close()
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	if len(p.idle) == 0 {
		p.reaper = nil
		return
	}
	p.reaper.Reset(poolIdleTimeout - time.Since(p.idle[0].idleAt))
}

// closeIdle closes every idle connection.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.idle {
		pc.close()
	}
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
}

// dial opens a connection, with the TLS handshake for https.
func (p *connPool) dial(ctx context.Context) (*poolConn, error) {
	raw, err := p.dialer.DialContext(ctx, p.network, p.addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if p.tls != nil {
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	pc := &poolConn{raw: raw, br: bufio.NewReader(conn)}
	pc.sent.w = conn
	pc.bw = bufio.NewWriter(&pc.sent)
	return pc, nil
}

// poolConn is one connection of a connPool.
type poolConn struct {
	raw    net.Conn // the socket (under TLS for https)
	br     *bufio.Reader
	bw     *bufio.Writer // writes through sent
	sent   countWriter   // the bytes of the current request that reached the socket
	reused bool          // it served an earlier call
	idleAt time.Time
}

// exchange writes req and reads its reply, closing the connection when
// ctx ends first. On success the reply's body gives the connection back
// to p when closed.
func (pc *poolConn) exchange(ctx context.Context, p *connPool, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, pc.close)
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		stop()
		pc.close()
		return nil, fmt.Errorf("send request: %w", err)
	}
	resp, err := readReply(pc.br, req)
	if err != nil {
		stop()
		pc.close()
		return nil, fmt.Errorf("read reply: %w", err)
	}
	resp.Body = &poolBody{body: resp.Body, pc: pc, pool: p, stop: stop, keep: !resp.Close}
	return resp, nil
}

// readReply reads the final reply to req, skipping interim (1xx) ones.
func readReply(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for range maxInterim {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
	return nil, fmt.Errorf("more than %d interim (1xx) replies", maxInterim)
}

func (pc *poolConn) close() { _ = pc.raw.Close() }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errBodyClosed is the error of a read after Close.
var errBodyClosed = errors.New("subagent: read on closed reply body")

// poolBody is the body of a reply read by a connPool. Close gives the
// connection back when the body was read to its end (draining up to
// drainLimit of it) and the reply allows keep-alive, and closes it
// otherwise.
type poolBody struct {
	body   io.ReadCloser
	pc     *poolConn
	pool   *connPool
	stop   func() bool // stops the close on the call's context
	keep   bool        // the reply allows reuse
	eof    bool
	closed bool
}

// Read reads the body.
func (b *poolBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := b.body.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

// Close ends the reply, keeping or closing its connection.
func (b *poolBody) Close() error {
	if b.closed {
		return nil
	}
	if !b.eof {
		_, _ = io.CopyN(io.Discard, b, drainLimit+1)
	}
	b.closed = true
	// stop is false when the call's context ended: the connection is closed.
	if b.stop() && b.eof && b.keep {
		b.pool.put(b.pc)
		return nil
	}
	b.pc.close()
	return nil
}
