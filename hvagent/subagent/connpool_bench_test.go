package subagent

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
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

	call := func(c *Client, took *[]time.Duration) {
		t0 := time.Now()
		var resp VolumeResponse
		err := c.Call(b.Context(), "Test.Echo", &VolumeRequest{ID: "v1", Size: 1 << 30}, &resp)
		*took = append(*took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	var onPool, onStd []time.Duration
	for range 10 { // open the connections, untimed
		call(pool, &onPool)
		call(std, &onStd)
	}
	onPool, onStd = onPool[:0], onStd[:0]
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			call(pool, &onPool)
			call(std, &onStd)
		} else {
			call(std, &onStd)
			call(pool, &onPool)
		}
	}
	slices.Sort(onPool)
	slices.Sort(onStd)
	p50 := func(d []time.Duration) float64 { return float64(d[len(d)/2].Nanoseconds()) / 1e6 }
	b.ReportMetric(p50(onPool), "pool-p50-ms")
	b.ReportMetric(p50(onStd), "nethttp-p50-ms")
	b.ReportMetric(p50(onPool)/p50(onStd), "ratio")
}
