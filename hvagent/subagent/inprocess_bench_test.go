package subagent

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"
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

	call := func(c *Client, took *[]time.Duration) {
		t0 := time.Now()
		var resp VolumeResponse
		err := c.Call(b.Context(), "Test.Echo", &VolumeRequest{ID: "v1", Size: 1 << 30}, &resp)
		*took = append(*took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	var onDirect, onConn []time.Duration
	for range 10 { // open the connection, untimed
		call(conn, &onConn)
	}
	onConn = onConn[:0]
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			call(direct, &onDirect)
			call(conn, &onConn)
		} else {
			call(conn, &onConn)
			call(direct, &onDirect)
		}
	}
	slices.Sort(onDirect)
	slices.Sort(onConn)
	p50 := func(d []time.Duration) float64 { return float64(d[len(d)/2].Nanoseconds()) / 1e6 }
	b.ReportMetric(p50(onDirect), "direct-p50-ms")
	b.ReportMetric(p50(onConn), "connection-p50-ms")
	b.ReportMetric(p50(onDirect)/p50(onConn), "ratio")
}
