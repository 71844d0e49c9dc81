package subagent

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hvagent/hvagent/internal/httpconn"
	"github.com/hvagent/hvagent/internal/jsonform"
)

// Header names carrying the job and attempt a call belongs to. Old
// sub-agents ignore them; new ones may use them to de-duplicate.
const (
	HeaderJobID   = "X-Hvagent-Job-ID"
	HeaderAttempt = "X-Hvagent-Attempt"
)

const (
	// DefaultTimeout is the per-call deadline when ClientConfig.Timeout is 0.
	DefaultTimeout = 60 * time.Second
	// maxReply caps the size of a reply the client reads.
	maxReply = 64 << 20
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the full endpoint URL including its path, for example
	// http://127.0.0.1:9999/_mistify_RPC_. Stream posts to it too.
	URL string
	// HTTPClient sends the requests. Default: calls go over the client's
	// own keep-alive connections, each call written and its reply read in
	// the calling goroutine (see internal/httpconn), and streams through an
	// http.Client with its own Transport; neither has a global timeout
	// (deadlines come from the context). Whatever sends them, calls and
	// streams ask for no compression (Accept-Encoding: identity): local
	// replies are small, and compressing them costs more than sending them.
	HTTPClient *http.Client
	// Socket is the path of a unix socket the sub-agent serves HTTP on;
	// when set, the default transports dial it instead of the URL's host
	// (which then only fills the Host header). Ignored with HTTPClient.
	Socket string
	// TLSConfig is used by the default transports for an https URL.
	// Default: the system's roots, the URL's host as server name.
	TLSConfig *tls.Config
	// Timeout is the deadline of each call; the context's deadline wins when
	// it is sooner. Default: 60s.
	Timeout time.Duration
	// MaxPending limits the number of concurrent calls; further calls wait
	// (until their context ends) for a free slot. Default 0: no limit.
	// Streams are not counted.
	MaxPending int
}

// Client calls the methods of one sub-agent over the JSON-RPC 1.0 wire of
// the original mistify-agent. It is safe for concurrent use.
type Client struct {
	url     string
	pool    *httpconn.Pool // calls' connections; nil: calls go through http
	http    *http.Client
	raw     bool // streams over http:// use connections of their own (rawStream)
	timeout time.Duration
	slots   chan struct{} // nil: no limit
	// maxReply caps the size of a reply read; a field so tests can lower it.
	maxReply int64
}

// NewClient returns a Client for cfg, filling in defaults. A URL that
// does not parse fails each call with an error saying so.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{url: cfg.URL, http: cfg.HTTPClient, timeout: cfg.Timeout, maxReply: maxReply}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg)}
		c.raw = cfg.Socket == ""
		// No pool for a URL that cannot be called (each call says why)
		// or one reached through a proxy (net/http knows proxies).
		c.pool, _ = httpconn.New(httpconn.Config{URL: cfg.URL, Socket: cfg.Socket,
			TLSConfig: cfg.TLSConfig, WaitDrain: true})
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if cfg.MaxPending > 0 {
		c.slots = make(chan struct{}, cfg.MaxPending)
	}
	return c
}

// newTransport is the transport of streams (and of calls made through a
// proxy): dialing cfg.Socket when set.
func newTransport(cfg ClientConfig) *http.Transport {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	dial, proxy := d.DialContext, http.ProxyFromEnvironment
	if cfg.Socket != "" {
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", cfg.Socket)
		}
		proxy = nil // a local socket is never reached through a proxy
	}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		TLSClientConfig:       cfg.TLSConfig,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// URL returns the endpoint URL the client posts to.
func (c *Client) URL() string { return c.url }

// CloseIdleConnections closes the connections the client keeps for reuse.
// Calls and streams in progress go on; later ones open new connections.
func (c *Client) CloseIdleConnections() {
	if c.pool != nil {
		c.pool.CloseIdleConnections()
	}
	c.http.CloseIdleConnections()
}

// Call invokes method ("Service.Method") with params and decodes the reply's
// result into result, which should point to a fresh value: decoding into a
// used one would merge old fields with new. A nil result discards it.
//
// Every failure is a *CallError whose Kind says what went wrong. When ctx
// ends, the call is abandoned and errors.Is(err, ctx.Err()) holds.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	body, id, err := encodeRequest(method, params)
	if err != nil {
		return &CallError{Kind: KindDecode, Method: method, Message: "encode request: " + err.Error(), Err: err}
	}
	if err := c.acquire(ctx); err != nil {
		return &CallError{Kind: KindTransport, Method: method, Message: "waiting for a free call slot", Err: err}
	}
	defer c.release()

	callCtx, cancel := c.callContext(ctx)
	defer cancel()
	data, code, err := c.post(callCtx, method, body)
	if err != nil {
		return c.transportError(ctx, callCtx, method, err)
	}
	if err := decodeReply(data, id, result); err != nil {
		re := &replyError{kind: KindDecode, msg: err.Error()}
		errors.As(err, &re)
		ce := &CallError{Kind: re.kind, Method: method, Message: re.msg, Err: re.err}
		if re.kind == KindMethod {
			ce.Code = code
		}
		return ce
	}
	return nil
}

// callContext is ctx bounded by the client's timeout, or ctx itself when
// its own deadline comes first: an agent's call carries its action's
// deadline, and a second one would only cost a timer per call.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= c.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// post sends one envelope and returns the reply body with the known code
// of its HeaderErrorCode. HTTP errors come back as *CallError; everything
// else is a transport error.
func (c *Client) post(ctx context.Context, method string, body []byte) ([]byte, string, error) {
	resp, err := c.send(ctx, body)
	if err != nil {
		return nil, "", err
	}
	defer closeBody(resp.Body)
	if resp.StatusCode >= 300 { // a redirect is not followed: the call fails naming it
		return nil, "", httpError(method, resp)
	}
	reply, err := replyBody(method, resp)
	if err != nil {
		return nil, "", err
	}
	size := resp.ContentLength
	if reply != resp.Body { // decompressed
		size = -1
	}
	data, err := readBody(reply, size, c.maxReply)
	if err != nil {
		return nil, "", fmt.Errorf("read reply: %w", err)
	}
	if int64(len(data)) > c.maxReply {
		msg := "reply too large (limit " + sizeText(c.maxReply) + ")"
		return nil, "", &CallError{Kind: KindDecode, Method: method, Message: msg}
	}
	return data, replyCode(resp.Header), nil
}

// replyBody returns the reply's body as sent, or decompressed when a
// sub-agent compressed it with gzip although the call asked for identity
// (the size limit then applies to the decompressed bytes). Another
// encoding is a *CallError of KindDecode naming it.
func replyBody(method string, resp *http.Response) (io.Reader, error) {
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return resp.Body, nil
	case "gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, &CallError{Kind: KindDecode, Method: method, Message: "gzip reply: " + err.Error(), Err: err}
		}
		return zr, nil
	default:
		return nil, &CallError{Kind: KindDecode, Method: method, Message: "reply has Content-Encoding " + strconv.Quote(enc) + ", which was not asked for"}
	}
}

// sizeText writes n bytes in MiB when it is a whole number of them.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (c *Client) send(ctx context.Context, body []byte) (*http.Response, error) {
	if c.pool == nil {
		// The reply is read whole: an InProcess transport calls its
		// handler directly then.
		ctx = withWholeReply(ctx, c.maxReply)
	}
	req, err := c.newRequest(ctx, body)
	if err != nil {
		return nil, err
	}
	rt := c.inProcess() // nil but for an InProcess's own client
	if c.pool != nil {
		rt = c.pool
	}
	if rt == nil {
		return c.http.Do(req)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		// Worded as net/http words its failures.
		return nil, &url.Error{Op: "Post", URL: c.url, Err: err}
	}
	return resp, nil
}

// inProcess returns the transport of the client's http.Client when it is
// an InProcess's, used as InProcess.HTTPClient makes it (no timeout,
// cookies or redirect policy): a call then goes to it straight, as calls
// go to the pool, without http.Client's copy of the request's header for
// redirects that a call does not follow anyway. Nil otherwise.
func (c *Client) inProcess() http.RoundTripper {
	if t, ok := c.http.Transport.(*handoffTransport); ok &&
		c.http.Timeout == 0 && c.http.Jar == nil && c.http.CheckRedirect == nil {
		return t
	}
	return nil
}

// newRequest builds the POST of body with the headers of every call.
func (c *Client) newRequest(ctx context.Context, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	// Without this Go's transport asks for gzip, and sub-agents built like
	// the original mistify ones compress every reply they may: that costs
	// more than the bytes it saves on a local connection.
	req.Header.Set("Accept-Encoding", "identity")
	if u := req.URL.User; u != nil { // as http.Client does, for the pool too
		pass, _ := u.Password()
		req.SetBasicAuth(u.Username(), pass)
	}
	if info, ok := ctx.Value(callKey{}).(callInfo); ok {
		req.Header.Set(HeaderJobID, info.jobID)
		req.Header.Set(HeaderAttempt, strconv.Itoa(info.attempt))
	}
	return req, nil
}

// sendStream is send for Stream: over http:// with the client's own
// transport, on a connection of its own (see rawStream).
func (c *Client) sendStream(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := c.newRequest(ctx, body)
	if err != nil {
		return nil, err
	}
	if c.raw && req.URL.Scheme == "http" {
		if resp, ok, err := c.rawStream(req); ok {
			return resp, err
		}
	}
	return c.http.Do(req)
}

// transportError turns a failure of post into a *CallError, saying whether
// the caller's context, the call timeout or the network ended the call.
func (c *Client) transportError(ctx, callCtx context.Context, method string, err error) error {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce
	}
	msg := "call failed"
	switch {
	case ctx.Err() != nil:
		msg = "call abandoned"
		err = withCause(err, ctx)
	case callCtx.Err() != nil:
		msg = "no answer within " + c.timeout.String()
		err = withCause(err, callCtx)
	case isDialError(err):
		msg = "sub-agent unreachable"
	}
	return &CallError{Kind: KindTransport, Method: method, Message: msg, Err: err}
}

// withCause makes sure ctx's error is in err's chain, so errors.Is finds it
// whatever the transport reported.
func withCause(err error, ctx context.Context) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (%w)", ctx.Err(), err)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (c *Client) acquire(ctx context.Context) error {
	if c.slots == nil {
		return ctx.Err()
	}
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// Stream posts params as plain JSON (no envelope) to the client's URL and
// returns the body of a 200 reply with its Content-Length (-1 when unknown).
// With the default HTTPClient, a stream over http:// has a connection of
// its own, and the body of a reply with a Content-Length has WriteTo,
// which hands that connection to the destination's ReadFrom (splice from
// socket to socket).
// The caller must close the body. The call timeout covers the wait for the
// reply headers; ctx covers the whole stream. Any other status gives a
// *CallError of KindHTTP whose Message is the body text.
func (c *Client) Stream(ctx context.Context, params any) (io.ReadCloser, int64, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, 0, &CallError{Kind: KindDecode, Message: "encode request: " + err.Error(), Err: err}
	}
	streamCtx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.timeout, func() { timedOut.Store(true); cancel() })
	resp, err := c.sendStream(streamCtx, body)
	timer.Stop()
	if err != nil {
		cancel()
		return nil, 0, c.streamError(ctx, timedOut.Load(), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer closeBody(resp.Body)
		return nil, 0, httpError("", resp)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		defer cancel()
		defer closeBody(resp.Body)
		return nil, 0, &CallError{Kind: KindDecode, Message: "stream has Content-Encoding " + strconv.Quote(enc) + ", which was not asked for"}
	}
	sb := &streamBody{ReadCloser: resp.Body, cancel: cancel}
	if wt, ok := resp.Body.(io.WriterTo); ok {
		return &streamBodyWriterTo{streamBody: sb, wt: wt}, resp.ContentLength, nil
	}
	return sb, resp.ContentLength, nil
}

func (c *Client) streamError(ctx context.Context, timedOut bool, err error) error {
	switch {
	case ctx.Err() != nil:
		return &CallError{Kind: KindTransport, Message: "stream abandoned", Err: withCause(err, ctx)}
	case timedOut:
		msg := "no answer within " + c.timeout.String()
		return &CallError{Kind: KindTransport, Message: msg, Err: fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)}
	case isDialError(err):
		return &CallError{Kind: KindTransport, Message: "sub-agent unreachable", Err: err}
	}
	return &CallError{Kind: KindTransport, Message: "stream failed", Err: err}
}

// streamBody releases the stream's context when the caller closes it.
type streamBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *streamBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// streamBodyWriterTo is a streamBody whose body has WriteTo (a file handed
// over by an in-process sub-agent), which it keeps.
type streamBodyWriterTo struct {
	*streamBody
	wt io.WriterTo
}

// WriteTo writes the stream to w with the body's own WriteTo.
func (b *streamBodyWriterTo) WriteTo(w io.Writer) (int64, error) { return b.wt.WriteTo(w) }

// httpError reads the start of an error reply's body as its reason.
func httpError(method string, resp *http.Response) error {
	text, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorText+1))
	ce := &CallError{Kind: KindHTTP, Method: method, Status: resp.StatusCode, Message: capText(text, maxErrorText),
		Code: replyCode(resp.Header)}
	if err != nil {
		ce.Err = fmt.Errorf("read error body: %w", err)
	}
	return ce
}

// closeBody drains a little of what is left so the connection can be reused.
func closeBody(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

func encodeRequest(method string, params any) ([]byte, uint64, error) {
	id := rand.Uint64() >> 1
	if p, ok := params.(*GuestRequest); ok && p != nil {
		buf := jsonform.GetBuffer()
		defer jsonform.PutBuffer(buf)
		*buf = appendGuestRequestCall(*buf, method, p, id)
		return bytes.Clone(*buf), id, nil // the call's body lives as long as the call
	}
	body, err := json.Marshal(request{Method: method, Params: [1]any{params}, ID: id})
	return body, id, err
}

type callKey struct{}

type callInfo struct {
	jobID   string
	attempt int
}

// WithCall returns a context whose calls carry jobID and attempt in the
// X-Hvagent-Job-ID and X-Hvagent-Attempt headers.
func WithCall(ctx context.Context, jobID string, attempt int) context.Context {
	return context.WithValue(ctx, callKey{}, callInfo{jobID: jobID, attempt: attempt})
}

// CallInfo returns the job ID and attempt a call carries: inside a Server
// handler, what the caller's headers said; otherwise what WithCall set.
// Both are zero when unknown.
func CallInfo(ctx context.Context) (jobID string, attempt int) {
	info, _ := ctx.Value(callKey{}).(callInfo)
	return info.jobID, info.attempt
}
