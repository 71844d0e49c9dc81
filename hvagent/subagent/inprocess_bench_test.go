package subagent

import (
	"context"
	"net/http"
	"testing"
)

// viaConnection is a RoundTripper that sends every request through
// InProcess's in-memory connection, as calls went before the direct path:
// it hides the mark Client.send puts on a call's context.
type viaConnection struct{ next http.RoundTripper }

func (v viaConnection) RoundTrip(req *http.Request) (*http.Response, error) {
	return v.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), wholeReplyKey{}, nil)))
}

// BenchmarkInProcessCall compares a call of an InProcess server made
// directly (the handler called on a goroutine, its reply buffered) with the
// same call through the in-memory HTTP connection. Each round makes one
// call of each, alternating which goes first. Reported: the p50 of each
// and direct/connection as ratio.
func BenchmarkInProcessCall(b *testing.B) {
	p := NewInProcess(testServer())
	b.Cleanup(func() { _ = p.Close() })
	direct := NewClient(ClientConfig{URL: "http://sim" + RPCPath, HTTPClient: p.HTTPClient()})
	conn := NewClient(ClientConfig{URL: "http://sim" + RPCPath,
		HTTPClient: &http.Client{Transport: viaConnection{p.HTTPClient().Transport}}})

	sideBySide(b, direct, conn, "direct-p50-ms", "connection-p50-ms")
}
