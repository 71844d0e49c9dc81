//go:build unix

package httpconn

import (
	"net"
	"syscall"
)

// connCheck tells whether an idle connection can carry another request:
// the peer has not closed it and sent nothing unasked (an idle HTTP/1.1
// connection has nothing to read). It peeks at the socket without
// blocking. It is made once per connection, so that a check allocates
// nothing.
type connCheck struct {
	rc   syscall.RawConn // nil: the connection has no socket to peek at
	peek func(fd uintptr) bool
	open bool // set by peek
	buf  [1]byte
}

func newConnCheck(conn net.Conn) *connCheck {
	c := &connCheck{}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	c.rc = rc
	c.peek = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), c.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		c.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	}
	return c
}

// idleOpen reports whether the connection is still open and silent; one
// without a socket to peek at is taken as open.
func (c *connCheck) idleOpen() bool {
	if c.rc == nil {
		return true
	}
	c.open = false
	return c.rc.Read(c.peek) == nil && c.open
}
