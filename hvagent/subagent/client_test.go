package subagent

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// subAgent starts an httptest server running h and returns a client for
// it, with the default transports.
func subAgent(t *testing.T, h http.HandlerFunc, cfg ClientConfig) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + RPCPath
	c := NewClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// echoID answers body with the request's id put in place of ID.
func echoID(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		m := envelopeID.FindSubmatch(data)
		if m == nil {
			http.Error(w, "no id", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strings.ReplaceAll(body, "ID", string(m[1])))
	}
}

// hang reads the request and blocks until the client goes away. (The
// server notices that only once the body has been read.)
func hang(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestClient_Call(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":{"images":[{"id":"img","type":"","size":5}]},"error":null,"id":ID}`), ClientConfig{})
		var resp ImageResponse
		require.NoError(t, c.Call(t.Context(), "ImageStore.GetImage", &ImageRequest{ID: "img"}, &resp))
		require.Equal(t, ImageResponse{Images: []*Image{{ID: "img", Size: 5}}}, resp)
	})

	t.Run("StringID", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"jsonrpc":"2.0","result":{"volumes":[]},"id":"ID"}`), ClientConfig{})
		var resp VolumeResponse
		require.NoError(t, c.Call(t.Context(), "Storage.ListVolumes", &VolumeRequest{}, &resp))
		require.Equal(t, []*Volume{}, resp.Volumes)
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, hang, ClientConfig{Timeout: 100 * time.Millisecond})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "no answer within 100ms", ce.Message)
		require.True(t, strings.HasPrefix(err.Error(), "Libvirt.Reboot: no answer within 100ms: "), err.Error())
		require.False(t, IsConnectError(err))
	})

	t.Run("ErrTimeoutBeforeCallerDeadline", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, hang, ClientConfig{Timeout: 50 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		err := c.Call(ctx, "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "no answer within 50ms", ce.Message)
		require.NoError(t, ctx.Err())
	})

	t.Run("ErrCallerDeadline", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, hang, ClientConfig{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := c.Call(ctx, "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "call abandoned", ce.Message)
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{})
		c := subAgent(t, func(w http.ResponseWriter, r *http.Request) { close(arrived); hang(w, r) }, ClientConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		err := c.Call(ctx, "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, IsConnectError(err))
	})

	t.Run("ErrHTTPEmptyBody", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, 500, ce.Status)
		require.Equal(t, "Libvirt.Reboot: sub-agent answered HTTP 500 with an empty body", err.Error())
	})

	t.Run("ErrHTTPBody", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `rpc: can't find method "Libvirt.Reboot"`, http.StatusBadRequest)
		}, ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, `rpc: can't find method "Libvirt.Reboot"`, ce.Message)
		require.Equal(t, `Libvirt.Reboot: sub-agent answered HTTP 400: rpc: can't find method "Libvirt.Reboot"`, err.Error())
	})

	t.Run("ErrHTTPLongBody", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, strings.Repeat("x", 10000), http.StatusBadGateway)
		}, ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, strings.Repeat("x", 4096)+"…", ce.Message)
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":{"guest":`), ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		requireCallError(t, err, KindDecode)
		require.Contains(t, err.Error(), "Libvirt.Reboot: invalid reply: not a JSON-RPC reply: ")
	})

	t.Run("ErrNullResult", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":null,"error":null,"id":ID}`), ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		requireCallError(t, err, KindNullResult)
		require.Equal(t, "Libvirt.Reboot: result is null", err.Error())
	})

	t.Run("ErrMethod", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":null,"error":"no such domain","id":ID}`), ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindMethod)
		require.Equal(t, "no such domain", ce.Message)
		require.Equal(t, "Libvirt.Reboot: no such domain", err.Error())
	})

	t.Run("ErrIDMismatch", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":{},"error":null,"id":1ID}`), ClientConfig{})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		requireCallError(t, err, KindDecode)
		require.Contains(t, err.Error(), "does not match request id")
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, echoID(`{"result":{"message":"`+strings.Repeat("x", 2000)+`"},"error":null,"id":ID}`), ClientConfig{})
		c.maxReply = 1024
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		requireCallError(t, err, KindDecode)
		require.Equal(t, "Libvirt.Reboot: invalid reply: reply too large (limit 1024 bytes)", err.Error())
	})

	t.Run("ErrEncode", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://127.0.0.1:1/"})
		err := c.Call(t.Context(), "Libvirt.Reboot", make(chan int), new(GuestResponse))
		requireCallError(t, err, KindDecode)
	})

	t.Run("ErrConnectRefused", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://" + closedAddr(t) + RPCPath})
		err := c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.Equal(t, "sub-agent unreachable", ce.Message)
		require.True(t, IsConnectError(err))
		require.True(t, IsConnectError(fmt.Errorf("stage 1: %w", err)))
	})
}

// closedAddr returns a local TCP address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestClient_Call_Headers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	c := subAgent(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(HeaderJobID)+"/"+r.Header.Get(HeaderAttempt))
		mu.Unlock()
		echoID(`{"result":{},"error":null,"id":ID}`)(w, r)
	}, ClientConfig{})

	require.NoError(t, c.Call(WithCall(t.Context(), "job-7", 2), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse)))
	require.NoError(t, c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse)))
	require.Equal(t, []string{"job-7/2", "/"}, got)
}

func TestClient_Call_MaxPending(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var active, peak atomic.Int32
		c := subAgent(t, func(w http.ResponseWriter, r *http.Request) {
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			active.Add(-1)
			echoID(`{"result":{},"error":null,"id":ID}`)(w, r)
		}, ClientConfig{MaxPending: 2})

		errs := make(chan error, 8)
		for range 8 {
			go func() { errs <- c.Call(t.Context(), "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse)) }()
		}
		for range 8 {
			require.NoError(t, <-errs)
		}
		require.Equal(t, int32(2), peak.Load())
	})

	t.Run("ErrWaitDeadline", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{})
		c := subAgent(t, func(w http.ResponseWriter, r *http.Request) { close(arrived); hang(w, r) }, ClientConfig{MaxPending: 1})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		first := make(chan error, 1)
		go func() { first <- c.Call(ctx, "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse)) }()
		<-arrived

		waitCtx, waitCancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer waitCancel()
		err := c.Call(waitCtx, "Libvirt.Reboot", &GuestRequest{}, new(GuestResponse))
		ce := requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, "waiting for a free call slot", ce.Message)

		cancel()
		require.ErrorIs(t, <-first, context.Canceled)
	})
}

func TestClient_Stream(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat("0123456789abcdef", 8192)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, r *http.Request) {
			var req SnapshotRequest
			if err := decodeJSON(r, &req); err != nil || req.ID != "guests/g1@s1" {
				http.Error(w, fmt.Sprintf("bad request %+v: %v", req, err), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			_, _ = io.WriteString(w, payload)
		}, ClientConfig{})
		body, size, err := c.Stream(t.Context(), &SnapshotRequest{ID: "guests/g1@s1"})
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, int64(len(payload)), size)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, payload, string(got))
	})

	t.Run("UnknownLength", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "part1")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
		}, ClientConfig{})
		body, size, err := c.Stream(t.Context(), &SnapshotRequest{})
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, int64(-1), size)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, "part1part2", string(got))
	})

	t.Run("ErrStatus", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "not found", http.StatusNotFound) }, ClientConfig{})
		body, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		require.Nil(t, body)
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, 404, ce.Status)
		require.Equal(t, "not found", ce.Message)
		require.Equal(t, "sub-agent answered HTTP 404: not found", err.Error())
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, hang, ClientConfig{Timeout: 50 * time.Millisecond})
		_, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		requireCallError(t, err, KindTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, IsConnectError(err))
	})

	t.Run("SlowBodyOutlivesTimeout", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "head")
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
			_, _ = io.WriteString(w, "tail")
		}, ClientConfig{Timeout: 50 * time.Millisecond})
		body, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		require.NoError(t, err)
		defer body.Close()
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, "headtail", string(got))
	})

	t.Run("ErrConnectRefused", func(t *testing.T) {
		t.Parallel()
		c := NewClient(ClientConfig{URL: "http://" + closedAddr(t) + "/snapshots/download"})
		_, _, err := c.Stream(t.Context(), &SnapshotRequest{})
		requireCallError(t, err, KindTransport)
		require.True(t, IsConnectError(err))
	})
}

func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return errors.New("content type " + ct)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// TestClient_NoCompression checks that calls and streams ask the sub-agent
// for no compression, with the default HTTP client and with a caller's.
func TestClient_NoCompression(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header.Values("Accept-Encoding"), ","))
		mu.Unlock()
		if r.URL.Path == "/stream" {
			_, _ = io.WriteString(w, "bytes")
			return
		}
		echoID(`{"result":{"images":[]},"error":null,"id":ID}`)(w, r)
	}))
	t.Cleanup(srv.Close)
	for name, hc := range map[string]*http.Client{"Default": nil, "Callers": srv.Client()} {
		c := NewClient(ClientConfig{URL: srv.URL + RPCPath, HTTPClient: hc})
		require.NoError(t, c.Call(t.Context(), "ImageStore.ListImages", &ImageRequest{}, new(ImageResponse)), name)
		s := NewClient(ClientConfig{URL: srv.URL + "/stream", HTTPClient: hc})
		body, _, err := s.Stream(t.Context(), &SnapshotRequest{ID: "x"})
		require.NoError(t, err, name)
		data, err := io.ReadAll(body)
		require.NoError(t, err)
		require.NoError(t, body.Close())
		require.Equal(t, "bytes", string(data))
		if hc == nil {
			c.http.CloseIdleConnections()
			s.http.CloseIdleConnections()
		}
	}
	require.Equal(t, []string{"identity", "identity", "identity", "identity"}, seen)
}

// encoded answers every request with body in Content-Encoding enc (gzip
// compresses it).
func encoded(enc, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		if m := envelopeID.FindSubmatch(data); m != nil {
			body = strings.ReplaceAll(body, "ID", string(m[1]))
		}
		w.Header().Set("Content-Encoding", enc)
		if enc != "gzip" {
			_, _ = io.WriteString(w, body)
			return
		}
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, body)
		_ = zw.Close()
	}
}

// TestClient_Encoding checks replies compressed although identity was
// asked for: gzip is decoded (within the size limit), anything else is
// refused naming the encoding.
func TestClient_Encoding(t *testing.T) {
	t.Parallel()

	t.Run("GzipDecoded", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, encoded("gzip", `{"result":{"images":[{"id":"img"}]},"error":null,"id":ID}`), ClientConfig{})
		var resp ImageResponse
		require.NoError(t, c.Call(t.Context(), "ImageStore.GetImage", &ImageRequest{ID: "img"}, &resp))
		require.Equal(t, ImageResponse{Images: []*Image{{ID: "img"}}}, resp)
	})

	t.Run("ErrGzipTooLarge", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, encoded("gzip", `{"result":{"images":[]},"error":null,"id":ID}`+strings.Repeat(" ", 4096)), ClientConfig{})
		c.maxReply = 1024
		err := c.Call(t.Context(), "ImageStore.ListImages", &ImageRequest{}, new(ImageResponse))
		ce := requireCallError(t, err, KindDecode)
		require.Equal(t, "reply too large (limit 1024 bytes)", ce.Message)
	})

	t.Run("ErrBadGzip", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, encoded("x-gzip-lie", "not gzip"), ClientConfig{})
		err := c.Call(t.Context(), "ImageStore.ListImages", &ImageRequest{}, new(ImageResponse))
		ce := requireCallError(t, err, KindDecode)
		require.Equal(t, `reply has Content-Encoding "x-gzip-lie", which was not asked for`, ce.Message)
	})

	t.Run("ErrStream", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, encoded("gzip", "payload"), ClientConfig{})
		_, _, err := c.Stream(t.Context(), &SnapshotRequest{ID: "x"})
		ce := requireCallError(t, err, KindDecode)
		require.Equal(t, `stream has Content-Encoding "gzip", which was not asked for`, ce.Message)
	})
}
