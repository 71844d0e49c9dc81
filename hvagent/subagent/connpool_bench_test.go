package subagent

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCallTransport compares a call over the client's own connection
// pool with the same call over net/http's client transport (what the
// client used before), against one Server over loopback TCP in this
// process. Each round makes one call of each, alternating which goes
// first. Reported: the p50 of each and pool/net-http as ratio.
func BenchmarkCallTransport(b *testing.B) {
	srv := httptest.NewServer(testServer())
	b.Cleanup(srv.Close)
	pool := NewClient(ClientConfig{URL: srv.URL + RPCPath})
	b.Cleanup(pool.CloseIdleConnections)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 32}
	b.Cleanup(tr.CloseIdleConnections)
	std := NewClient(ClientConfig{URL: srv.URL + RPCPath, HTTPClient: &http.Client{Transport: tr}})

	sideBySide(b, pool, std, "pool-p50-ms", "nethttp-p50-ms")
}
