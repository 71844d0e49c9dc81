package subagent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// rawStreamChunk is how much of a raw stream one WriteTo step copies: the
// destination's deadline moves and the caller's idle timer restarts
// between steps.
const rawStreamChunk = 4 << 20

// rawStream makes a stream request on a TCP connection of its own, without
// net/http's transport, whose body hides the connection: the reply of a
// 200 with a Content-Length then has WriteTo, which gives the connection
// itself to a destination's ReadFrom (splice from socket to socket). The
// connection closes with the body. ok is false when req needs a proxy;
// nothing was sent then.
func (c *Client) rawStream(req *http.Request) (resp *http.Response, ok bool, err error) {
	if proxy, perr := http.ProxyFromEnvironment(req); perr != nil || proxy != nil {
		return nil, false, nil
	}
	ctx := req.Context()
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, true, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	req.Close = true
	br := bufio.NewReader(conn)
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		stop()
		_ = conn.Close()
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return nil, true, err
	}
	rb := &rawBody{conn: conn, stop: stop, body: resp.Body}
	resp.Body = rb
	if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0 {
		rb.br, rb.remain = br, resp.ContentLength
		resp.Body = &rawBodyWriterTo{rb}
	}
	return resp, true, nil
}

// rawBody is the body of a raw stream: read through net/http's body
// reader (body), or, for a plain Content-Length body (br set), straight
// from the connection.
type rawBody struct {
	conn   net.Conn
	stop   func() bool
	body   io.ReadCloser
	br     *bufio.Reader // the connection, with what was read ahead of the body
	remain int64         // bytes of the body not read yet, when br is set
}

// Read reads the body.
func (b *rawBody) Read(p []byte) (int, error) {
	if b.br == nil {
		return b.body.Read(p)
	}
	if b.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	if errors.Is(err, io.EOF) && b.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close closes the connection.
func (b *rawBody) Close() error {
	b.stop()
	return b.conn.Close()
}

// rawBodyWriterTo is a plain Content-Length rawBody, which can write
// itself.
type rawBodyWriterTo struct{ *rawBody }

// WriteTo writes what was read ahead of the body, then the body straight
// from the connection in steps of rawStreamChunk, each through w's
// ReadFrom when it has one. A body cut short is io.ErrUnexpectedEOF.
func (b *rawBodyWriterTo) WriteTo(w io.Writer) (int64, error) {
	ahead := min(int64(b.br.Buffered()), b.remain)
	n, err := io.Copy(w, &io.LimitedReader{R: b.br, N: ahead})
	b.remain -= n
	total := n
	for err == nil && b.remain > 0 {
		want := min(int64(rawStreamChunk), b.remain)
		n, err = io.Copy(w, &io.LimitedReader{R: b.conn, N: want})
		b.remain -= n
		total += n
		if err == nil && n < want {
			err = io.ErrUnexpectedEOF
		}
	}
	return total, err
}
