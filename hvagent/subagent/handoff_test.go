package subagent

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// handoffBundle is an InProcess whose /file handler copies a file to its
// reply in the way the request's query says, and reports what its copy
// returned.
type handoffBundle struct {
	p      *InProcess
	data   []byte
	copied chan copyResult
}

type copyResult struct {
	n   int64
	err error
}

func setupHandoff(t *testing.T) *handoffBundle {
	t.Helper()
	b := &handoffBundle{data: make([]byte, handoffChunk+12345), copied: make(chan copyResult, 1)}
	_, _ = rand.Read(b.data)
	path := filepath.Join(t.TempDir(), "export.qcow2")
	require.NoError(t, os.WriteFile(path, b.data, 0o600))
	s := NewServer()
	s.HandleRaw("/file", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		q := r.URL.Query()
		if q.Has("status") {
			code, _ := strconv.Atoi(q.Get("status"))
			w.WriteHeader(code)
		}
		if q.Has("head") {
			_, _ = io.WriteString(w, q.Get("head"))
		}
		if !q.Has("nolength") {
			w.Header().Set("Content-Length", strconv.Itoa(len(b.data)+len(q.Get("head"))+len(q.Get("tail"))))
		}
		var src io.Reader = f
		if q.Has("notfile") {
			src = struct{ io.Reader }{f}
		}
		n, err := io.Copy(w, src)
		b.copied <- copyResult{n, err}
		if q.Has("tail") {
			_, _ = io.WriteString(w, q.Get("tail"))
		}
	}))
	b.p = NewInProcess(s)
	t.Cleanup(func() { require.NoError(t, b.p.Close()) })
	return b
}

// get requests /file?query and returns the reply.
func (b *handoffBundle) get(t *testing.T, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://x/file?"+query, nil)
	require.NoError(t, err)
	resp, err := b.p.HTTPClient().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Empty(t, resp.Header.Get(handoffHeader))
	return resp
}

// countingWriter is a buffer that counts the calls of its ReadFrom.
type countingWriter struct {
	bytes.Buffer
	readFroms atomic.Int64
}

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFroms.Add(1)
	return w.Buffer.ReadFrom(r)
}

func TestInProcess_Handoff(t *testing.T) {
	t.Parallel()

	t.Run("WriteTo", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		resp := b.get(t, "")
		require.Equal(t, int64(len(b.data)), resp.ContentLength)
		wt, ok := resp.Body.(io.WriterTo)
		require.True(t, ok, "a handed-over body has WriteTo")
		var w countingWriter
		n, err := wt.WriteTo(&w)
		require.NoError(t, err)
		require.Equal(t, int64(len(b.data)), n)
		require.True(t, bytes.Equal(b.data, w.Bytes()), "body differs")
		require.Equal(t, int64(3), w.readFroms.Load(), "one ReadFrom per chunk (2), and one for the (empty) rest")
		require.Equal(t, copyResult{int64(len(b.data)), nil}, <-b.copied)
	})

	t.Run("Read", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		resp := b.get(t, "")
		got, err := io.ReadAll(struct{ io.Reader }{resp.Body})
		require.NoError(t, err)
		require.True(t, bytes.Equal(b.data, got), "body differs")
		require.Equal(t, copyResult{int64(len(b.data)), nil}, <-b.copied)
	})

	t.Run("ThenWrites", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		resp := b.get(t, "tail=end&nolength")
		require.Equal(t, int64(-1), resp.ContentLength)
		var w bytes.Buffer
		_, err := io.Copy(&w, resp.Body)
		require.NoError(t, err)
		require.True(t, bytes.Equal(append(append([]byte{}, b.data...), "end"...), w.Bytes()), "body differs")
	})

	t.Run("NotHandedOver", func(t *testing.T) {
		t.Parallel()
		for _, query := range []string{"head=start", "notfile", "status=203"} {
			b := setupHandoff(t)
			resp := b.get(t, query)
			_, ok := resp.Body.(io.WriterTo)
			require.False(t, ok, query)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err, query)
			want := b.data
			if query == "head=start" {
				want = append([]byte("start"), b.data...)
			}
			require.True(t, bytes.Equal(want, got), "body of %s differs", query)
			require.Equal(t, copyResult{int64(len(b.data)), nil}, <-b.copied, query)
		}
	})

	t.Run("ClosedEarly", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		resp := b.get(t, "")
		buf := make([]byte, 1000)
		_, err := io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		require.Equal(t, b.data[:1000], buf)
		require.NoError(t, resp.Body.Close())
		res := <-b.copied
		require.Equal(t, int64(1000), res.n)
		require.ErrorIs(t, res.err, errHandoffClosed)
		_, err = resp.Body.Read(buf)
		require.ErrorIs(t, err, errHandoffClosed)
	})

	t.Run("ErrWriter", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		resp := b.get(t, "")
		c1, c2 := net.Pipe()
		require.NoError(t, c2.Close())
		_, err := resp.Body.(io.WriterTo).WriteTo(c1)
		require.Error(t, err)
		res := <-b.copied
		require.Equal(t, int64(0), res.n)
		require.Error(t, res.err)
	})

	t.Run("ClientGone", func(t *testing.T) {
		t.Parallel()
		b := setupHandoff(t)
		ctx, cancel := context.WithCancel(t.Context())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/file", nil)
		require.NoError(t, err)
		resp, err := b.p.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		cancel()
		select {
		case res := <-b.copied:
			require.ErrorIs(t, res.err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's copy did not end when its client went away")
		}
	})
}
