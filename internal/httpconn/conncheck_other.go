//go:build !unix

package httpconn

import "net"

// connCheck tells whether an idle connection can carry another request.
// Without a non-blocking peek on this system it assumes so: a call on a
// connection the server closed then fails, unless the failure came before
// a byte of it reached the socket (see Pool.RoundTrip).
type connCheck struct{}

func newConnCheck(net.Conn) *connCheck { return &connCheck{} }

// idleOpen reports true.
func (*connCheck) idleOpen() bool { return true }
