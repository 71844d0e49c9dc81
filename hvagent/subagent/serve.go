package subagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hvagent/hvagent/internal/sockbuf"
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
// from a peer on this host (http.Server's ConnState hook): see
// sockbuf.FixLoopback.
func boundLoopbackBuffer(c net.Conn, state http.ConnState) {
	if state != http.StateNew {
		return
	}
	if addr, ok := c.RemoteAddr().(*net.TCPAddr); ok && addr.IP.IsLoopback() {
		sockbuf.FixLoopback(c)
	}
}
