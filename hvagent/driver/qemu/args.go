package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

// Guest defaults and bounds.
const (
	DefaultMemory = 512 // MB
	DefaultCPU    = 1
	minMemory     = 16
	maxMemory     = 1 << 20 // 1 TiB in MB
	maxCPU        = 255
	maxDisks      = 26
	maxNics       = 32
	// consoleRing is the size of the ring buffer in QEMU that holds serial
	// output until the driver drains it into the console log (a power of
	// two, as QEMU requires).
	consoleRing = 64 << 10
	// consoleChardev is the ring buffer's chardev ID.
	consoleChardev = "console"
)

var guestIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkID checks that g is present and has a lowercase UUID as ID (it names
// files and a QEMU option, so nothing else is accepted).
func checkID(g *subagent.Guest) error {
	if g == nil {
		return fmt.Errorf("%w: the request has no guest", ErrInvalidGuest)
	}
	if !guestIDPattern.MatchString(g.ID) {
		return fmt.Errorf("%w: id %q is not a lowercase UUID", ErrInvalidGuest, g.ID)
	}
	return nil
}

// diskDevices maps a disk bus to its QEMU device and guest device prefix.
var diskDevices = map[string]struct{ device, prefix string }{
	"virtio": {"virtio-blk-pci", "vd"},
	"scsi":   {"scsi-hd", "sd"},
	"ide":    {"ide-hd", "hd"},
}

// maxIDEDisks is how many disks the built-in IDE controller takes.
const maxIDEDisks = 4

// nicDevices maps a NIC model to its QEMU device.
var nicDevices = map[string]string{
	"virtio":  "virtio-net-pci",
	"e1000":   "e1000",
	"rtl8139": "rtl8139",
}

// define fills g's defaults (memory, CPU, disk bus and device, NIC name,
// model and MAC) and checks every field the driver uses.
func (d *Driver) define(g *subagent.Guest) error {
	if err := checkID(g); err != nil {
		return err
	}
	if g.Memory == 0 {
		g.Memory = DefaultMemory
	}
	if g.CPU == 0 {
		g.CPU = DefaultCPU
	}
	switch {
	case g.Memory < minMemory || g.Memory > maxMemory:
		return fmt.Errorf("%w: guest %s memory %d MB: want %d to %d", ErrInvalidGuest, g.ID, g.Memory, minMemory, maxMemory)
	case g.CPU > maxCPU:
		return fmt.Errorf("%w: guest %s cpu %d: want 1 to %d", ErrInvalidGuest, g.ID, g.CPU, maxCPU)
	}
	if err := d.defineDisks(g); err != nil {
		return err
	}
	if err := defineNics(g); err != nil {
		return err
	}
	if g.Boot != nil && g.Boot.Kernel == "" && (g.Boot.Initrd != "" || g.Boot.Cmdline != "") {
		return fmt.Errorf("%w: guest %s boot: initrd and cmdline need a kernel", ErrInvalidGuest, g.ID)
	}
	return nil
}

func (d *Driver) defineDisks(g *subagent.Guest) error {
	if len(g.Disks) > maxDisks {
		return fmt.Errorf("%w: guest %s has %d disks; at most %d are supported", ErrInvalidGuest, g.ID, len(g.Disks), maxDisks)
	}
	ide := 0
	for i := range g.Disks {
		disk := &g.Disks[i]
		if disk.Bus == "" {
			disk.Bus = "virtio"
		}
		dev, ok := diskDevices[disk.Bus]
		if !ok {
			return fmt.Errorf("%w: guest %s disk %d: bus %q: want virtio, scsi or ide", ErrInvalidGuest, g.ID, i, disk.Bus)
		}
		if disk.Bus == "ide" {
			if ide++; ide > maxIDEDisks {
				return fmt.Errorf("%w: guest %s: at most %d ide disks", ErrInvalidGuest, g.ID, maxIDEDisks)
			}
		}
		disk.Device = dev.prefix + string(rune('a'+i))
		if disk.Source != "" {
			if err := d.checkDiskPath(disk.Source); err != nil {
				return fmt.Errorf("guest %s disk %d: %w", g.ID, i, err)
			}
		}
	}
	return nil
}

func defineNics(g *subagent.Guest) error {
	if len(g.Nics) > maxNics {
		return fmt.Errorf("%w: guest %s has %d nics; at most %d are supported", ErrInvalidGuest, g.ID, len(g.Nics), maxNics)
	}
	for i := range g.Nics {
		nic := &g.Nics[i]
		if nic.Name == "" {
			nic.Name = "net" + strconv.Itoa(i)
		}
		if nic.Model == "" {
			nic.Model = "virtio"
		}
		if _, ok := nicDevices[nic.Model]; !ok {
			return fmt.Errorf("%w: guest %s nic %d: model %q: want virtio, e1000 or rtl8139", ErrInvalidGuest, g.ID, i, nic.Model)
		}
		if nic.MAC == "" {
			nic.MAC = guestMAC(g.ID, i)
		} else if !macPattern.MatchString(nic.MAC) {
			return fmt.Errorf("%w: guest %s nic %d: mac %q is not of the form 52:54:00:ab:cd:ef", ErrInvalidGuest, g.ID, i, nic.MAC)
		}
		if nic.Network != "" && nic.Network != userNetwork && !bridgeNamePattern.MatchString(nic.Network) {
			return fmt.Errorf("%w: guest %s nic %d: network %q is not a bridge name", ErrInvalidGuest, g.ID, i, nic.Network)
		}
		nic.Device = ""
		if isBridged(nic) {
			nic.Device = tapName(g.ID, i)
		}
	}
	return nil
}

var macPattern = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// checkDiskPath refuses a disk outside the data dir.
func (d *Driver) checkDiskPath(p string) error {
	if err := d.within(p, []string{d.opts.DataDir}); err != nil {
		return fmt.Errorf("disk source %s: %w (disks must be under the data dir %s)", p, err, d.opts.DataDir)
	}
	return nil
}

// checkBootPath refuses a kernel or initrd outside <data_dir>/images and
// the allowed paths.
func (d *Driver) checkBootPath(what, p string) error {
	_, _, err := d.bootPath(what, p)
	return err
}

// bootPath resolves a kernel or initrd, which must be under
// <data_dir>/images or the allowed paths, to the directory that holds it
// and its path there.
func (d *Driver) bootPath(what, p string) (dir, rel string, err error) {
	dirs := append([]string{layout.ImagesDir(d.opts.DataDir)}, d.opts.AllowedPaths...)
	if dir, rel, err = resolveWithin(p, dirs); err != nil {
		return "", "", fmt.Errorf("boot %s %s: %w (allowed: %s)", what, p, err, strings.Join(dirs, ", "))
	}
	return dir, rel, nil
}

// within checks that p is an absolute path to an existing file inside one
// of dirs, symbolic links resolved.
func (d *Driver) within(p string, dirs []string) error {
	_, _, err := resolveWithin(p, dirs)
	return err
}

// resolveWithin resolves the symbolic links of p, an absolute path to an
// existing file, and returns the directory of dirs (resolved too) that
// holds it and its path there.
func resolveWithin(p string, dirs []string) (dir, rel string, err error) {
	if !filepath.IsAbs(p) {
		return "", "", fmt.Errorf("%w: not an absolute path", ErrPathNotAllowed)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("%w: no such file", ErrNotFound)
	}
	if err != nil {
		return "", "", err
	}
	for _, dir := range dirs {
		if realDir, err := filepath.EvalSymlinks(dir); err == nil {
			dir = realDir
		}
		if rel, err := filepath.Rel(dir, real); err == nil && rel != "." && filepath.IsLocal(rel) {
			return dir, rel, nil
		}
	}
	return "", "", ErrPathNotAllowed
}

// openBootFile opens a kernel or initrd that checkBootPath allows, through
// an os.Root of the directory that holds it, without blocking: the file
// opened is under that directory whatever a symlink swapped into its path
// since the check says, and a FIFO is refused instead of waited on.
func (d *Driver) openBootFile(what, p string) (*os.File, error) {
	dir, rel, err := d.bootPath(what, p)
	if err != nil {
		return nil, err
	}
	f, err := layout.OpenBeneath(dir, rel)
	if err != nil {
		return nil, fmt.Errorf("boot %s %s: %w", what, p, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("boot %s %s: %w: not a regular file", what, p, ErrPathNotAllowed)
	}
	return f, nil
}

// escapeOpt doubles the commas of a value inside a QEMU option list.
func escapeOpt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// commandLine returns QEMU's arguments for guest g, run dir dir. QEMU
// starts paused (-S), daemonizes once its monitors listen, and stays
// alive, stopped, when the guest powers off (-no-shutdown), so the driver
// reads the console and the SHUTDOWN reason before it quits.
func (d *Driver) commandLine(g *subagent.Guest, dir string) []string {
	args := []string{
		"-accel", d.opts.Accel,
		"-nodefaults", "-display", "none", "-sandbox", "on",
		"-uuid", g.ID, "-name", g.ID,
		"-m", strconv.FormatUint(uint64(g.Memory), 10),
		"-smp", strconv.FormatUint(uint64(g.CPU), 10),
		"-S", "-no-shutdown", "-daemonize",
		"-pidfile", filepath.Join(dir, layout.PIDFile),
		"-qmp", "unix:" + escapeOpt(filepath.Join(dir, layout.MonitorSocket)) + ",server=on,wait=off",
		"-qmp", "unix:" + escapeOpt(filepath.Join(dir, layout.StorageSocket)) + ",server=on,wait=off",
		"-chardev", "ringbuf,id=" + consoleChardev + ",size=" + strconv.Itoa(consoleRing),
		"-serial", "chardev:" + consoleChardev,
	}
	if d.opts.Accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	args = append(args, diskArgs(g)...)
	args = append(args, nicArgs(g)...)
	if b := g.Boot; b != nil && b.Kernel != "" {
		args = append(args, "-kernel", b.Kernel)
		if b.Initrd != "" {
			args = append(args, "-initrd", b.Initrd)
		}
		if b.Cmdline != "" {
			args = append(args, "-append", b.Cmdline)
		}
	}
	return args
}

// diskArgs attaches disk n as drive layout.DriveID(n) (the name QMP block
// commands use); the first disk is the boot disk.
func diskArgs(g *subagent.Guest) []string {
	var args []string
	scsi := false
	for i, disk := range g.Disks {
		id := layout.DriveID(i)
		args = append(args, "-drive", "file="+escapeOpt(disk.Source)+",format=qcow2,if=none,id="+id+",discard=unmap")
		dev := diskDevices[disk.Bus].device + ",drive=" + id + ",id=dev-" + id
		if disk.Bus == "scsi" && !scsi {
			args = append(args, "-device", "virtio-scsi-pci,id=scsi0")
			scsi = true
		}
		if disk.Bus == "scsi" {
			dev += ",bus=scsi0.0"
		}
		if i == 0 && (g.Boot == nil || g.Boot.Kernel == "") {
			dev += ",bootindex=0"
		}
		args = append(args, "-device", dev)
	}
	return args
}

// nicArgs adds one netdev and device per NIC. Option ROMs are off: the
// guests boot from disk or kernel, never from the network.
func nicArgs(g *subagent.Guest) []string {
	var args []string
	for i, nic := range g.Nics {
		id := "net" + strconv.Itoa(i)
		netdev := "user,id=" + id
		if isBridged(&nic) {
			netdev = "tap,id=" + id + ",ifname=" + nic.Device + ",script=no,downscript=no"
		}
		args = append(args, "-netdev", netdev,
			"-device", nicDevices[nic.Model]+",netdev="+id+",mac="+nic.MAC+",romfile=")
	}
	return args
}

// checkFiles checks, before a start, that every disk has a source and the
// boot files are allowed and exist.
func (d *Driver) checkFiles(g *subagent.Guest) error {
	for i, disk := range g.Disks {
		if disk.Source == "" {
			return fmt.Errorf("%w: guest %s disk %d has no source (the storage driver creates it)", ErrInvalidGuest, g.ID, i)
		}
	}
	if b := g.Boot; b != nil && b.Kernel != "" {
		if err := d.checkBootPath("kernel", b.Kernel); err != nil {
			return fmt.Errorf("guest %s: %w", g.ID, err)
		}
		if b.Initrd != "" {
			if err := d.checkBootPath("initrd", b.Initrd); err != nil {
				return fmt.Errorf("guest %s: %w", g.ID, err)
			}
		}
	}
	return nil
}
