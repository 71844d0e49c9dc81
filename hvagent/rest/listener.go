package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// Listener wraps ln so that the replies net/http writes by itself, before
// any handler runs, to requests it cannot parse are in the JSON error
// shape of every other error: a bad request line, header or Host (400),
// headers over the server's MaxHeaderBytes (431, sent as 413 too_large),
// an unsupported HTTP version (505), Transfer-Encoding (501) or Expect
// header (417), each sent as 400 invalid. Everything else passes through
// unchanged.
//
// Serve plain HTTP on the returned listener (http.Server.Serve). A TLS
// listener must not be wrapped: net/http writes those replies through the
// TLS connection, where they cannot be seen, and it serves TLS only on a
// *tls.Conn.
func Listener(ln net.Listener) net.Listener {
	return &jsonListener{Listener: ln}
}

// jsonListener is the listener of Listener.
type jsonListener struct {
	net.Listener
}

// Accept returns the next connection, wrapped.
func (l *jsonListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonConn{Conn: c}, nil
}

// jsonConn rewrites net/http's own error replies as they are written.
type jsonConn struct {
	net.Conn
}

// Write writes b, or its JSON form when b is one of net/http's own error
// replies. It reports len(b) written when the rewritten reply is.
func (c *jsonConn) Write(b []byte) (int, error) {
	reply, ok := protocolReply(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(reply); err != nil {
		return 0, err
	}
	return len(b), nil
}

// ReadFrom copies r to the connection with the wrapped connection's own
// ReadFrom when it has one (sendfile for downloads). Replies are written
// this way only after their headers, so nothing here needs rewriting.
func (c *jsonConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// CloseWrite half-closes the connection when the wrapped one can, as
// net/http does after a 431.
func (c *jsonConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the wrapped connection.
func (c *jsonConn) Unwrap() net.Conn { return c.Conn }

// The forms of net/http's own error replies (net/http/server.go): a
// plain-text reply written in one piece, and the empty 417 reply to an
// Expect header other than 100-continue.
var (
	cannedHeaders  = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	cannedProto    = []byte("HTTP/1.1 ")
	expectationRep = []byte("HTTP/1.1 417 Expectation Failed\r\n")
)

// protocolReply returns the JSON form of b when b is one of net/http's own
// error replies. A handler's reply never matches: net/http writes its
// headers sorted, a Date among them, so never in the order of cannedHeaders.
func protocolReply(b []byte) ([]byte, bool) {
	if bytes.HasPrefix(b, expectationRep) {
		return jsonReply(hvagent.Errorf(hvagent.EINVALID, "unsupported Expect header: only 100-continue is understood")), true
	}
	if !bytes.HasPrefix(b, cannedProto) {
		return nil, false
	}
	// The canned headers follow the status line: look there only, not
	// through the whole of a handler's reply.
	rest := b[len(cannedProto):]
	end := bytes.Index(rest, []byte("\r\n"))
	if end < 3 || !bytes.HasPrefix(rest[end:], cannedHeaders) {
		return nil, false
	}
	statusLine, text := rest[:end], rest[end+len(cannedHeaders):]
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil {
		return nil, false
	}
	return jsonReply(protocolError(status, text)), true
}

// protocolError is the error of a net/http reply of status with body text
// (such as "400 Bad Request: missing required Host header").
func protocolError(status int, text []byte) error {
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		return hvagent.Errorf(hvagent.ETOOLARGE, "request headers are larger than the server accepts")
	case http.StatusHTTPVersionNotSupported:
		return hvagent.Errorf(hvagent.EINVALID, "unsupported HTTP version: use HTTP/1.1")
	case http.StatusNotImplemented:
		return hvagent.Errorf(hvagent.EINVALID, "unsupported Transfer-Encoding: only chunked is understood")
	}
	if _, detail, ok := bytes.Cut(text, []byte(": ")); ok && len(detail) > 0 {
		return hvagent.Errorf(hvagent.EINVALID, "malformed HTTP request: %s", detail)
	}
	return hvagent.Errorf(hvagent.EINVALID, "malformed HTTP request")
}

// jsonReply renders err as a complete HTTP/1.1 reply that closes the
// connection.
func jsonReply(err error) []byte {
	code := hvagent.ErrorCode(err)
	status := HTTPStatus(code)
	body, _ := json.Marshal(errorBody{Message: hvagent.ErrorMessage(err), Code: status, Error: code})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}
