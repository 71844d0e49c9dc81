// Package storage is the built-in storage driver: disk images, guest disks
// and their snapshots as qcow2 files under the data dir, managed with
// qemu-img and, while a guest runs, through its QEMU's storage QMP monitor.
//
// It serves the sub-agent wire as service "ImageStore" with the original
// mistify image store's method names (CreateGuestDisks, DeleteGuestsDisks,
// ListImages, GetImage, DeleteImage, RequestImage, ListSnapshots,
// GetSnapshot, CreateSnapshot, DeleteSnapshot, RollbackSnapshot) and the
// raw stream DownloadPath, through [Driver.Handler], exactly as an external
// sub-agent would.
//
// # Files
//
//	<data_dir>/images/<id>.qcow2   an image, always qcow2 (a raw image is converted on fetch)
//	<data_dir>/images/<id>.json    its metadata (status, size, sha256, source), written atomically
//	<data_dir>/guests/<guest>/disk<N>.qcow2   disk N of a guest: an overlay on an image, or blank
//	<data_dir>/guests/<guest>/snapshots.json  the guest-level snapshots
//	<data_dir>/tmp/                work files, emptied by New
//
// Everything the driver knows is in these files: a new Driver on the same
// data dir knows the same images, disks and snapshots.
//
// # Snapshots
//
// Snapshot IDs are the original's: "guests/<guest>[/disk-<n>][@<name>]".
// A snapshot is a qcow2 internal snapshot named <name> in the disk's file;
// a guest-level snapshot is one of that name on every disk, taken at once.
// While the guest's QEMU runs (its storage QMP socket accepts a
// connection) snapshots are created in one QMP transaction and deleted
// through QMP; otherwise qemu-img does both. A rollback needs the guest
// stopped. Downloads export the snapshot's disk state to a temporary qcow2
// (a tar of every disk for a guest-level snapshot), stream it and remove it.
//
// # Errors
//
// Errors wrap ErrNotFound, ErrConflict or ErrInvalid where they mean it.
// The sentinels carry the sub-agent error codes not_found, conflict and
// invalid (subagent.WithCode), which the wire gives the agent in the
// X-Hvagent-Error-Code header (a download answers 404, 409 or 400 with it);
// their text names the thing and ends with the sentinel's text (": not
// found", ": conflict", ": invalid"), for agents that read only the text.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// ServiceName is the RPC service name of the driver's methods.
const ServiceName = "ImageStore"

// DownloadPath is the path of the raw snapshot download stream.
const DownloadPath = "/snapshots/download"

// Defaults of Options.
const (
	DefaultFetchIdleTimeout = 60 * time.Second
	DefaultMaxImageSize     = 64 << 30
	DefaultQemuImg          = "qemu-img"
)

// Sentinel errors, wrapped with context by the driver's methods. Each
// carries its sub-agent error code (see subagent.ErrorCode).
var (
	// ErrNotFound: the image, guest disk or snapshot does not exist. Code
	// not_found.
	ErrNotFound = subagent.WithCode(subagent.CodeNotFound, errors.New("not found"))
	// ErrConflict: the thing exists already, is in use, or the guest is in
	// the wrong state (running) for the operation. Code conflict.
	ErrConflict = subagent.WithCode(subagent.CodeConflict, errors.New("conflict"))
	// ErrInvalid: the request is malformed (bad ID, name, size, source).
	// Code invalid.
	ErrInvalid = subagent.WithCode(subagent.CodeInvalid, errors.New("invalid"))
)

// errorf formats an error whose text ends with ": " and the sentinel's text
// and which wraps sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
}

// Options configures a Driver.
type Options struct {
	// DataDir is the data dir; required.
	DataDir string
	// AllowedPaths are the host directories, besides <DataDir>/images, that
	// file:// image sources may be under.
	AllowedPaths []string
	// QemuImg is the qemu-img binary; default "qemu-img" (found in $PATH).
	QemuImg string
	// Logger receives the driver's logs; default zerolog.Nop().
	Logger zerolog.Logger
	// OnProgress, when set, is called while an image is fetched with the
	// caller's job ID (its X-Hvagent-Job-ID header, "" when absent), the
	// bytes read so far and the total (-1 when unknown): at the start, at
	// most every ProgressInterval, and once at the end of the transfer.
	OnProgress func(jobID string, done, total int64)
	// FetchIdleTimeout aborts an image fetch that receives no data for this
	// long; default 60s.
	FetchIdleTimeout time.Duration
	// MaxImageSize bounds an image's fetched and decompressed sizes in
	// bytes; default 64 GiB.
	MaxImageSize int64
	// HTTPClient fetches http(s) images; default a client without an
	// overall timeout (FetchIdleTimeout and the caller's context bound it).
	HTTPClient *http.Client
}

// ProgressInterval is the least time between two OnProgress calls of one
// fetch (the first and the last call excepted).
const ProgressInterval = 250 * time.Millisecond

// Driver is the storage driver. It is safe for concurrent use.
type Driver struct {
	opts    Options
	dataDir string
	allowed []string
	handler http.Handler

	// images guards the images dir against a delete racing an overlay's
	// creation: creating disks holds it shared, deleting an image and
	// installing a fetched one hold it exclusively.
	images sync.RWMutex
	// guests serializes the operations on one guest's disks.
	guests keyedLock

	fetchMu  sync.Mutex
	fetching map[string]*fetch
}

// New returns a driver on opts.DataDir, creating its directories and
// removing what a previous process left half done: the work files in
// <data_dir>/tmp and metadata whose write or image a crash interrupted.
// Only one Driver may use a data dir at a time. Errors: ErrInvalid (no
// data dir, a relative allowed path), file system errors.
func New(opts Options) (*Driver, error) {
	if opts.DataDir == "" {
		return nil, errorf(ErrInvalid, "storage: a data dir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("storage: data dir: %w", err)
	}
	if opts.QemuImg == "" {
		opts.QemuImg = DefaultQemuImg
	}
	if opts.FetchIdleTimeout <= 0 {
		opts.FetchIdleTimeout = DefaultFetchIdleTimeout
	}
	if opts.MaxImageSize <= 0 {
		opts.MaxImageSize = DefaultMaxImageSize
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	for _, dir := range opts.AllowedPaths {
		if !filepath.IsAbs(dir) {
			return nil, errorf(ErrInvalid, "storage: allowed path %q is not absolute", dir)
		}
	}
	d := &Driver{opts: opts, dataDir: dataDir, fetching: map[string]*fetch{}}
	for _, dir := range []string{layout.ImagesDir(dataDir), filepath.Join(dataDir, "guests")} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	if err := os.RemoveAll(d.tmpDir()); err != nil {
		return nil, fmt.Errorf("storage: clear work dir: %w", err)
	}
	if err := os.MkdirAll(d.tmpDir(), 0o750); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := d.removeCrashLeftovers(); err != nil {
		return nil, err
	}
	if d.allowed, err = allowedDirs(layout.ImagesDir(dataDir), opts.AllowedPaths); err != nil {
		return nil, err
	}
	d.handler = d.newServer()
	return d, nil
}

// Handler returns the sub-agent HTTP handler: the RPC endpoint at
// subagent.RPCPath and the raw stream DownloadPath.
func (d *Driver) Handler() http.Handler { return d.handler }

// removeCrashLeftovers removes what a crash may leave: the temporary files of
// metadata writes (see writeFileAtomic) and image metadata whose image is
// missing (see installImage and DeleteImage).
func (d *Driver) removeCrashLeftovers() error {
	metas, err := filepath.Glob(filepath.Join(layout.ImagesDir(d.dataDir), "*.json"))
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	for _, m := range metas {
		if _, err := os.Stat(strings.TrimSuffix(m, ".json") + ".qcow2"); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(m); err != nil {
				return fmt.Errorf("storage: remove stale %s: %w", m, err)
			}
		}
	}
	for _, pattern := range []string{
		filepath.Join(layout.ImagesDir(d.dataDir), ".*.json.*"),
		filepath.Join(d.dataDir, "guests", "*", ".snapshots.json.*"),
	} {
		stale, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		for _, p := range stale {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("storage: remove stale %s: %w", p, err)
			}
		}
	}
	return nil
}

// tmpDir holds the driver's work files.
func (d *Driver) tmpDir() string { return filepath.Join(d.dataDir, "tmp") }

// newServer registers every method and the download stream.
func (d *Driver) newServer() *subagent.Server {
	s := subagent.NewServer()
	subagent.Handle(s, ServiceName+".CreateGuestDisks", d.CreateGuestDisks)
	subagent.Handle(s, ServiceName+".DeleteGuestsDisks", d.DeleteGuestsDisks)
	subagent.Handle(s, ServiceName+".ListImages", d.ListImages)
	subagent.Handle(s, ServiceName+".GetImage", d.GetImage)
	subagent.Handle(s, ServiceName+".DeleteImage", d.DeleteImage)
	subagent.Handle(s, ServiceName+".RequestImage", d.RequestImage)
	subagent.Handle(s, ServiceName+".ListSnapshots", d.ListSnapshots)
	subagent.Handle(s, ServiceName+".GetSnapshot", d.GetSnapshot)
	subagent.Handle(s, ServiceName+".CreateSnapshot", d.CreateSnapshot)
	subagent.Handle(s, ServiceName+".DeleteSnapshot", d.DeleteSnapshot)
	subagent.Handle(s, ServiceName+".RollbackSnapshot", d.RollbackSnapshot)
	s.HandleRaw(DownloadPath, http.HandlerFunc(d.serveDownload))
	return s
}

// keyedLock is a set of mutexes by key whose lock honours a context. A
// key's entry lives only while someone holds or waits for it.
type keyedLock struct {
	mu    sync.Mutex
	locks map[string]*keyEntry
}

type keyEntry struct {
	ch    chan struct{}
	users int
}

// lock takes the lock of key, or returns ctx's error when ctx ends first.
// The returned func releases it.
func (k *keyedLock) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyEntry{}
	}
	e, ok := k.locks[key]
	if !ok {
		e = &keyEntry{ch: make(chan struct{}, 1)}
		k.locks[key] = e
	}
	e.users++
	k.mu.Unlock()
	done := func() {
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
