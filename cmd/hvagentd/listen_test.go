package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A request net/http cannot parse gets the JSON error shape on the TCP
// listener and on the unix socket alike, not net/http's plain text.
func TestDaemon_UnparsableRequestIsJSON(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	for _, network := range []string{"tcp", "unix"} {
		addr := d.TCPAddr()
		if network == "unix" {
			addr = d.SocketPath()
		}
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\n\r\n") // no Host
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, network)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), network)
		require.JSONEq(t, `{"message":"malformed HTTP request: missing required Host header","code":400,"error":"invalid"}`, string(body), network)
	}
}
