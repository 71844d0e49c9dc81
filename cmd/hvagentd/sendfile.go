package main

import (
	"errors"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// streamSendBuffer is the send buffer size a unix socket connection asks
// for before its first stream (the kernel doubles it for its own
// bookkeeping).
const streamSendBuffer = 2 << 20

// growStreamBuffer grows the send buffer of c, a unix socket connection
// about to carry a stream, to streamSendBuffer: with SO_SNDBUFFORCE when
// the process may (root), else SO_SNDBUF, which the kernel caps at
// net.core.wmem_max; on failure c keeps its buffer. The default (208 KiB)
// holds too little for a stream: the kernel wakes a writer blocked on a
// full unix socket only once a quarter of the buffer is left in flight
// (~52 KiB, a few of the reader's reads), so the reader drains the socket
// and sleeps about once per 256 KiB until the writer is scheduled again.
// Measured on Linux 6.18, 2 CPUs (a 268 MB export read 8 KiB at a time):
// 1,072 such waits with the default, 5–57 with this buffer; through
// hvagentd the download's time over a page-cache read of the same file
// went from ~23 to ~18.5 ms (medians of 60 rounds).
func growStreamBuffer(c *net.UnixConn) {
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, streamSendBuffer) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, streamSendBuffer)
		}
	})
}

// sendFileUnix copies r to the unix socket c with sendfile(2) when r is a
// file (or an *io.LimitedReader of one), as the net package does for TCP
// sockets but not for unix ones. handled is false when r is not a file or
// the kernel cannot send it (nothing was sent then). The file's offset
// moves past what was sent; c's write deadline applies.
func sendFileUnix(c *net.UnixConn, r io.Reader) (written int64, handled bool, err error) {
	remain := int64(-1) // to EOF
	lr, limited := r.(*io.LimitedReader)
	if limited {
		remain, r = lr.N, lr.R
		if remain <= 0 {
			return 0, true, nil
		}
	}
	file, ok := r.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	src, err := file.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	dst, err := c.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr error
	rerr := src.Read(func(in uintptr) bool {
		werr := dst.Write(func(out uintptr) bool {
			var done bool
			done, serr = sendChunks(int(out), int(in), remain, &written)
			return done
		})
		if serr == nil {
			serr = werr
		}
		return true
	})
	if limited {
		lr.N = remain - written
	}
	if written == 0 && (errors.Is(serr, unix.EINVAL) || errors.Is(serr, unix.ENOSYS)) {
		return 0, false, nil // not a file sendfile takes: copy it instead
	}
	if serr == nil {
		serr = rerr
	}
	return written, true, serr
}

// sendChunks calls sendfile until remain bytes (< 0: all) are sent, the
// file ends, or the socket is full; done is false in that last case, to
// wait until it is writable.
func sendChunks(out, in int, remain int64, written *int64) (done bool, err error) {
	for remain < 0 || *written < remain {
		chunk := int64(1 << 30)
		if remain >= 0 {
			chunk = min(chunk, remain-*written)
		}
		n, err := unix.Sendfile(out, in, nil, int(chunk))
		if n > 0 {
			*written += int64(n)
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return true, err
		case n == 0:
			return true, nil // end of the file
		}
	}
	return true, nil
}
