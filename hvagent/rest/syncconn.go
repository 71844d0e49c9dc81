package rest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// syncBufferSize is a connection's read buffer: a request's headers must
// fit in it to be served by the SyncServer (larger ones are handed over to
// net/http, which allows up to its MaxHeaderBytes).
const syncBufferSize = 4 << 10

// maxBodyDrain is how much of a request body the handler left unread is
// read and dropped to keep the connection, as net/http does; beyond it the
// connection is closed after the reply.
const maxBodyDrain = 256 << 10

// maxKeptOut is the most a connection keeps of its reply buffer between
// requests.
const maxKeptOut = 16 << 10

// aLongTimeAgo is a read deadline in the past: it wakes a pending read.
var aLongTimeAgo = time.Unix(1, 0)

// syncConn is one connection served by a SyncServer.
type syncConn struct {
	srv     *SyncServer
	c       net.Conn
	br      *bufio.Reader   // the connection's reads
	hr      bytes.Reader    // a request's header block, as parsed
	hbr     *bufio.Reader   // reads hr for http.ReadRequest
	out     bytes.Buffer    // what a reply sends next: head, body, chunks; empty between sends
	reply   syncReply       // the reply being written, reused
	scratch [64]byte        // formats numbers and dates
	ctx     context.Context // every request's parent: server and local address
	remote  string
	idle    bool // between requests; guarded by srv.mu
}

// newSyncConn returns c as served by srv.
func newSyncConn(srv *SyncServer, c net.Conn) *syncConn {
	sc := &syncConn{srv: srv, c: c, br: bufio.NewReaderSize(c, syncBufferSize), idle: true}
	sc.hbr = bufio.NewReaderSize(&sc.hr, syncBufferSize)
	ctx := context.WithValue(context.Background(), http.ServerContextKey, srv.http)
	sc.ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.LocalAddr())
	if ra := c.RemoteAddr(); ra != nil {
		sc.remote = ra.String()
	}
	return sc
}

// serve answers the connection's requests until it closes, fails, is
// handed over, or the server shuts down.
func (sc *syncConn) serve() {
	defer sc.srv.forget(sc)
	for first := true; ; first = false {
		if !sc.await(first) {
			_ = sc.c.Close()
			return
		}
		req, n, err := sc.head()
		if err != nil {
			_ = sc.c.Close()
			return
		}
		if req == nil || !syncable(req) {
			sc.srv.forget(sc)
			sc.srv.handoff.give(&handoffConn{Conn: sc.c, r: sc.br})
			return
		}
		_, _ = sc.br.Discard(n)
		if !sc.serveRequest(req) || !sc.srv.setIdle(sc, true) {
			_ = sc.c.Close()
			return
		}
	}
}

// await waits for the next request's first byte, up to the idle timeout
// between requests, and up to the timeout for headers (as net/http) for a
// new connection's first: a connection that sends nothing is closed as
// soon as one that sends its headers too slowly. It reports false when
// there is none or the server is shutting down.
func (sc *syncConn) await(first bool) bool {
	d := sc.srv.http.IdleTimeout
	if first {
		d = sc.srv.http.ReadHeaderTimeout
	}
	sc.setReadTimeout(d)
	if _, err := sc.br.Peek(1); err != nil {
		return false
	}
	return sc.srv.setIdle(sc, false)
}

// setReadTimeout gives the connection's next reads d, or the server's
// ReadTimeout when d is 0 (as net/http does), or no deadline when both are.
func (sc *syncConn) setReadTimeout(d time.Duration) {
	if d == 0 {
		d = sc.srv.http.ReadTimeout
	}
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	_ = sc.c.SetReadDeadline(deadline)
}

// head reads the next request's header block (within the read timeout
// for headers) and parses it without consuming it: it returns the request
// and the block's length, or a nil request as soon as the bytes read show
// that net/http must judge it (plainHead) or the block does not fit in the
// buffer.
func (sc *syncConn) head() (*http.Request, int, error) {
	sc.setReadTimeout(sc.srv.http.ReadHeaderTimeout)
	for {
		buf, _ := sc.br.Peek(sc.br.Buffered())
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end >= 0 {
			buf = buf[:end+4]
		}
		switch {
		case !plainHead(buf):
			return nil, 0, nil
		case end >= 0:
			return sc.parse(buf), len(buf), nil
		case len(buf) == sc.br.Size():
			return nil, 0, nil
		}
		if _, err := sc.br.Peek(len(buf) + 1); err != nil {
			return nil, 0, err
		}
	}
}

// plainHead reports whether b may begin a request served here: printable
// ASCII, tabs and CRLF line ends only (net/http judges bare LF ends, other
// bytes, and whatever is not HTTP at all).
func plainHead(b []byte) bool {
	for i, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\r' && c != '\n' || c == '\n' && (i == 0 || b[i-1] != '\r') {
			return false
		}
	}
	return true
}

// parse returns the request of a header block, nil when http.ReadRequest
// refuses it (net/http then answers it).
func (sc *syncConn) parse(block []byte) *http.Request {
	sc.hr.Reset(block)
	sc.hbr.Reset(&sc.hr)
	req, err := http.ReadRequest(sc.hbr)
	if err != nil {
		return nil
	}
	return req
}

// syncable reports whether req is served by the SyncServer: HTTP/1.1, in
// origin form, one plain Host (http.ReadRequest refuses more), no body or
// one of a Content-Length, no Expect or Upgrade, not a console or a
// download (streamPath), nor a long poll with a body.
func syncable(req *http.Request) bool {
	switch {
	case req.ProtoMajor != 1 || req.ProtoMinor != 1, !strings.HasPrefix(req.RequestURI, "/"),
		!plainHost(req.Host), len(req.TransferEncoding) > 0,
		req.Header["Expect"] != nil, req.Header["Upgrade"] != nil, streamPath(req.URL.Path):
		return false
	}
	return req.ContentLength == 0 || !LongLived(req)
}

// streamPath reports whether path is one that net/http serves better: a
// console (a WebSocket, or its log as it grows) and a download (sendfile,
// or the loopback copy, through the connection's ReadFrom). The event
// stream is served here: its events go out chunked as it flushes them, and
// a client that goes away ends it as it ends a long poll. These are the
// routes that rest.Routes marks Stream; a test keeps the two in step.
func streamPath(path string) bool {
	return strings.HasSuffix(path, "/console") || strings.HasSuffix(path, "/download")
}

// plainHost reports whether h is a non-empty host[:port] of letters,
// digits and ".-_:[]%" (anything else is left to net/http's checks).
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(".-_:[]%", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// serveRequest runs the handler on req and sends its reply; it reports
// whether the connection may carry another request.
func (sc *syncConn) serveRequest(req *http.Request) bool {
	_ = sc.c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(sc.ctx)
	defer cancel()
	req = req.WithContext(ctx)
	req.RemoteAddr = sc.remote
	var body *syncBody
	if req.ContentLength > 0 {
		body = &syncBody{r: io.LimitedReader{R: sc.br, N: req.ContentLength}}
		req.Body = body
	} else {
		req.Body = http.NoBody
	}
	if LongLived(req) {
		defer sc.watch(cancel)()
	}
	w := &sc.reply
	w.reset(sc, req, body)
	if !sc.call(w, req) {
		return false
	}
	keep := w.finish()
	if sc.out.Cap() > maxKeptOut {
		sc.out = bytes.Buffer{} // an idle connection keeps no large reply
	}
	if w.deadline {
		_ = sc.c.SetWriteDeadline(time.Time{})
	}
	if !keep || body == nil || body.r.N == 0 {
		return keep
	}
	sc.setReadTimeout(sc.srv.http.ReadHeaderTimeout) // the rest of the body, within as long as headers
	return body.drain()
}

// call runs the handler; it reports false when the handler panicked (the
// connection is then closed, its reply unfinished, as net/http does).
func (sc *syncConn) call(w *syncReply, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				sc.srv.logf("http: panic serving %v: %v\n%s", sc.remote, v, debug.Stack())
			}
			ok = false
		}
	}()
	sc.srv.http.Handler.ServeHTTP(w, req)
	return true
}

// watch reads the connection while a long poll waits, and cancels its
// context when the client goes away. It returns the function that stops
// the read; a byte that arrives meanwhile (the next request) stays in the
// buffer.
func (sc *syncConn) watch(cancel context.CancelFunc) (stop func()) {
	if sc.br.Buffered() > 0 {
		return func() {}
	}
	var aborted atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := sc.br.Peek(1)
		var ne net.Error
		if err != nil && !(aborted.Load() && errors.As(err, &ne) && ne.Timeout()) {
			cancel()
		}
	}()
	return func() {
		aborted.Store(true)
		_ = sc.c.SetReadDeadline(aLongTimeAgo)
		<-done
		_ = sc.c.SetReadDeadline(time.Time{})
	}
}

// syncBody is a request body of a Content-Length, read from the
// connection.
type syncBody struct {
	r      io.LimitedReader
	closed bool
}

// Read reads the body; the connection's end before the body's is
// io.ErrUnexpectedEOF.
func (b *syncBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.r.N <= 0 {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF && b.r.N > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close ends the handler's reads; the rest is drained after the reply.
func (b *syncBody) Close() error {
	b.closed = true
	return nil
}

// drain reads and drops what the handler left of the body, at most
// maxBodyDrain; it reports whether the body was read to its end.
func (b *syncBody) drain() bool {
	if b.r.N > maxBodyDrain {
		return false
	}
	_, err := io.Copy(io.Discard, &b.r)
	return err == nil && b.r.N == 0
}
