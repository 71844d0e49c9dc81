package rest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// syncReplyBuffer is how much of a reply body is held to go out with the
// head in one write; a larger body, or one flushed, is sent as it is
// written (chunked unless the handler set a Content-Length).
const syncReplyBuffer = 64 << 10

// sniffLen is how much of a body http.DetectContentType reads.
const sniffLen = 512

// syncStreamBuffer is how much of a body being sent as it is written is
// gathered before a write, short of a flush.
const syncStreamBuffer = 32 << 10

// syncReply is the http.ResponseWriter of a request served by a
// SyncServer. It also has the deadline and flush methods that
// http.ResponseController looks for; it cannot be hijacked (upgrades are
// handed over to net/http).
type syncReply struct {
	sc       *syncConn
	req      *http.Request
	reqBody  *syncBody // nil without a body
	header   http.Header
	status   int   // 0 until the head is decided
	declared int64 // the handler's Content-Length, -1 without one
	written  int64 // body bytes the handler wrote
	body     []byte
	// streaming: the head is sent, and the body goes out as written;
	// chunked: in chunks; closeAfter: the head says Connection: close.
	streaming, chunked, closeAfter bool
	deadline                       bool  // the handler set a write deadline
	err                            error // the connection failed
}

// reset makes w the reply to req, reusing the previous reply's header map
// and body buffer (a handler must not keep its ResponseWriter).
func (w *syncReply) reset(sc *syncConn, req *http.Request, body *syncBody) {
	header, buf := w.header, w.body[:0]
	if header == nil {
		header = make(http.Header)
	}
	clear(header)
	if cap(buf) > maxKeptOut {
		buf = nil
	}
	*w = syncReply{sc: sc, req: req, reqBody: body, header: header, body: buf, declared: -1}
}

// Header returns the reply's header, sent at the first write or flush, or
// when the handler returns.
func (w *syncReply) Header() http.Header { return w.header }

// WriteHeader sets the status (the first call wins), or sends an
// informational (1xx) head at once.
func (w *syncReply) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.appendHead(code)
		w.send()
		return
	}
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			w.header.Del("Content-Length")
		} else {
			w.declared = n
		}
	}
}

// Write adds p to the body.
func (w *syncReply) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case !bodyAllowed(w.status):
		return 0, http.ErrBodyNotAllowed
	case w.err != nil:
		return 0, w.err
	case w.declared >= 0 && w.written+int64(len(p)) > w.declared:
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.req.Method == http.MethodHead { // keep what sniffing the Content-Type needs
		if room := sniffLen - len(w.body); room > 0 && !w.streaming {
			w.body = append(w.body, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	if len(p) == 0 {
		return len(p), nil
	}
	if w.streaming {
		if w.appendBody(p); w.sc.out.Len() >= syncStreamBuffer {
			w.send()
		}
	} else if w.body = append(w.body, p...); len(w.body) > syncReplyBuffer {
		w.stream()
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush sends the head and what the body holds.
func (w *syncReply) Flush() { _ = w.FlushError() }

// FlushError is Flush, with the connection's error.
func (w *syncReply) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.streaming {
		w.stream()
	} else if w.sc.out.Len() > 0 {
		w.send()
	}
	return w.err
}

// SetWriteDeadline sets the connection's write deadline, lifted after the
// reply.
func (w *syncReply) SetWriteDeadline(t time.Time) error {
	w.deadline = true
	return w.sc.c.SetWriteDeadline(t)
}

// SetReadDeadline sets the connection's read deadline (for the body).
func (w *syncReply) SetReadDeadline(t time.Time) error { return w.sc.c.SetReadDeadline(t) }

// stream sends the head and the body held so far, and what follows as it
// is written.
func (w *syncReply) stream() {
	w.streaming = true
	w.chunked = w.declared < 0 && bodyAllowed(w.status) && w.req.Method != http.MethodHead
	w.appendHead(w.status)
	if w.req.Method != http.MethodHead {
		w.appendBody(w.body)
	}
	w.body = w.body[:0]
	w.send()
}

// finish completes the reply after the handler; it reports whether the
// connection may carry another request.
func (w *syncReply) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.streaming {
		w.appendHead(w.status)
		if w.req.Method != http.MethodHead {
			w.sc.out.Write(w.body)
		}
	} else if w.chunked {
		w.sc.out.WriteString("0\r\n\r\n")
	}
	if w.sc.out.Len() > 0 {
		w.send()
	}
	complete := w.declared < 0 || w.written == w.declared || w.req.Method == http.MethodHead
	return w.err == nil && !w.closeAfter && complete
}

// appendHead appends the status line and header of status to out: first
// what net/http adds (Date, the body's framing, Connection: close when the
// connection ends after this reply), then the handler's header, with the
// Content-Type sniffed from the body when it set none. (So a reply never
// begins with the header net/http's own error replies begin with, which
// rest.Listener rewrites.)
func (w *syncReply) appendHead(status int) {
	out := &w.sc.out
	text := http.StatusText(status)
	if text == "" {
		text = "status code " + strconv.Itoa(status)
	}
	fmt.Fprintf(out, "HTTP/1.1 %03d %s\r\n", status, text)
	if status >= 200 || status == http.StatusSwitchingProtocols {
		w.frame()
	}
	_ = w.header.Write(out)
	out.WriteString("\r\n")
}

// frame appends the lines a final head gets beyond the handler's header,
// and sets a sniffed Content-Type in it when it has none.
func (w *syncReply) frame() {
	h, out := w.header, &w.sc.out
	if _, ok := h["Date"]; !ok {
		out.WriteString("Date: ")
		out.Write(time.Now().UTC().AppendFormat(w.sc.scratch[:0], http.TimeFormat))
		out.WriteString("\r\n")
	}
	allowed := bodyAllowed(w.status)
	switch {
	case w.chunked:
		h.Del("Content-Length")
		out.WriteString("Transfer-Encoding: chunked\r\n")
	case !w.streaming && w.declared < 0 && allowed && (w.req.Method != http.MethodHead || w.written > 0):
		out.WriteString("Content-Length: ")
		out.Write(strconv.AppendInt(w.sc.scratch[:0], w.written, 10))
		out.WriteString("\r\n")
	}
	w.closeAfter = w.req.Close || h.Get("Connection") == "close" || w.sc.srv.shuttingDown() ||
		(w.reqBody != nil && w.reqBody.r.N > maxBodyDrain)
	if w.closeAfter && h.Get("Connection") == "" {
		out.WriteString("Connection: close\r\n")
	}
	if _, ok := h["Content-Type"]; !ok && allowed && len(w.body) > 0 && h.Get("Content-Encoding") == "" {
		h["Content-Type"] = []string{http.DetectContentType(w.body)}
	}
}

// appendBody appends p to out, as a chunk when the body is chunked.
func (w *syncReply) appendBody(p []byte) {
	if len(p) == 0 {
		return
	}
	out := &w.sc.out
	if w.chunked {
		fmt.Fprintf(out, "%x\r\n", len(p))
	}
	out.Write(p)
	if w.chunked {
		out.WriteString("\r\n")
	}
}

// send writes out to the connection and empties it; a failure ends the
// reply and the connection.
func (w *syncReply) send() {
	if w.err == nil {
		if _, err := w.sc.c.Write(w.sc.out.Bytes()); err != nil {
			w.err = err
		}
	}
	w.sc.out.Reset()
}

// bodyAllowed reports whether a reply of status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
