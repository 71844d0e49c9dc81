package subagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// wholeReplyKey marks the context of a request whose reply its client reads
// whole, up to a limit (Client.Call): InProcess then calls its handler
// directly instead of through the in-memory connection, and buffers the
// reply. The value is the limit in bytes.
type wholeReplyKey struct{}

// withWholeReply marks ctx's requests as read whole, up to limit bytes.
func withWholeReply(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, wholeReplyKey{}, limit)
}

// errReplyTooLarge is what a direct call's handler gets from a Write past
// the limit its client reads.
var errReplyTooLarge = errors.New("in-process reply larger than its client reads")

// direct serves req by calling the handler on a goroutine of its own, with
// a ResponseWriter that keeps up to limit+1 bytes of the reply, and returns
// the reply once the handler has returned. The handler's request has a
// context of its own (no values of the client's), which ends when the
// client's does, when the handler returns or when p is closed, as a
// connection's would. When the client's context ends first, direct returns
// its error at once and the handler goes on (see Abandoned).
func (p *InProcess) direct(req *http.Request, limit int64) (*http.Response, error) {
	ctx, cancel := context.WithCancel(context.Background())
	if !p.beginDirect(ctx, cancel) {
		cancel()
		closeRequestBody(req)
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: errInProcessClosed}
	}
	stop := context.AfterFunc(req.Context(), cancel)
	w := &wholeReply{header: http.Header{}, limit: limit}
	done := make(chan error, 1)
	go func() {
		defer p.endDirect(ctx)
		defer cancel()
		defer closeRequestBody(req)
		done <- serveDirect(p.handler, w, serverRequest(req, ctx))
	}()
	select {
	case err := <-done:
		stop()
		if err != nil {
			return nil, err
		}
		return w.response(req), nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// serveDirect calls h, turning a panic into an error as the server closing
// the connection would; http.ErrAbortHandler is such an abort too.
func serveDirect(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("in-process handler aborted the reply: %v", v)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// beginDirect registers a direct call's cancel function; false once p is
// closed.
func (p *InProcess) beginDirect(ctx context.Context, cancel context.CancelFunc) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.directs[ctx] = cancel
	return true
}

func (p *InProcess) endDirect(ctx context.Context) {
	p.mu.Lock()
	delete(p.directs, ctx)
	p.mu.Unlock()
}

// closeDirect refuses later direct calls and ends the context of those in
// progress, as closing their connections would.
func (p *InProcess) closeDirect() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, cancel := range p.directs {
		cancel()
	}
}

// serverRequest returns req as a server's handler sees it, with ctx.
func serverRequest(req *http.Request, ctx context.Context) *http.Request {
	r := req.Clone(ctx)
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = pipeAddr{}.String()
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.GetBody = nil
	return r
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// wholeReply is the ResponseWriter of a direct call: it keeps the status,
// the header and up to limit+1 bytes of the body (one more than the
// client reads, so the client sees the reply is too large).
type wholeReply struct {
	header http.Header
	code   int
	body   bytes.Buffer
	limit  int64
}

func (w *wholeReply) Header() http.Header { return w.header }

// WriteHeader keeps the first final status; 1xx are dropped.
func (w *wholeReply) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
}

// Write keeps p, failing past the limit.
func (w *wholeReply) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	room := w.limit + 1 - int64(w.body.Len())
	if int64(len(p)) > room {
		w.body.Write(p[:max(room, 0)])
		return int(max(room, 0)), errReplyTooLarge
	}
	return w.body.Write(p)
}

// Flush does nothing: the reply goes out whole when the handler returns.
func (w *wholeReply) Flush() {}

// response returns the reply of req, with the Content-Type and
// Content-Length a server would add.
func (w *wholeReply) response(req *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK)
	n := w.body.Len()
	if w.header.Get("Content-Type") == "" && n > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	w.header.Set("Content-Length", strconv.Itoa(n))
	return &http.Response{
		Status:     strconv.Itoa(w.code) + " " + http.StatusText(w.code),
		StatusCode: w.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(n), Request: req,
	}
}
