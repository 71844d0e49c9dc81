package main

import (
	"io"
	"net"
	"sync"
)

// loopbackCopySize is the buffer through which a reply body goes to a TCP
// peer on this host. Larger reads from a socket source (a sub-agent's
// stream) take more of what has arrived at once: fewer reads, each of
// which may send an ACK over loopback whose processing it pays for (perf).
// Measured with BenchmarkSnapshotDownload on 2 CPUs (load 3.2–7): 4 MiB
// cost hvagentd's process 7–11% less CPU per GiB than 1 MiB (median 1085
// vs 1172 ms, and 892 vs 1005 ms in a second series); 256 KiB and 64 KiB
// cost more than 1 MiB; a file source (a disk download) ran the same with
// 1 and 4 MiB. Each stream to such a peer holds one buffer while it runs.
const loopbackCopySize = 4 << 20

// loopbackBufs are the buffers of copyLoopback, reused across replies.
var loopbackBufs = sync.Pool{New: func() any { b := make([]byte, loopbackCopySize); return &b }}

// onLoopback reports whether c is a TCP connection whose peer is on this
// host (a loopback address).
func onLoopback(c net.Conn) bool {
	if _, ok := c.(*net.TCPConn); !ok {
		return false
	}
	addr, ok := c.RemoteAddr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// copyLoopback copies r to w, a TCP connection to a peer on this host,
// with read and write through a 4 MiB buffer, where the net package would
// use sendfile (r a file) or splice (r a socket). Those hand the source's
// pages to the socket instead of copying them, which pays off when a NIC
// sends from them; over loopback the pages go to the peer's receive queue
// as they are, and the peer's reads of them cost it about four times
// what reads of copied data do (measured on Linux 6.18: sendfile of a file
// to a loopback peer took about 1.2 s of CPU per GiB on both sides
// together, read and write through 1 MiB 0.6–0.8 s, and ran at nearly
// twice the speed).
func copyLoopback(w io.Writer, r io.Reader) (int64, error) {
	buf := loopbackBufs.Get().(*[]byte)
	defer loopbackBufs.Put(buf)
	// Hide r's WriteTo and w's ReadFrom, which would send the pages again.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, *buf)
}
