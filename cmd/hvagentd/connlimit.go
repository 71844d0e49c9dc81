package main

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/internal/sockbuf"
)

// refusedLogEvery is how often at most a refused connection is logged (at
// debug level, with the count refused since the last line).
const refusedLogEvery = 10 * time.Second

// connLimits caps the connections open at once: in total over every
// listener it wraps, and per client IP address on the listeners wrapped
// with a per-client cap. A connection beyond a cap is closed as soon as it
// is accepted, so that no client can exhaust the daemon's file descriptors.
type connLimits struct {
	total, perClient int
	logger           zerolog.Logger

	mu      sync.Mutex
	open    int
	byIP    map[string]int
	refused int       // since the last log line
	logged  time.Time // of the last log line
}

// newConnLimits returns limits of total connections, perClient from one IP
// address (0: no such cap; the settings' defaults are not 0); refusals are
// logged to logger.
func newConnLimits(total, perClient int, logger zerolog.Logger) *connLimits {
	return &connLimits{total: total, perClient: perClient, logger: logger, byIP: map[string]int{}}
}

// wrap returns ln with the limits applied to its connections; byClient
// turns on the per-client cap (TCP listeners; a unix socket has no client
// address).
func (c *connLimits) wrap(ln net.Listener, byClient bool) net.Listener {
	return &limitListener{Listener: ln, limits: c, byClient: byClient}
}

// acquire counts a new connection from ip ("" for none) and reports
// whether it is within the caps, with the cap it would exceed.
func (c *connLimits) acquire(ip string) (ok bool, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 && c.open >= c.total {
		return false, "max_connections"
	}
	if ip != "" && c.perClient > 0 && c.byIP[ip] >= c.perClient {
		return false, "max_connections_per_client"
	}
	c.open++
	if ip != "" {
		c.byIP[ip]++
	}
	return true, ""
}

// release uncounts a connection from ip.
func (c *connLimits) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if ip == "" {
		return
	}
	if c.byIP[ip]--; c.byIP[ip] <= 0 {
		delete(c.byIP, ip)
	}
}

// noteRefused logs a refused connection, at most once per refusedLogEvery.
func (c *connLimits) noteRefused(addr net.Addr, reason string) {
	c.mu.Lock()
	c.refused++
	now := time.Now()
	if now.Sub(c.logged) < refusedLogEvery {
		c.mu.Unlock()
		return
	}
	n := c.refused
	c.refused, c.logged = 0, now
	c.mu.Unlock()
	c.logger.Warn().Str("client", addr.String()).Str("limit", reason).Int("refused", n).
		Msg("connection refused: too many open connections")
}

// limitListener is a listener whose connections connLimits counts.
type limitListener struct {
	net.Listener
	limits   *connLimits
	byClient bool
}

// Accept returns the next connection within the limits; one beyond them is
// closed and the next is waited for.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := ""
		if l.byClient {
			ip = clientIP(conn.RemoteAddr())
		}
		if ok, reason := l.limits.acquire(ip); !ok {
			_ = conn.Close()
			l.limits.noteRefused(conn.RemoteAddr(), reason)
			continue
		}
		return &limitConn{Conn: conn, limits: l.limits, ip: ip, loopback: onLoopback(conn)}, nil
	}
}

// clientIP is the IP address of a TCP peer, else the address as text.
func clientIP(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	return addr.String()
}

// limitConn is a counted connection: closing it the first time uncounts it.
type limitConn struct {
	net.Conn
	limits    *connLimits
	ip        string
	loopback  bool // a TCP connection whose peer is on this host
	streamBuf bool // the send buffer was sized for streams
	once      sync.Once
}

// ReadFrom copies r to the connection: to a TCP peer on this host through
// a buffer (copyLoopback) and a send buffer fixed the first time
// (sockbuf.FixLoopback), to another TCP peer with the connection's own
// ReadFrom (sendfile from a file, splice from a socket), which wrapping it
// would hide from net/http, and to a unix socket with sendfile, through a
// send buffer grown for streams the first time (growStreamBuffer).
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if c.loopback {
		if !c.streamBuf {
			c.streamBuf = true
			sockbuf.FixLoopback(c.Conn)
		}
		return copyLoopback(c.Conn, r)
	}
	switch conn := c.Conn.(type) {
	case io.ReaderFrom:
		return conn.ReadFrom(r)
	case *net.UnixConn:
		if !c.streamBuf {
			c.streamBuf = true
			growStreamBuffer(conn)
		}
		if n, handled, err := sendFileUnix(conn, r); handled {
			return n, err
		}
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// Close closes the connection and uncounts it.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.limits.release(c.ip) })
	return err
}
