package rest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// fileStream is a stream with WriteTo, as a file handed over by a built-in
// driver: it copies its file to the writer in 1 MiB steps, each an
// *io.LimitedReader of the file (what sendfile takes), then fails when
// failAfter is set.
type fileStream struct {
	f         *os.File
	failAfter bool
	readFrom  atomic.Bool // the writer had ReadFrom
	closed    atomic.Bool
}

func (s *fileStream) Read(p []byte) (int, error) { return s.f.Read(p) }

func (s *fileStream) WriteTo(w io.Writer) (int64, error) {
	_, rf := w.(io.ReaderFrom)
	s.readFrom.Store(rf)
	var total int64
	for {
		n, err := io.Copy(w, &io.LimitedReader{R: s.f, N: 1 << 20})
		total += n
		if err != nil || n == 0 {
			if err == nil && s.failAfter {
				err = errors.New("export vanished")
			}
			return total, err
		}
	}
}

func (s *fileStream) Close() error { s.closed.Store(true); return s.f.Close() }

// newFileStream writes size random bytes to a file and opens it.
func newFileStream(t *testing.T, size int) (*fileStream, []byte) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "export")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	return &fileStream{f: f}, data
}

func TestHandler_StreamWriteTo(t *testing.T) {
	t.Parallel()
	const path = "/guests/0b3c5d1e-0000-4000-8000-000000000001/disks/0/snapshots/s1/download"

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		src, data := newFileStream(t, 3<<20+5)
		f := &fakeService{DoFunc: func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return &hvagent.Result{Stream: src, Size: int64(len(data))}, nil
		}}
		srv, _ := serveFake(t, f, 0, 0)
		resp, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, int64(len(data)), resp.ContentLength)
		require.True(t, bytes.Equal(data, []byte(body)), "body differs")
		require.True(t, src.readFrom.Load(), "the stream writes through a ReaderFrom (sendfile)")
		require.Eventually(t, src.closed.Load, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("ErrSource", func(t *testing.T) {
		t.Parallel()
		src, data := newFileStream(t, 1<<20+5)
		src.failAfter = true
		f := &fakeService{DoFunc: func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return &hvagent.Result{Stream: src, Size: -1}, nil
		}}
		srv, logs := serveFake(t, f, 0, 0)
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.Error(t, err, "a truncated stream must not look complete")
		require.True(t, bytes.Equal(data, got), "what was sent arrives")
		require.Eventually(t, src.closed.Load, 5*time.Second, 10*time.Millisecond)
		require.Contains(t, logs.String(), "export vanished")
	})
}
