//go:build unix

package httpconn

import (
	"net"
	"syscall"
)

// idleConnOpen reports whether an idle connection can carry another
// request: the peer has not closed it and sent nothing unasked (an idle
// HTTP/1.1 connection has nothing to read). It peeks at the socket
// without blocking.
func idleConnOpen(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}
