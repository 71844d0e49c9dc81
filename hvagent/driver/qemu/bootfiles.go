package qemu

import (
	"os"
	"strconv"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// bootFiles are a guest's kernel and initrd, opened once checked
// (openBootFile). QEMU gets them as file descriptors it inherits and reads
// through /dev/fd/N: the file it loads is the one checked, however the
// paths were changed after the check (a symlink swapped into them).
type bootFiles struct {
	files []*os.File // the kernel, then the initrd when there is one
}

// openBoot opens the boot files of g; none when it boots from its disks.
func (d *Driver) openBoot(g *subagent.Guest) (*bootFiles, error) {
	bf := &bootFiles{}
	b := g.Boot
	if b == nil || b.Kernel == "" {
		return bf, nil
	}
	for _, f := range []struct{ what, path string }{{"kernel", b.Kernel}, {"initrd", b.Initrd}} {
		if f.path == "" {
			continue
		}
		file, err := d.openBootFile(f.what, f.path)
		if err != nil {
			bf.close()
			return nil, err
		}
		bf.files = append(bf.files, file)
	}
	return bf, nil
}

// guest returns g with its boot paths replaced by the descriptors QEMU
// inherits: the files are QEMU's fds 3 and 4 (exec.Cmd.ExtraFiles).
func (bf *bootFiles) guest(g *subagent.Guest) *subagent.Guest {
	if len(bf.files) == 0 {
		return g
	}
	c := *g
	b := *g.Boot
	b.Kernel = fdPath(0)
	if b.Initrd != "" {
		b.Initrd = fdPath(1)
	}
	c.Boot = &b
	return &c
}

// fdPath is the path under which a child process reads its ExtraFiles[i].
func fdPath(i int) string { return "/dev/fd/" + strconv.Itoa(3+i) }

// close closes the files; QEMU keeps its own copies.
func (bf *bootFiles) close() {
	for _, f := range bf.files {
		_ = f.Close()
	}
}
