package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Image formats the driver takes: qcow2 as it is, anything else as raw
// bytes. Formats whose files may name other host files are refused.
const (
	formatQcow2 = "qcow2"
	formatRaw   = "raw"
)

// foreignFormats are the magics of formats refused by sniff: qemu-img
// would follow their references to other files (VMDK extents) or they are
// not plain disks. The offset is where the magic starts.
var foreignFormats = []struct {
	name  string
	off   int
	magic []byte
}{
	{"vmdk", 0, []byte("KDMV")},
	{"vmdk", 0, []byte("# Disk DescriptorFile")},
	{"vdi", 0x40, []byte{0x7f, 0x10, 0xda, 0xbe}},
	{"vhdx", 0, []byte("vhdxfile")},
	{"vpc", 0, []byte("conectix")},
	{"qed", 0, []byte("QED\x00")},
	{"luks", 0, []byte("LUKS\xba\xbe")},
	{"qcow", 0, []byte("QFI\xfb\x00\x00\x00\x01")},
}

// qcow2 header fields (big endian).
const (
	qcow2VersionOff  = 4
	qcow2BackingOff  = 8
	qcow2IncompatOff = 72
	qcow2DataFileBit = 1 << 2
)

// sniff reads the start of a fetched file and names its format, without
// letting qemu-img probe it. A qcow2 file that refers to another file (a
// backing file or an external data file) is refused.
func sniff(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hdr := make([]byte, 512)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	hdr = hdr[:n]
	if n == 0 {
		return "", errorf(ErrInvalid, "the image is empty")
	}
	for _, ff := range foreignFormats {
		if len(hdr) >= ff.off+len(ff.magic) && bytes.Equal(hdr[ff.off:ff.off+len(ff.magic)], ff.magic) {
			return "", errorf(ErrInvalid, "%s images are not accepted: convert it to qcow2 or raw first", ff.name)
		}
	}
	if !bytes.HasPrefix(hdr, qcow2Magic) {
		return formatRaw, nil
	}
	if len(hdr) < qcow2IncompatOff+8 {
		return "", errorf(ErrInvalid, "truncated qcow2 header")
	}
	version := binary.BigEndian.Uint32(hdr[qcow2VersionOff:])
	if binary.BigEndian.Uint64(hdr[qcow2BackingOff:]) != 0 {
		return "", errorf(ErrInvalid, "a qcow2 image with a backing file is not accepted")
	}
	if version >= 3 && binary.BigEndian.Uint64(hdr[qcow2IncompatOff:])&qcow2DataFileBit != 0 {
		return "", errorf(ErrInvalid, "a qcow2 image with an external data file is not accepted")
	}
	return formatQcow2, nil
}

// toQcow2 checks the fetched file and returns the path of its qcow2 form
// (path itself when it is qcow2 already), its original format and info.
func (d *Driver) toQcow2(ctx context.Context, id, path string) (string, string, *imageInfo, error) {
	format, err := sniff(path)
	if err != nil {
		return path, "", nil, fmt.Errorf("image %s: %w", id, err)
	}
	out := path
	if format == formatRaw {
		out = path + ".qcow2"
		if _, err := d.qemuImg(ctx, "convert", "-f", formatRaw, "-O", formatQcow2, path, out); err != nil {
			return out, format, nil, fmt.Errorf("image %s: convert raw to qcow2: %w", id, err)
		}
	}
	info, err := d.info(ctx, out, formatQcow2, false)
	if err != nil {
		return out, format, nil, fmt.Errorf("image %s: not a usable qcow2 image: %w", id, err)
	}
	if info.BackingFile != "" || info.FormatSpecific.Data.DataFile != "" {
		return out, format, nil, errorf(ErrInvalid, "image %s: a qcow2 image that refers to another file is not accepted", id)
	}
	return out, format, info, nil
}
