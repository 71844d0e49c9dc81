package storage

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/logtext"
)

// fetch is one image download in flight; requests for the same ID share it.
type fetch struct {
	done chan struct{}
	img  *subagent.Image
	err  error
}

// RequestImage fetches an image from req.Source (http, https, or a file://
// URL under an allowed directory), gunzips it when it is gzip, verifies
// req.SHA256 (of the bytes fetched) when given, converts it to qcow2 and
// returns it complete. It blocks until done; concurrent requests for one ID
// share one download. An image already complete is returned at once. A
// failed fetch leaves no file behind.
//
// Errors: ErrInvalid (bad ID, type, source, or a source outside the allowed
// directories), ErrConflict (the image exists with another sha256), and
// fetch failures: HTTP status, checksum mismatch, size limit, idle timeout,
// a format qemu-img does not accept.
func (d *Driver) RequestImage(ctx context.Context, req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	if err := checkImageRequest(req); err != nil {
		return nil, err
	}
	for {
		if m, err := d.readImage(req.ID); err == nil {
			if req.SHA256 != "" && m.SHA256 != "" && !strings.EqualFold(req.SHA256, m.SHA256) {
				return nil, errorf(ErrConflict, "image %s exists with sha256 %s, not %s", req.ID, m.SHA256, req.SHA256)
			}
			return &subagent.ImageResponse{Images: []*subagent.Image{m.image()}}, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		f, leader := d.joinFetch(req.ID)
		if leader {
			f.img, f.err = d.fetchImage(ctx, req)
			d.endFetch(req.ID, f)
		} else {
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("image %s: wait for its fetch: %w", req.ID, ctx.Err())
			}
			// The leader's caller went away: this caller fetches it again.
			if isContextErr(f.err) && ctx.Err() == nil {
				continue
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		return &subagent.ImageResponse{Images: []*subagent.Image{f.img}}, nil
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// joinFetch returns the fetch of id in flight, or registers a new one and
// reports that the caller leads it.
func (d *Driver) joinFetch(id string) (*fetch, bool) {
	d.fetchMu.Lock()
	defer d.fetchMu.Unlock()
	if f, ok := d.fetching[id]; ok {
		return f, false
	}
	f := &fetch{done: make(chan struct{})}
	d.fetching[id] = f
	return f, true
}

func (d *Driver) endFetch(id string, f *fetch) {
	d.fetchMu.Lock()
	delete(d.fetching, id)
	d.fetchMu.Unlock()
	close(f.done)
}

// fetchImage downloads, checks and installs one image.
func (d *Driver) fetchImage(ctx context.Context, req *subagent.ImageRequest) (*subagent.Image, error) {
	if req.Source == "" {
		return nil, errorf(ErrInvalid, "image %s: need a source (an http, https or file URL)", req.ID)
	}
	log := d.opts.Logger.With().Str("image", req.ID).Str("source", shownSource(req.Source)).Logger()
	start := time.Now()
	tmp, err := os.CreateTemp(d.tmpDir(), "fetch-"+req.ID+"-*")
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", req.ID, err)
	}
	paths := []string{tmp.Name()}
	defer func() {
		for _, p := range paths {
			_ = os.Remove(p)
		}
	}()
	sum, err := d.download(ctx, req, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Warn().Err(err).Msg("image fetch failed")
		return nil, err
	}
	if req.SHA256 != "" && !strings.EqualFold(sum, req.SHA256) {
		log.Warn().Str("sha256", sum).Msg("image fetch failed: sha256 mismatch")
		return nil, fmt.Errorf("image %s: sha256 mismatch: %s has %s, want %s", req.ID, shownSource(req.Source), sum, strings.ToLower(req.SHA256))
	}
	qcow, format, info, err := d.toQcow2(ctx, req.ID, tmp.Name())
	if qcow != tmp.Name() {
		paths = append(paths, qcow)
	}
	if err != nil {
		return nil, err
	}
	m := &imageMeta{
		ID: req.ID, Status: StatusComplete, Size: sizeMB(info.VirtualSize), VirtualSize: info.VirtualSize,
		SHA256: sum, Source: shownSource(req.Source), Format: format, FetchedAt: time.Now().UTC(),
	}
	if err := d.installImage(m, qcow); err != nil {
		return nil, err
	}
	log.Info().Str("took", logtext.Duration(time.Since(start))).Str("format", format).Int64("virtual_size", info.VirtualSize).Msg("image fetched")
	return m.image(), nil
}

// sizeMB is bytes in MB, rounded up.
func sizeMB(n int64) uint64 { return uint64((n + 1<<20 - 1) >> 20) }

// installImage moves a fetched qcow2 into the images dir and commits its
// metadata.
func (d *Driver) installImage(m *imageMeta, qcow string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("image %s: encode metadata: %w", m.ID, err)
	}
	if err := syncFile(qcow); err != nil {
		return fmt.Errorf("image %s: %w", m.ID, err)
	}
	d.images.Lock()
	defer d.images.Unlock()
	// The metadata goes first: an image is known once both files exist,
	// and New removes metadata left without its image by a crash.
	if err := writeFileAtomic(d.imageMetaPath(m.ID), b); err != nil {
		return fmt.Errorf("image %s: write metadata: %w", m.ID, err)
	}
	if err := os.Rename(qcow, d.imagePath(m.ID)); err != nil {
		_ = os.Remove(d.imageMetaPath(m.ID))
		return fmt.Errorf("image %s: install: %w", m.ID, err)
	}
	return syncDir(layout.ImagesDir(d.dataDir))
}

// download copies the source to dst, gunzipping a gzip stream, and returns
// the hex sha256 of the bytes read from the source.
func (d *Driver) download(ctx context.Context, req *subagent.ImageRequest, dst io.Writer) (string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("image %s: no data from %s for %s", req.ID, shownSource(req.Source), d.opts.FetchIdleTimeout)
	timer := time.AfterFunc(d.opts.FetchIdleTimeout, func() { cancel(errIdle) })
	defer timer.Stop()
	// causeOf prefers why ctx ended (idle, caller gone) to what it broke.
	causeOf := func(err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	src, total, err := d.openSource(ctx, req.ID, req.Source)
	if err != nil {
		return "", wrapFetchErr(req, causeOf(err))
	}
	defer src.Close()
	if total > d.opts.MaxImageSize {
		return "", fmt.Errorf("image %s: %s is %d bytes, more than the limit of %d", req.ID, shownSource(req.Source), total, d.opts.MaxImageSize)
	}
	jobID, _ := subagent.CallInfo(ctx)
	cr := &countingReader{
		r: src, h: sha256.New(), max: d.opts.MaxImageSize, total: total,
		progress: d.progressFunc(jobID), idle: d.opts.FetchIdleTimeout, timer: timer,
	}
	cr.report(true)
	if err := copyMaybeGzip(dst, cr, d.opts.MaxImageSize); err != nil {
		return "", wrapFetchErr(req, causeOf(truncated(err, cr)))
	}
	cr.report(true)
	return hex.EncodeToString(cr.h.Sum(nil)), nil
}

// truncated says how far a source that ended early got: an HTTP body
// shorter than announced, or a gzip stream cut off.
func truncated(err error, cr *countingReader) error {
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if cr.total >= 0 && cr.n < cr.total {
		return fmt.Errorf("the source ended early, after %d of the %d bytes announced: %w", cr.n, cr.total, err)
	}
	return fmt.Errorf("the source is cut short (a body or gzip stream that ends early), %d bytes read: %w", cr.n, err)
}

func wrapFetchErr(req *subagent.ImageRequest, err error) error {
	if strings.HasPrefix(err.Error(), "image "+req.ID+":") {
		return err
	}
	return fmt.Errorf("image %s: fetch %s: %w", req.ID, shownSource(req.Source), err)
}

// copyMaybeGzip copies r to dst, decompressing it when it starts with the
// gzip magic, and refuses more than max bytes of output.
func copyMaybeGzip(dst io.Writer, r io.Reader, max int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gunzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	n, err := io.Copy(dst, io.LimitReader(src, max+1))
	if err != nil {
		return err
	}
	if n > max {
		return fmt.Errorf("the image is larger than the limit of %d bytes", max)
	}
	return nil
}

// openSource opens an http(s) or file URL and returns its length (-1 when
// unknown).
func (d *Driver) openSource(ctx context.Context, id, source string) (io.ReadCloser, int64, error) {
	scheme, _, _ := strings.Cut(source, ":")
	switch strings.ToLower(scheme) {
	case "http", "https":
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
		if err != nil {
			return nil, 0, errorf(ErrInvalid, "image %s: source %q: %v", id, shownSource(source), err)
		}
		resp, err := d.opts.HTTPClient.Do(hreq)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				ue.URL = shownSource(ue.URL)
			}
			return nil, 0, fmt.Errorf("image %s: fetch: %w", id, err)
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return nil, 0, fmt.Errorf("image %s: fetch %s: HTTP %s", id, shownSource(source), resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	case "file":
		return d.openFile(id, source)
	}
	return nil, 0, errorf(ErrInvalid, "image %s: source %q must be an http, https or file URL", id, shownSource(source))
}

// countingReader reads the source: it counts and hashes the bytes, enforces
// the size limit, restarts the idle timer and reports progress.
type countingReader struct {
	r        io.Reader
	h        hash.Hash
	n, total int64
	max      int64
	idle     time.Duration
	timer    *time.Timer
	progress func(done, total int64)
	last     time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.timer.Reset(c.idle)
		c.h.Write(p[:n])
		c.n += int64(n)
		if c.n > c.max {
			return n, fmt.Errorf("the source is larger than the limit of %d bytes", c.max)
		}
		c.report(false)
	}
	return n, err
}

// report calls the progress func, at most every ProgressInterval unless
// force is set.
func (c *countingReader) report(force bool) {
	if c.progress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(c.last) < ProgressInterval {
		return
	}
	c.last = now
	c.progress(c.n, c.total)
}

// progressFunc is Options.OnProgress bound to a job, or nil.
func (d *Driver) progressFunc(jobID string) func(done, total int64) {
	if d.opts.OnProgress == nil {
		return nil
	}
	return func(done, total int64) { d.opts.OnProgress(jobID, done, total) }
}
