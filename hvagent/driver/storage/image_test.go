package storage_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/testio"
)

// imageServer serves files by path and counts requests.
type imageServer struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	files map[string][]byte
	gate  chan struct{} // when set, a body waits for it after its first bytes
}

func newImageServer(t *testing.T) *imageServer {
	s := &imageServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *imageServer) put(name string, b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = b
	return s.URL + "/" + name
}

func (s *imageServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	b, ok := s.files[r.URL.Path[1:]]
	gate := s.gate
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	half := len(b) / 2
	_, _ = w.Write(b[:half])
	if gate != nil {
		w.(http.Flusher).Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	_, _ = w.Write(b[half:])
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// requireNoLeftovers checks that a failed fetch of id left no file.
func requireNoLeftovers(t *testing.T, b *testBundle) {
	t.Helper()
	require.Empty(t, files(t, filepath.Join(b.dataDir, "tmp")))
	require.Empty(t, files(t, layout.ImagesDir(b.dataDir)))
}

func TestDriver_RequestImage(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	qcow, err := os.ReadFile(makeImage(t, src, "base.qcow2"))
	require.NoError(t, err)

	t.Run("GzipWithSHA256AndProgress", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		body := gz(t, qcow)
		url := srv.put("base.qcow2.gz", body)
		var mu sync.Mutex
		var calls [][3]int64
		var jobs []string
		b := setup(t, func(o *storage.Options) {
			o.OnProgress = func(job string, done, total int64) {
				mu.Lock()
				defer mu.Unlock()
				jobs = append(jobs, job)
				calls = append(calls, [3]int64{done, total})
			}
		})
		ctx := subagent.WithCall(testCtx(t), "job-1", 1)
		resp, err := b.driver.RequestImage(ctx, &subagent.ImageRequest{ID: "base", Source: url, SHA256: sum(body)})
		require.NoError(t, err)
		require.Equal(t, []*subagent.Image{{ID: "base", Size: 16, Status: "complete"}}, resp.Images)
		require.True(t, hasPattern(t, filepath.Join(layout.ImagesDir(b.dataDir), "base.qcow2"), "qcow2", 0x11, 0))
		mu.Lock()
		require.GreaterOrEqual(t, len(calls), 2)
		require.Equal(t, [3]int64{0, int64(len(body))}, calls[0])
		require.Equal(t, [3]int64{int64(len(body)), int64(len(body))}, calls[len(calls)-1])
		require.Equal(t, "job-1", jobs[0])
		mu.Unlock()

		again, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "base", Source: url})
		require.NoError(t, err)
		require.Equal(t, resp, again)
		require.EqualValues(t, 1, srv.hits.Load(), "a complete image is not fetched again")
	})

	t.Run("RawIsConvertedToQcow2", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		raw := make([]byte, 2<<20)
		for i := range 65536 {
			raw[i] = 0x11
		}
		b := setup(t, nil)
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "raw", Source: srv.put("raw.img", raw)})
		require.NoError(t, err)
		p := filepath.Join(layout.ImagesDir(b.dataDir), "raw.qcow2")
		require.Contains(t, run(t, "qemu-img", "info", p), "file format: qcow2")
		require.True(t, hasPattern(t, p, "qcow2", 0x11, 0))
		require.ElementsMatch(t, []string{"raw.qcow2", "raw.json"}, files(t, layout.ImagesDir(b.dataDir)))
		require.Empty(t, files(t, filepath.Join(b.dataDir, "tmp")))
	})

	// A source's password and query values (a signed URL) never reach
	// an error, the log or the image record.
	t.Run("SourceSecretsHidden", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		var logs testio.Buffer
		b := setup(t, func(o *storage.Options) { o.Logger = zerolog.New(&logs) })
		src := strings.Replace(srv.put("s.qcow2", qcow), "http://", "http://admin:hunter2@", 1) + "?sig=AKIAsecret"
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "s1", Source: src, SHA256: sum([]byte("other"))})
		require.ErrorContains(t, err, "sha256 mismatch: http://admin:xxxxx@")
		require.ErrorContains(t, err, "s.qcow2?sig=xxxxx has ")
		_, err = b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "s2", Source: src})
		require.NoError(t, err)
		meta, err := os.ReadFile(filepath.Join(layout.ImagesDir(b.dataDir), "s2.json"))
		require.NoError(t, err)
		require.Contains(t, string(meta), "admin:xxxxx@", "the image record keeps the source, shown")
		_, err = b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "s3",
			Source: "http://admin:hunter2@127.0.0.1:1/x.img?sig=AKIAsecret"})
		require.Error(t, err)
		for _, text := range []string{err.Error(), logs.String(), string(meta)} {
			require.NotContains(t, text, "hunter2")
			require.NotContains(t, text, "AKIAsecret")
		}
		require.Contains(t, logs.String(), `"source":"http://admin:xxxxx@`)
	})

	// A gzip stream cut short says so, with how much was read.
	t.Run("ErrTruncatedGzip", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		body := gz(t, qcow)
		b := setup(t, nil)
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "cut", Source: srv.put("cut.gz", body[:len(body)/2])})
		require.ErrorContains(t, err, fmt.Sprintf("the source is cut short (a body or gzip stream that ends early), %d bytes read: unexpected EOF", len(body)/2))
		requireNoLeftovers(t, b)
	})

	t.Run("ErrWrongSHA256", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		b := setup(t, nil)
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "base", Source: srv.put("b.qcow2", qcow), SHA256: sum([]byte("other"))})
		require.ErrorContains(t, err, "image base: sha256 mismatch: "+srv.URL+"/b.qcow2 has "+sum(qcow)+", want "+sum([]byte("other")))
		requireNoLeftovers(t, b)
		_, err = b.driver.GetImage(testCtx(t), &subagent.ImageRequest{ID: "base"})
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.EqualError(t, err, "image base: not found")
	})

	t.Run("ErrHTTPStatus", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		b := setup(t, nil)
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "x", Source: srv.URL + "/missing"})
		require.EqualError(t, err, "image x: fetch "+srv.URL+"/missing: HTTP 404 Not Found")
		requireNoLeftovers(t, b)
	})

	t.Run("ErrFileOutsideAllowedDirs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "x", Source: "file://" + filepath.Join(src, "base.qcow2")})
		require.ErrorIs(t, err, storage.ErrInvalid)
		require.ErrorContains(t, err, "is not under an allowed directory")
		requireNoLeftovers(t, b)
	})

	t.Run("ErrSymlinkOutOfAllowedDir", func(t *testing.T) {
		t.Parallel()
		allowed := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(src, "base.qcow2"), filepath.Join(allowed, "link.qcow2")))
		b := setup(t, func(o *storage.Options) { o.AllowedPaths = []string{allowed} })
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "x", Source: "file://" + filepath.Join(allowed, "link.qcow2")})
		require.ErrorContains(t, err, "is not under an allowed directory")
	})

	t.Run("FileUnderAllowedDir", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *storage.Options) { o.AllowedPaths = []string{src} })
		resp, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "f", Source: "file://" + filepath.Join(src, "base.qcow2"), SHA256: sum(qcow)})
		require.NoError(t, err)
		require.Equal(t, "complete", resp.Images[0].Status)
	})

	t.Run("ErrInvalidRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, tc := range []struct {
			req  subagent.ImageRequest
			want string
		}{
			{subagent.ImageRequest{}, "need an image id: invalid"},
			{subagent.ImageRequest{ID: "../x", Source: "http://x"}, `image id "../x": use 1-128 letters, digits, _ - and ., starting with a letter or digit: invalid`},
			{subagent.ImageRequest{ID: "x", Type: "container"}, `image type "container": this driver stores disk images (type "") only: invalid`},
			{subagent.ImageRequest{ID: "x"}, "image x: need a source (an http, https or file URL): invalid"},
			{subagent.ImageRequest{ID: "x", Source: "ftp://h/x"}, `image x: source "ftp://h/x" must be an http, https or file URL: invalid`},
			{subagent.ImageRequest{ID: "x", Source: "file://host/x"}, `image x: source "file://host/x": want file:///absolute/path: invalid`},
		} {
			_, err := b.driver.RequestImage(testCtx(t), &tc.req)
			require.EqualError(t, err, tc.want)
			require.ErrorIs(t, err, storage.ErrInvalid)
		}
		requireNoLeftovers(t, b)
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		b := setup(t, func(o *storage.Options) { o.MaxImageSize = 128 << 10 })
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "big", Source: srv.put("big", qcow)})
		require.ErrorContains(t, err, "more than the limit of 131072")
		bomb := gz(t, make([]byte, 2<<20))
		_, err = b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "bomb", Source: srv.put("bomb.gz", bomb)})
		require.ErrorContains(t, err, "image bomb: fetch "+srv.URL+"/bomb.gz: the image is larger than the limit of 131072 bytes")
		requireNoLeftovers(t, b)
	})

	t.Run("ErrIdle", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		srv.gate = make(chan struct{})
		defer close(srv.gate)
		b := setup(t, func(o *storage.Options) { o.FetchIdleTimeout = 200 * time.Millisecond })
		_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "slow", Source: srv.put("slow", qcow)})
		require.EqualError(t, err, "image slow: no data from "+srv.URL+"/slow for 200ms")
		requireNoLeftovers(t, b)

		mute := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer mute.Close()
		_, err = b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "mute", Source: mute.URL + "/x"})
		require.EqualError(t, err, "image mute: no data from "+mute.URL+"/x for 200ms")
		requireNoLeftovers(t, b)
	})

	t.Run("ErrFormat", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		base := filepath.Join(src, "base.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", filepath.Join(dir, "overlay"))
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.raw"), filepath.Join(dir, "datafile"), "16M")
		run(t, "qemu-img", "convert", "-O", "vmdk", base, filepath.Join(dir, "vmdk"))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "descriptor"), []byte("# Disk DescriptorFile\nRW 8 FLAT \"/etc/hostname\" 0\n"), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
		b := setup(t, func(o *storage.Options) { o.AllowedPaths = []string{dir} })
		for file, want := range map[string]string{
			"overlay":    "image x: a qcow2 image with a backing file is not accepted: invalid",
			"datafile":   "image x: a qcow2 image with an external data file is not accepted: invalid",
			"vmdk":       "image x: vmdk images are not accepted: convert it to qcow2 or raw first: invalid",
			"descriptor": "image x: vmdk images are not accepted: convert it to qcow2 or raw first: invalid",
			"empty":      "image x: the image is empty: invalid",
		} {
			_, err := b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "x", Source: "file://" + filepath.Join(dir, file)})
			require.EqualError(t, err, want, file)
		}
		requireNoLeftovers(t, b)
	})

	t.Run("ConcurrentRequestsShareOneDownload", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		srv.gate = make(chan struct{})
		url := srv.put("base.qcow2", qcow)
		b := setup(t, nil)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = b.driver.RequestImage(testCtx(t), &subagent.ImageRequest{ID: "base", Source: url})
			})
		}
		require.Eventually(t, func() bool { return srv.hits.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
		_, err := b.driver.DeleteImage(testCtx(t), &subagent.ImageRequest{ID: "base"})
		require.EqualError(t, err, "image base is being fetched: conflict")
		time.Sleep(50 * time.Millisecond) // let the others join the fetch
		close(srv.gate)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, srv.hits.Load())
	})

	t.Run("CanceledLeavesNothing", func(t *testing.T) {
		t.Parallel()
		srv := newImageServer(t)
		srv.gate = make(chan struct{})
		defer close(srv.gate)
		b := setup(t, nil)
		ctx, cancel := context.WithCancel(testCtx(t))
		go func() {
			for srv.hits.Load() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		_, err := b.driver.RequestImage(ctx, &subagent.ImageRequest{ID: "c", Source: srv.put("c", qcow)})
		require.ErrorIs(t, err, context.Canceled)
		requireNoLeftovers(t, b)
	})
}

func TestDriver_DeleteImage(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	makeImage(t, src, "base.qcow2")
	b := setup(t, func(o *storage.Options) { o.AllowedPaths = []string{src} })
	ctx := testCtx(t)
	_, err := b.driver.RequestImage(ctx, &subagent.ImageRequest{ID: "base", Source: "file://" + filepath.Join(src, "base.qcow2")})
	require.NoError(t, err)
	b.createGuest(t, guestID, subagent.Disk{Image: "base"})

	_, err = b.driver.DeleteImage(ctx, &subagent.ImageRequest{ID: "base"})
	require.EqualError(t, err, "image base is in use by guest disk guests/"+guestID+"/disk-0 (and 0 more): conflict")
	require.ErrorIs(t, err, storage.ErrConflict)

	// The same data dir named through a symlink (the disk records the old
	// name of its backing file): still in use.
	link := filepath.Join(t.TempDir(), "datalink")
	require.NoError(t, os.Symlink(b.dataDir, link))
	other := b.opts
	other.DataDir = link
	viaLink, err := storage.New(other)
	require.NoError(t, err)
	_, err = viaLink.DeleteImage(ctx, &subagent.ImageRequest{ID: "base"})
	require.ErrorIs(t, err, storage.ErrConflict, "the disk's backing file is the image, by another name")

	_, err = b.driver.DeleteGuestsDisks(ctx, &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}})
	require.NoError(t, err)
	resp, err := b.driver.DeleteImage(ctx, &subagent.ImageRequest{ID: "base"})
	require.NoError(t, err)
	require.Equal(t, "base", resp.Images[0].ID)
	require.Empty(t, files(t, layout.ImagesDir(b.dataDir)))

	resp, err = b.driver.DeleteImage(ctx, &subagent.ImageRequest{ID: "base"})
	require.NoError(t, err, "a repeated delete succeeds")
	require.Empty(t, resp.Images)
	list, err := b.driver.ListImages(ctx, &subagent.ImageRequest{})
	require.NoError(t, err)
	require.Empty(t, list.Images)
}
