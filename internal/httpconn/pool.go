// Package httpconn is a synchronous HTTP/1.1 keep-alive client transport:
// each request is written and its reply's header read on the caller's
// goroutine, on a connection the caller holds alone until the reply's body
// is closed. net/http's Transport hands every request to a reader and a
// writer goroutine per connection, which on busy cores costs a scheduler
// wake-up each way per request; this pool does not.
//
// It speaks plain HTTP/1.1 (and TLS for https) over TCP or a unix socket,
// and knows no proxies: New says when a URL's requests would go through
// one, and the caller then uses net/http.
package httpconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// DefaultMaxIdle is how many idle connections a Pool keeps by default.
	DefaultMaxIdle = 32
	// DefaultIdleTimeout is how long an idle connection is kept by default.
	DefaultIdleTimeout = 90 * time.Second
	// DrainLimit is how much of an unread reply body Close reads to keep
	// its connection; a longer rest closes the connection instead.
	DrainLimit = 64 << 10
	// maxInterim caps the 1xx replies read ahead of a request's reply.
	maxInterim = 5
)

// Config configures a Pool.
type Config struct {
	// URL is where requests go: its scheme (http or https) and host; its
	// path is not used.
	URL string
	// Socket, when not "", is the path of a unix socket to dial instead of
	// the URL's host (which then only names the server).
	Socket string
	// TLSConfig is used for https (default: the system's roots); the
	// server name defaults to the URL's host.
	TLSConfig *tls.Config
	// Dial opens connections, with network "unix" and the socket path for
	// a Socket. Default: a net.Dialer with 30s TCP keep-alive.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdle is how many idle connections are kept (default
	// DefaultMaxIdle).
	MaxIdle int
	// IdleTimeout is how long an idle connection is kept (default
	// DefaultIdleTimeout).
	IdleTimeout time.Duration
	// WaitDrain makes the Close of a body not read to its end wait for up
	// to DrainLimit more bytes of it (until the request's context ends).
	// Without it Close takes only what has already been read from the
	// socket, and closes the connection when that is not the whole rest:
	// Close never blocks, which a long poll or a stream needs.
	WaitDrain bool
}

// Pool is an http.RoundTripper over HTTP/1.1 keep-alive connections to
// one server, each used by one request at a time in the caller's
// goroutine. The request is written as http.Request.Write writes it and the reply
// read as http.ReadResponse reads it, on the connection itself.
//
// A request takes the most recently used idle connection that is still
// open (the server may have closed it: that is checked without blocking
// before reuse) or dials a new one. The end of its context closes the
// connection. A connection goes back to the pool when its reply body was
// read to the end (or drained, see Config.WaitDrain) and closed, and the
// reply allows keep-alive; otherwise it is closed. It is safe for
// concurrent use.
type Pool struct {
	network, addr string
	tls           *tls.Config // nil: plain HTTP
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle       int
	idleTimeout   time.Duration
	waitDrain     bool

	mu     sync.Mutex
	idle   []*conn     // the most recently used last
	reaper *time.Timer // closes connections idle for idleTimeout
}

// New returns the pool for cfg. It returns nil, nil when the URL's
// requests go through a proxy (by the environment, as net/http decides),
// and an error for a URL that does not parse or whose scheme is not http
// or https.
func New(cfg Config) (*Pool, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	if u.Host == "" && cfg.Socket == "" {
		return nil, fmt.Errorf("URL %q has no host", cfg.URL)
	}
	p := &Pool{network: "tcp", addr: u.Host, dial: cfg.Dial, maxIdle: cfg.MaxIdle,
		idleTimeout: cfg.IdleTimeout, waitDrain: cfg.WaitDrain}
	if p.dial == nil {
		p.dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	if p.maxIdle <= 0 {
		p.maxIdle = DefaultMaxIdle
	}
	if p.idleTimeout <= 0 {
		p.idleTimeout = DefaultIdleTimeout
	}
	switch u.Scheme {
	case "http":
	case "https":
		p.tls = tlsConfig(cfg.TLSConfig, u.Hostname())
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if cfg.Socket != "" {
		p.network, p.addr = "unix", cfg.Socket
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

// tlsConfig is cfg (or the defaults: system roots) for host, speaking
// HTTP/1.1 only.
func tlsConfig(cfg *tls.Config, host string) *tls.Config {
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

// RoundTrip sends req on one of the pool's connections, whatever its URL's
// host, and reads its reply's header; the end of req's context closes the
// connection. The caller must close the reply's body. A request that
// failed on a reused connection before a byte of it reached the socket is
// sent again on another connection when req.GetBody allows: the server
// cannot have seen it. Nothing else is sent twice.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for {
		if err := ctx.Err(); err != nil {
			closeRequestBody(req)
			return nil, err
		}
		pc, err := p.get(ctx)
		if err != nil {
			closeRequestBody(req)
			return nil, err
		}
		resp, err := pc.exchange(ctx, p, req)
		if err == nil {
			return resp, nil
		}
		if !pc.reused || pc.sent.n > 0 || ctx.Err() != nil || (req.Body != nil && req.GetBody == nil) {
			return nil, err
		}
		if req.Body != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// closeRequestBody closes the body of a request that is not sent, as a
// RoundTripper must.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// get returns an idle connection that is still open, or a new one.
func (p *Pool) get(ctx context.Context) (*conn, error) {
	for pc := p.pop(); pc != nil; pc = p.pop() {
		if time.Since(pc.idleAt) < p.idleTimeout && pc.br.Buffered() == 0 && pc.check.idleOpen() {
			pc.reused = true
			return pc, nil
		}
		pc.close()
	}
	return p.dialConn(ctx)
}

func (p *Pool) pop() *conn {
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
func (p *Pool) put(pc *conn) {
	pc.idleAt = time.Now()
	pc.sent.n = 0
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= p.maxIdle {
		pc.close()
		return
	}
	p.idle = append(p.idle, pc)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTimeout, p.reap)
	}
}

// reap closes the connections idle for idleTimeout, and comes back when
// the oldest of the others will be.
func (p *Pool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && time.Since(p.idle[n].idleAt) >= p.idleTimeout {
		p.idle[n].close()
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	if len(p.idle) == 0 {
		p.reaper = nil
		return
	}
	p.reaper.Reset(p.idleTimeout - time.Since(p.idle[0].idleAt))
}

// CloseIdleConnections closes every idle connection. Requests in progress
// go on; their connections are kept afterwards as usual.
func (p *Pool) CloseIdleConnections() {
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

// dialConn opens a connection, with the TLS handshake for https.
func (p *Pool) dialConn(ctx context.Context) (*conn, error) {
	raw, err := p.dial(ctx, p.network, p.addr)
	if err != nil {
		return nil, err
	}
	c := raw
	if p.tls != nil {
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c = tc
	}
	pc := &conn{raw: raw, br: bufio.NewReader(c), check: newConnCheck(raw)}
	pc.sent.w = c
	pc.bw = bufio.NewWriter(&pc.sent)
	return pc, nil
}

// conn is one connection of a Pool.
type conn struct {
	raw    net.Conn // the socket (under TLS for https)
	br     *bufio.Reader
	bw     *bufio.Writer // writes through sent
	sent   countWriter   // the bytes of the current request that reached the socket
	check  *connCheck    // whether the idle connection is still open
	reused bool          // it served an earlier request
	idleAt time.Time
}

// exchange writes req and reads its reply, closing the connection when
// ctx ends first. On success the reply's body gives the connection back
// to p when closed.
func (pc *conn) exchange(ctx context.Context, p *Pool, req *http.Request) (*http.Response, error) {
	stop := neverDone
	if ctx.Done() != nil { // a context that never ends needs no watch
		stop = context.AfterFunc(ctx, pc.close)
	}
	err := writeRequest(pc.bw, req)
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
	resp.Body = &body{body: resp.Body, pc: pc, pool: p, stop: stop, keep: !resp.Close && !req.Close}
	return resp, nil
}

// readReply reads the final reply to req, skipping interim (1xx) ones.
func readReply(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for range maxInterim {
		resp, err := readResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
	return nil, fmt.Errorf("more than %d interim (1xx) replies", maxInterim)
}

func (pc *conn) close() { _ = pc.raw.Close() }

// neverDone is the stop function of a request whose context never ends:
// there is no close to stop, and the context did not end.
func neverDone() bool { return true }

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
