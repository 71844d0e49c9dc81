package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hvagent/hvagent/internal/layout"
)

// allowedDirs resolves the directories file:// sources may be under:
// the images dir and extra, each absolute with symlinks resolved.
func allowedDirs(imagesDir string, extra []string) ([]string, error) {
	var dirs []string
	for _, dir := range append([]string{imagesDir}, extra...) {
		real, err := filepath.EvalSymlinks(dir)
		if errors.Is(err, fs.ErrNotExist) {
			real, err = filepath.Clean(dir), nil
		}
		if err != nil {
			return nil, fmt.Errorf("storage: allowed path %s: %w", dir, err)
		}
		dirs = append(dirs, real)
	}
	return dirs, nil
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// openFile opens a file:// source, which must name a regular file under an
// allowed directory once symlinks are resolved. The file is opened through
// an os.Root of that directory, so that a directory of its path swapped for
// a symlink between the check and the open cannot lead out of it, and
// without blocking, so that a FIFO is refused instead of waited on.
func (d *Driver) openFile(id, source string) (io.ReadCloser, int64, error) {
	u, err := url.Parse(source)
	if err != nil || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return nil, 0, errorf(ErrInvalid, "image %s: source %q: want file:///absolute/path", id, shownSource(source))
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(u.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, errorf(ErrNotFound, "image %s: source file %s", id, u.Path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("image %s: source file: %w", id, err)
	}
	i := slices.IndexFunc(d.allowed, func(dir string) bool { return under(real, dir) })
	if i < 0 {
		return nil, 0, errorf(ErrInvalid, "image %s: source file %s is not under an allowed directory (%s)", id, u.Path, strings.Join(d.allowed, ", "))
	}
	rel, err := filepath.Rel(d.allowed[i], real)
	if err != nil {
		return nil, 0, fmt.Errorf("image %s: source file: %w", id, err)
	}
	f, err := layout.OpenBeneath(d.allowed[i], rel)
	if err != nil {
		return nil, 0, fmt.Errorf("image %s: source file %s: %w", id, u.Path, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errorf(ErrInvalid, "source file %s is not a regular file", u.Path)
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("image %s: %w", id, err)
	}
	return f, st.Size(), nil
}
