package qemu

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// TestOpenBoot: the kernel and initrd are opened once checked and QEMU is
// told to read them from the descriptors it inherits, never by path (a
// symlink swapped in after the check would choose the file); a file out
// of the allowed directories, or a FIFO, is refused.
func TestOpenBoot(t *testing.T) {
	t.Parallel()
	allowed, outside := t.TempDir(), t.TempDir()
	d := &Driver{opts: Options{DataDir: t.TempDir(), AllowedPaths: []string{allowed}}}
	for _, name := range []string{"vmlinuz", "initrd.img"} {
		require.NoError(t, os.WriteFile(filepath.Join(allowed, name), []byte(name), 0o600))
	}
	g := &subagent.Guest{ID: testID, Boot: &subagent.Boot{Kernel: filepath.Join(allowed, "vmlinuz"),
		Initrd: filepath.Join(allowed, "initrd.img"), Cmdline: "console=ttyS0"}}
	bf, err := d.openBoot(g)
	require.NoError(t, err)
	defer bf.close()
	require.Len(t, bf.files, 2)
	qg := bf.guest(g)
	require.Equal(t, subagent.Boot{Kernel: "/dev/fd/3", Initrd: "/dev/fd/4", Cmdline: "console=ttyS0"}, *qg.Boot)
	require.Equal(t, filepath.Join(allowed, "vmlinuz"), g.Boot.Kernel, "the guest keeps its paths")
	data := make([]byte, 16)
	n, err := bf.files[1].Read(data)
	require.NoError(t, err)
	require.Equal(t, "initrd.img", string(data[:n]))

	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(allowed, "link")))
	_, err = d.openBoot(&subagent.Guest{ID: testID, Boot: &subagent.Boot{Kernel: filepath.Join(allowed, "link")}})
	require.ErrorIs(t, err, ErrPathNotAllowed)

	fifo := filepath.Join(allowed, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = d.openBoot(&subagent.Guest{ID: testID, Boot: &subagent.Boot{Kernel: filepath.Join(allowed, "vmlinuz"), Initrd: fifo}})
	require.ErrorIs(t, err, ErrPathNotAllowed)
	require.ErrorContains(t, err, "not a regular file")

	none, err := d.openBoot(&subagent.Guest{ID: testID})
	require.NoError(t, err)
	require.Empty(t, none.files)
}
