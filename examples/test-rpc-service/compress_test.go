package main

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// rpcPost posts one CPUMetrics call with the given Accept-Encoding ("" for
// none) and returns the reply, its body not decompressed.
func rpcPost(t *testing.T, base, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	body := `{"method":"Test.CPUMetrics","params":[{"guest":{"id":"` + guestID + `"}}],"id":7}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+subagent.RPCPath, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return resp, data
}

const cpuReply = `{"result":{"guest":{"id":"` + guestID + `"},"type":"cpu","cpu":[{"cpu_time":0,"vcpu_time":0}]},"error":null,"id":7}`

func TestCompress(t *testing.T) {
	t.Parallel()

	t.Run("GzipWhenAsked", func(t *testing.T) {
		t.Parallel()
		base := start(t, "--compress", "--quiet")
		resp, data := rpcPost(t, base, "gzip, deflate")
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		require.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
		zr, err := gzip.NewReader(strings.NewReader(string(data)))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.JSONEq(t, cpuReply, string(plain))

		for _, enc := range []string{"", "identity", "gzip;q=0", "br"} {
			resp, data := rpcPost(t, base, enc)
			require.Empty(t, resp.Header.Get("Content-Encoding"), "Accept-Encoding %q", enc)
			require.JSONEq(t, cpuReply, string(data), "Accept-Encoding %q", enc)
		}
	})

	t.Run("PlainByDefault", func(t *testing.T) {
		t.Parallel()
		resp, data := rpcPost(t, start(t), "gzip")
		require.Empty(t, resp.Header.Get("Content-Encoding"))
		require.JSONEq(t, cpuReply, string(data))
	})

	t.Run("Clients", func(t *testing.T) {
		t.Parallel()
		base := start(t, "--compress")
		// Go's default transport asks for gzip and decompresses.
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+downloadPath, strings.NewReader(`{}`))
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.True(t, resp.Uncompressed)
		require.Equal(t, downloadBody, string(data))
		// hvagent's client asks for none and gets none.
		c := subagent.NewClient(subagent.ClientConfig{URL: base + subagent.RPCPath, Timeout: 10 * time.Second})
		g := &subagent.Guest{ID: guestID}
		var got subagent.GuestMetricsResponse
		require.NoError(t, c.Call(context.Background(), "Test.CPUMetrics", &subagent.GuestMetricsRequest{Guest: g}, &got))
		require.Equal(t, "cpu", got.Type)
	})
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0.5": true, "gzip; q=1": true,
		"gzip;q=0": false, "gzip;q=0.000": false, "gzip;q=x": false, "identity": false, "br, deflate": false, "x-gzip": false,
	} {
		require.Equal(t, want, acceptsGzip([]string{in}), "%q", in)
	}
}
