package subagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenAndServe listens on the TCP address addr, calls ready (when not nil)
// with the address it got (useful with port 0), and serves h until ctx ends;
// then it shuts down gracefully, giving calls in flight up to 5 seconds. It
// is what a sub-agent's main needs: ListenAndServe(ctx, "127.0.0.1:9999",
// server, nil).
func ListenAndServe(ctx context.Context, addr string, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return Serve(ctx, ln, h, ready)
}

// loopbackSendBuffer is the send buffer size of a connection from a peer
// on this host (the kernel doubles it for its own bookkeeping: 512 KiB).
const loopbackSendBuffer = 256 << 10

// Serve is ListenAndServe on a listener the caller opened (TCP or unix).
// A TCP connection from a peer on this host (hvagentd, mostly) gets a
// fixed send buffer (see boundLoopbackBuffer).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, ready func(addr string)) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnState: boundLoopbackBuffer}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(stopCtx)
	<-errc
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// boundLoopbackBuffer fixes the send buffer of c, a new TCP connection
// from a peer on this host, at loopbackSendBuffer (http.Server's
// ConnState hook). Left to itself the kernel grows the buffer of a busy
// connection, a stream's, up to net.ipv4.tcp_wmem's maximum (4 MiB by
// default), and over loopback all of it is data the peer has not read
// yet: by the time the peer reads a byte, the CPU's cache no longer holds
// it. With 512 KiB in flight it still does, and a 64 MiB stream read by a
// client on this host cost about a third less CPU per GiB, the sub-agent
// and the reader together (BenchmarkServeStream; Linux 6.18, 2 CPUs). A
// peer on another host keeps the kernel's autotuning, which a link's
// bandwidth-delay product needs.
func boundLoopbackBuffer(c net.Conn, state http.ConnState) {
	if state != http.StateNew {
		return
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if addr, ok := tc.RemoteAddr().(*net.TCPAddr); ok && addr.IP.IsLoopback() {
		_ = tc.SetWriteBuffer(loopbackSendBuffer)
	}
}
