package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/wirejson"
)

// Wire headers of the REST API.
const (
	clientJobHeader  = "X-Guest-Job-ID"
	clientIdemHeader = "Idempotency-Key"
)

// clientMaxErrorBody caps how much of an error reply is read.
const clientMaxErrorBody = 64 << 10

// clientMaxErrorText caps the message taken from an error reply that is not JSON.
const clientMaxErrorText = 512

// clientCall is one request of the REST API.
type clientCall struct {
	method string
	path   string // escaped, from clientPath
	query  url.Values
	// rawQuery, when set, is the encoded query (query is then unused).
	rawQuery string
	body     any // sent as JSON when not nil
	header   http.Header
}

// clientPath joins escaped path segments into "/a/b/c".
func clientPath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// send makes one request and returns its response when the status is 2xx,
// else the error it carries. The caller closes the body.
//
// The request goes straight to the transport: the API has no redirects to
// follow (the http.Client does not follow them either), no cookies and no
// client-wide timeout, so http.Client.Do would only copy the headers of
// every request for redirects that never come.
func (c *Client) send(ctx context.Context, call clientCall) (*http.Response, error) {
	conn, err := c.connect()
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, conn, call)
	if err != nil {
		return nil, err
	}
	resp, err := conn.roundTrip(req)
	if err != nil {
		if e := conn.tlsMismatch(err, nil); e != nil {
			return nil, e
		}
		return nil, clientTransportError(ctx, conn.addr, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		err := clientReadError(resp)
		if e := conn.tlsMismatch(nil, err); e != nil {
			return nil, e
		}
		return nil, err
	}
	return resp, nil
}

// roundTrip sends req through the connection's transport, with the
// guarantees of http.Client.Do: a response always has a body, and a
// transport that returns neither response nor error is an error.
func (conn *clientConn) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := conn.hc.Transport.RoundTrip(req)
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	case resp == nil:
		return nil, fmt.Errorf("%s %s: transport returned no response and no error", req.Method, req.URL.Path)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// Shared header values of requests (header values are never modified in
// place).
var (
	clientJSONType  = []string{"application/json"}
	clientUserAgent = []string{"hvagent-client/" + hvagent.Version}
)

// newRequest builds the HTTP request of call on conn's base URL. The URL
// is built, not formatted and parsed again; it and the header fill the
// ones http.NewRequestWithContext made.
func (c *Client) newRequest(ctx context.Context, conn *clientConn, call clientCall) (*http.Request, error) {
	rawPath := conn.basePath + call.path
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, hvagent.Errorf(hvagent.EINVALID, "bad request path %q", rawPath)
	}
	var body io.Reader
	if call.body != nil {
		b, err := json.Marshal(call.body)
		if err != nil {
			return nil, hvagent.WrapError(hvagent.EINVALID, err, "encode %s %s body: %v", call.method, call.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, call.method, "", body)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	u := req.URL
	*u = *conn.base
	u.RawPath, u.Path = rawPath, p
	switch {
	case call.rawQuery != "":
		u.RawQuery = call.rawQuery
	case len(call.query) > 0:
		u.RawQuery = call.query.Encode()
	}
	req.Host = conn.host
	for k, vs := range call.header {
		req.Header[k] = vs
	}
	if call.body != nil {
		req.Header["Content-Type"] = clientJSONType
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header["Accept"] = clientJSONType
	}
	req.Header["User-Agent"] = clientUserAgent
	if c.Token != "" {
		req.Header["Authorization"] = []string{"Bearer " + c.Token}
	}
	return req, nil
}

// clientBufs recycles the buffers replies are read into.
var clientBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// clientMaxPooledBuf is the largest reply buffer put back for reuse; a
// larger one (a long list) is left to the garbage collector.
const clientMaxPooledBuf = 256 << 10

// call makes a request and decodes its JSON reply into out (unless nil),
// which must point to a zero value.
// It returns the response, whose body is read to its end (so that the
// connection is kept for the next request) and closed, for its headers.
func (c *Client) call(ctx context.Context, call clientCall, out any) (*http.Response, error) {
	resp, err := c.send(ctx, call)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp, nil
	}
	buf := clientBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= clientMaxPooledBuf {
			buf.Reset()
			clientBufs.Put(buf)
		}
	}()
	_, err = buf.ReadFrom(resp.Body)
	if err == nil {
		err = decodeReply(buf.Bytes(), out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, hvagent.ContextError(ctx)
		}
		return nil, fmt.Errorf("decode %s %s reply: %w", call.method, call.path, err)
	}
	return resp, nil
}

// decodeReply decodes a JSON reply into out, a pointer to a zero value: a
// Job through wirejson.ParseJob, a Guest through subagent.ParseGuest (on
// a copy: data is a pooled buffer) when they take it, else json.Unmarshal.
func decodeReply(data []byte, out any) error {
	switch v := out.(type) {
	case *hvagent.Job:
		if wirejson.ParseJob(data, v) {
			return nil
		}
	case *hvagent.Guest:
		if subagent.ParseGuest(strings.TrimSuffix(string(data), "\n"), v) {
			return nil
		}
	}
	return json.Unmarshal(data, out)
}

// What Go's https server answers a plain HTTP request, and what Go's
// transport says of a plain HTTP answer to a TLS handshake.
const (
	clientPlainToTLS = "Client sent an HTTP request to an HTTPS server"
	clientTLSToPlain = "server gave HTTP response to HTTPS client"
)

// tlsMismatch returns the EINVALID error naming the scheme to use when the
// round trip failed (err) or was answered (reply) in a way that shows a
// TLS/plain mismatch: https to a plain server, http to a TLS one. Else nil.
func (conn *clientConn) tlsMismatch(err, reply error) error {
	var rec tls.RecordHeaderError
	switch {
	case conn.unix:
		return nil
	case err != nil && conn.base.Scheme == "https" && (errors.As(err, &rec) || strings.Contains(err.Error(), clientTLSToPlain)):
		return hvagent.WrapError(hvagent.EINVALID, err,
			"hvagentd at %s does not speak TLS (HTTPS): use http://%s", conn.addr, conn.base.Host)
	case reply != nil && conn.base.Scheme == "http" && strings.Contains(reply.Error(), clientPlainToTLS):
		return hvagent.WrapError(hvagent.EINVALID, reply,
			"hvagentd at %s speaks TLS (HTTPS), not plain HTTP: use https://%s", conn.addr, conn.base.Host)
	}
	return nil
}

// clientTransportError turns a failed round trip into ECANCELED or ETIMEOUT when
// ctx ended, else EUNAVAILABLE naming the address.
func clientTransportError(ctx context.Context, addr string, err error) error {
	if ctx.Err() != nil {
		return hvagent.ContextError(ctx)
	}
	reason := err.Error()
	var errno syscall.Errno
	var uerr *url.Error
	switch {
	case errors.As(err, &errno):
		reason = errno.Error()
	case errors.As(err, &uerr):
		reason = uerr.Err.Error()
	}
	return hvagent.WrapError(hvagent.EUNAVAILABLE, err, "cannot reach hvagentd at %s: %s", addr, reason)
}

// lost reports a connection lost while reading a reply, like clientTransportError.
func (c *Client) lost(ctx context.Context, err error) error {
	addr := c.Addr
	if conn, cerr := c.connect(); cerr == nil {
		addr = conn.addr
	}
	return clientTransportError(ctx, addr, err)
}

// clientReadError returns the *Error of a reply that is not 2xx: the code word of
// its JSON body, or when the body is not ours (a proxy, a foreign server) a
// code from the status with the body's text as message.
func clientReadError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, clientMaxErrorBody))
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return &hvagent.Error{Code: e.Error, Message: e.Message}
	}
	msg := strings.TrimSpace(string(b))
	if r := []rune(msg); len(r) > clientMaxErrorText {
		msg = string(r[:clientMaxErrorText]) + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &hvagent.Error{Code: codeForStatus(resp.StatusCode), Message: fmt.Sprintf("%s (HTTP %d)", msg, resp.StatusCode)}
}
