package rest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/httpconn"
)

// Client is the REST client of hvagentd: it implements Service over the wire
// that NewHandler serves, with the same meaning and error codes as *Agent.
// The zero value talks to DefaultAddr(""). Set the fields before the first
// call; a Client must not be copied after first use.
type Client struct {
	// Addr is where hvagentd listens: unix:///path, http://host:port,
	// https://host:port, a bare host:port (plain HTTP), or a port alone
	// (":8080" or "8080": plain HTTP on 127.0.0.1). Empty means
	// DefaultAddr("").
	Addr string
	// Token is sent as "Authorization: Bearer <token>" when not empty.
	Token string
	// Transport, when set, carries every request as is (tests route it to
	// a handler in memory); Dial and TLSConfig are then unused.
	Transport http.RoundTripper
	// Dial, when set, opens connections instead of a net.Dialer: with
	// network "unix" and the socket path for unix addresses.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig configures https addresses (client certificates, roots).
	TLSConfig *tls.Config

	once sync.Once
	conn *clientConn
	err  error
}

// clientConn is what a Client resolves its fields to on first use.
type clientConn struct {
	addr string   // the address as given (and what it means), for messages
	base *url.URL // scheme, host and path prefix of every request
	// basePath is base's escaped path, the prefix of every request's.
	basePath string
	// host is the Host of every request: base's without an empty port.
	host string
	hc   *http.Client
	// console makes the console's WebSocket upgrade, which needs
	// net/http's hijackable connection: hc unless hc's transport is a pool.
	console *http.Client
	unix    bool // over a unix socket
}

var _ hvagent.Service = (*Client)(nil)

// NewClient returns a client of the hvagentd at addr (see Client.Addr).
func NewClient(addr string) *Client {
	return &Client{Addr: addr}
}

// DefaultAddr returns $HVAGENT_ADDR when set, else the unix socket of the
// daemon on dataDir: "unix://<dataDir>/hvagent.sock", where an empty dataDir
// is the default data dir of the current user (see Config.DataDir).
func DefaultAddr(dataDir string) string {
	if a := os.Getenv("HVAGENT_ADDR"); a != "" {
		return a
	}
	return SocketAddr(dataDir)
}

// SocketAddr returns the address of hvagentd's default unix socket on
// dataDir: "unix://<dataDir>/hvagent.sock" with dataDir made absolute, where
// an empty dataDir is the default data dir of the current user.
func SocketAddr(dataDir string) string {
	if dataDir == "" {
		dataDir = hvagent.DefaultDataDir()
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return "unix://" + filepath.Join(dataDir, "hvagent.sock")
}

// clientUnixHost is the Host of requests sent over a unix socket.
const clientUnixHost = "localhost"

// clientDialTimeout bounds connecting to hvagentd.
const clientDialTimeout = 10 * time.Second

// clientMaxIdleConns is how many idle keep-alive connections a Client
// keeps to hvagentd: enough for its concurrent callers (each WaitJob holds
// one while it waits), where net/http's default of 2 would close and
// reopen a connection for most requests.
const clientMaxIdleConns = 64

// clientLoopback is the host of an address that names only a port.
const clientLoopback = "127.0.0.1"

// parseClientAddr resolves an address into the base URL of requests and, for
// unix addresses, the socket path. A port alone (":8080" or "8080") means
// 127.0.0.1 on that port. Errors are EINVALID.
func parseClientAddr(addr string) (*url.URL, string, error) {
	if sock, ok := strings.CutPrefix(addr, "unix://"); ok {
		if sock == "" {
			return nil, "", hvagent.Errorf(hvagent.EINVALID, "address %q has no socket path", addr)
		}
		return &url.URL{Scheme: "http", Host: clientUnixHost}, sock, nil
	}
	raw := addr
	if !strings.Contains(addr, "://") {
		raw = "http://" + addr
		if isDigits(addr) {
			raw = "http://" + net.JoinHostPort(clientLoopback, addr)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", hvagent.Errorf(hvagent.EINVALID, "address %q must be unix:///path, http://host:port, https://host:port, host:port or a port alone", addr)
	}
	if port := u.Port(); port != "" && !isPort(port) {
		return nil, "", hvagent.Errorf(hvagent.EINVALID, "address %q: port %q is not a number from 1 to 65535", addr, port)
	}
	if u.Hostname() == "" {
		u.Host = net.JoinHostPort(clientLoopback, u.Port())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, "", nil
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isPort reports whether s is a TCP port number, 1 to 65535.
func isPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n > 0
}

// connect resolves the client's fields once.
func (c *Client) connect() (*clientConn, error) {
	c.once.Do(func() {
		addr := c.Addr
		if addr == "" {
			addr = DefaultAddr("")
		}
		base, sock, err := parseClientAddr(addr)
		if err != nil {
			c.err = err
			return
		}
		rt := c.Transport
		if rt == nil {
			rt = c.newTransport(base, sock)
		}
		shown := addr
		if sock == "" && !strings.Contains(addr, base.Host) {
			shown = addr + " (" + base.Host + ")"
		}
		hc := &http.Client{
			Transport: rt,
			// A redirect is never part of the API; report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		console := hc
		if _, ok := rt.(*httpconn.Pool); ok {
			console = &http.Client{Transport: c.netTransport(sock, c.dialer()), CheckRedirect: hc.CheckRedirect}
		}
		c.conn = &clientConn{addr: shown, base: base, unix: sock != "", hc: hc, console: console,
			basePath: base.EscapedPath(), host: strings.TrimSuffix(base.Host, ":")}
	})
	return c.conn, c.err
}

// newTransport builds the transport of a Client without one: TCP or the
// unix socket sock, through Dial when set. Plain HTTP that no proxy
// handles goes over a synchronous keep-alive pool (internal/httpconn: no
// goroutine hand-off per request); https and proxied addresses over
// net/http.
func (c *Client) newTransport(base *url.URL, sock string) http.RoundTripper {
	dial := c.dialer()
	if base.Scheme == "http" {
		p, err := httpconn.New(httpconn.Config{URL: base.String(), Socket: sock, Dial: dial, MaxIdle: clientMaxIdleConns})
		if err == nil && p != nil {
			return p
		}
	}
	return c.netTransport(sock, dial)
}

// dialer is Dial, or a net.Dialer's.
func (c *Client) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.Dial != nil {
		return c.Dial
	}
	return (&net.Dialer{Timeout: clientDialTimeout, KeepAlive: 30 * time.Second}).DialContext
}

// netTransport is net/http's transport to the unix socket sock (when not
// "") or the address's host, opening connections with dial.
func (c *Client) netTransport(sock string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = clientMaxIdleConns
	// hvagentd never compresses its replies: asking for it would only add
	// a header to every request.
	t.DisableCompression = true
	if c.TLSConfig != nil {
		t.TLSClientConfig = c.TLSConfig.Clone()
	}
	if sock == "" {
		t.DialContext = dial
		return t
	}
	t.Proxy = nil
	t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dial(ctx, "unix", sock)
	}
	return t
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() {
	if conn, err := c.connect(); err == nil {
		conn.hc.CloseIdleConnections()
		if conn.console != conn.hc {
			conn.console.CloseIdleConnections()
		}
	}
}
