package rest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// streamWriteIdle bounds each write of a stream reply; the deadline moves
// forward as data flows.
const streamWriteIdle = time.Minute

// stream copies a stream action's data to the client as
// application/octet-stream (with Content-Length when the size is known),
// moving the write deadline forward as data flows. A stream with WriteTo
// (a file a built-in driver handed over) writes itself, through the
// connection's ReadFrom (sendfile); another is read and written 64 KiB at
// a time, flushed whenever the source has no more data at hand. The
// stream is always closed. A failure of the source after the reply
// started aborts the connection, so that the client sees a truncated
// body, never a short success.
func (x *exchange) stream(res *hvagent.Result) error {
	if res.Stream == nil {
		return hvagent.Errorf(hvagent.EINTERNAL, "stream action returned no stream")
	}
	defer res.Stream.Close()
	h := x.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if res.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(res.Size, 10))
	}
	dw := &deadlineWriter{w: x.w, rc: http.NewResponseController(x.w)}
	dw.extend()
	x.w.WriteHeader(http.StatusOK)
	_ = dw.rc.Flush()
	var err error
	if wt, ok := res.Stream.(io.WriterTo); ok {
		_, err = wt.WriteTo(dw)
	} else {
		err = copyFlushing(dw, res.Stream)
	}
	if err == nil || dw.failed {
		return nil // done, or the client went away
	}
	if x.ctx().Err() == nil {
		x.s.log.Warn().Err(err).Str("path", x.r.URL.Path).Msg("stream source failed; connection aborted")
	}
	panic(http.ErrAbortHandler)
}

// copyFlushing copies src to dw 64 KiB at a time, flushing whenever src
// has no more data at hand. It returns src's error (nil at EOF), or the
// write's (dw.failed is then set).
func copyFlushing(dw *deadlineWriter, src io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dw.Write(buf[:n]); werr != nil {
				return werr
			}
			if n < len(buf) {
				_ = dw.rc.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// deadlineWriter writes a stream reply, moving the connection's write
// deadline streamWriteIdle ahead before each write or ReadFrom. It
// records whether a write failed (the client went away or stopped
// reading), as opposed to the source.
type deadlineWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	failed bool
}

func (d *deadlineWriter) extend() { _ = d.rc.SetWriteDeadline(time.Now().Add(streamWriteIdle)) }

// Write writes p to the reply.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.extend()
	n, err := d.w.Write(p)
	if err != nil {
		d.failed = true
	}
	return n, err
}

// ReadFrom copies r to the reply with the ResponseWriter's ReadFrom
// (net/http's: sendfile when r is a file and the connection a socket).
// Reading and writing happen in one call there, so a failure is the
// client's when it is one of a connection that was closed, reset or timed
// out.
func (d *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	d.extend()
	rf, ok := d.w.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{d}, r)
	}
	n, err := rf.ReadFrom(r)
	if err != nil && connFailure(err) {
		d.failed = true
	}
	return n, err
}

// connFailure reports whether err is a connection's: closed by either
// side, reset, broken, or past its deadline.
func connFailure(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrHandlerTimeout)
}
