package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
	"github.com/hvagent/hvagent/internal/namerule"
)

// StatusComplete is the status of every image the driver lists: an image
// appears once its fetch has finished.
const StatusComplete = "complete"

// imageIDPattern is what an image ID must match: it names files.
var imageIDPattern = namerule.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, 1, 128)

// imageMeta is an image's metadata file, <data_dir>/images/<id>.json.
type imageMeta struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Size is the virtual size in MB, rounded up; VirtualSize in bytes.
	Size        uint64 `json:"size"`
	VirtualSize int64  `json:"virtual_size"`
	// SHA256 is the hex SHA-256 of the bytes fetched (of the compressed
	// stream for a gzip source).
	SHA256 string `json:"sha256"`
	Source string `json:"source"`
	// Format is the format the image was fetched in (qcow2, raw, …); it is
	// stored as qcow2 whatever it was.
	Format    string    `json:"format"`
	FetchedAt time.Time `json:"fetched_at"`
}

func (m *imageMeta) image() *subagent.Image {
	return &subagent.Image{ID: m.ID, Size: m.Size, Status: m.Status}
}

// checkImageRequest validates an image request's ID and type.
func checkImageRequest(req *subagent.ImageRequest) error {
	if req.Type != "" {
		return errorf(ErrInvalid, "image type %q: this driver stores disk images (type \"\") only", req.Type)
	}
	if req.ID == "" {
		return errorf(ErrInvalid, "need an image id")
	}
	if !imageIDPattern.MatchString(req.ID) {
		return errorf(ErrInvalid, "image id %q: use 1-128 letters, digits, _ - and ., starting with a letter or digit", req.ID)
	}
	return nil
}

// imagePath is the qcow2 file of image id.
func (d *Driver) imagePath(id string) string {
	return filepath.Join(layout.ImagesDir(d.dataDir), id+".qcow2")
}

func (d *Driver) imageMetaPath(id string) string {
	return filepath.Join(layout.ImagesDir(d.dataDir), id+".json")
}

// readImage returns image id's metadata, an error wrapping ErrNotFound
// when there is no complete image of that ID.
func (d *Driver) readImage(id string) (*imageMeta, error) {
	b, err := os.ReadFile(d.imageMetaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ErrNotFound, "image %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	var m imageMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image %s: metadata: %w", id, err)
	}
	if _, err := os.Stat(d.imagePath(id)); errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ErrNotFound, "image %s (its file is missing)", id)
	}
	return &m, nil
}

// ListImages lists the complete disk images, sorted by ID. Images of any
// other type are not this driver's: it lists none.
func (d *Driver) ListImages(_ context.Context, req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	resp := &subagent.ImageResponse{Images: []*subagent.Image{}}
	if req.Type != "" {
		return resp, nil
	}
	names, err := filepath.Glob(filepath.Join(layout.ImagesDir(d.dataDir), "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		id := strings.TrimSuffix(filepath.Base(name), ".json")
		if !imageIDPattern.MatchString(id) {
			continue
		}
		m, err := d.readImage(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		resp.Images = append(resp.Images, m.image())
	}
	return resp, nil
}

// GetImage returns one image. Errors: ErrInvalid, ErrNotFound ("image <id>:
// not found").
func (d *Driver) GetImage(_ context.Context, req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	if err := checkImageRequest(req); err != nil {
		return nil, err
	}
	m, err := d.readImage(req.ID)
	if err != nil {
		return nil, err
	}
	return &subagent.ImageResponse{Images: []*subagent.Image{m.image()}}, nil
}

// DeleteImage removes an image and returns it; a missing image gives an
// empty list, so a repeated delete succeeds. Errors: ErrInvalid,
// ErrConflict (being fetched, or the backing file of a guest disk).
func (d *Driver) DeleteImage(_ context.Context, req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	if err := checkImageRequest(req); err != nil {
		return nil, err
	}
	d.fetchMu.Lock()
	_, busy := d.fetching[req.ID]
	d.fetchMu.Unlock()
	if busy {
		return nil, errorf(ErrConflict, "image %s is being fetched", req.ID)
	}
	d.images.Lock()
	defer d.images.Unlock()
	m, err := d.readImage(req.ID)
	if errors.Is(err, ErrNotFound) {
		return &subagent.ImageResponse{Images: []*subagent.Image{}}, nil
	}
	if err != nil {
		return nil, err
	}
	users, err := d.imageUsers(d.imagePath(req.ID))
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return nil, errorf(ErrConflict, "image %s is in use by guest disk %s (and %d more)", req.ID, users[0], len(users)-1)
	}
	// The image goes first: metadata without its image is unknown.
	if err := os.Remove(d.imagePath(req.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("delete image %s: %w", req.ID, err)
	}
	if err := os.Remove(d.imageMetaPath(req.ID)); err != nil {
		return nil, fmt.Errorf("delete image %s: %w", req.ID, err)
	}
	return &subagent.ImageResponse{Images: []*subagent.Image{m.image()}}, nil
}

// imageUsers returns the guest disks ("guests/<guest>/disk-<n>") whose
// backing file is image. A backing file is the image when it is the same
// file, however its path is spelled: a disk records the data dir as it was
// named when the disk was made (through a symlink, another home), and
// that name may differ from today's.
func (d *Driver) imageUsers(image string) ([]string, error) {
	disks, err := filepath.Glob(filepath.Join(d.dataDir, "guests", "*", "disk*.qcow2"))
	if err != nil {
		return nil, fmt.Errorf("list guest disks: %w", err)
	}
	imageInfo, err := os.Stat(image)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	var users []string
	for _, disk := range disks {
		backing, err := qcow2Backing(disk)
		if err != nil {
			return nil, err
		}
		if backing != "" && !filepath.IsAbs(backing) {
			backing = filepath.Join(filepath.Dir(disk), backing)
		}
		same := backing == image
		if !same && backing != "" && imageInfo != nil {
			info, err := os.Stat(backing)
			same = err == nil && os.SameFile(info, imageInfo)
		}
		if same {
			guest := filepath.Base(filepath.Dir(disk))
			n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(disk), "disk"), ".qcow2")
			users = append(users, "guests/"+guest+"/disk-"+n)
		}
	}
	return users, nil
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, synced and renamed into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncFile flushes a file's data to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
