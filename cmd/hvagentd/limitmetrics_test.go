package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// rawGet sends GET path on a new connection to addr (network "tcp" or
// "unix") and returns the status, Retry-After and the error word of the
// reply (its body when it is not an error).
func rawGet(t *testing.T, network, addr, path string) (status int, retryAfter, word string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	host := "localhost" // the unix socket does not check it
	if network == "tcp" {
		host = addr
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode < 400 {
		return resp.StatusCode, resp.Header.Get("Retry-After"), ""
	}
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	return resp.StatusCode, resp.Header.Get("Retry-After"), e.Error
}

// The event client limit holds for all the listeners together, and
// /metrics shows it.
func TestDaemon_EventClientLimit(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--max-event-clients", "1", "--max-streams", "7")
	openEvents(t, httpClient(t), d.TCPAddr(), "")
	status, retry, word := rawGet(t, "unix", d.SocketPath(), "/events")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "5", retry)
	require.Equal(t, hvagent.EUNAVAILABLE, word)

	status, body := d.get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	for _, line := range []string{
		"hvagent_http_event_clients 1",
		"hvagent_http_streams 0",
		`hvagent_http_limit{limit="max_event_clients"} 1`,
		`hvagent_http_limit{limit="max_streams"} 7`,
		`hvagent_http_refused_total{limit="event_clients"} 1`,
		`hvagent_http_refused_total{limit="request_rate"} 0`,
	} {
		require.Contains(t, body, "\n"+line+"\n")
	}
}

// Every client of the unix socket is one caller of the request rate; a TCP
// client is another.
func TestDaemon_RequestRate(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--request-rate", "0.001", "--request-burst", "2")
	for range 2 {
		status, _, _ := rawGet(t, "unix", d.SocketPath(), "/guests")
		require.Equal(t, http.StatusOK, status)
	}
	status, retry, word := rawGet(t, "unix", d.SocketPath(), "/guests")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, hvagent.EBUSY, word)
	require.NotEmpty(t, retry)
	status, _, _ = rawGet(t, "unix", d.SocketPath(), "/healthz")
	require.Equal(t, http.StatusOK, status, "health checks are not rate limited")

	status, _, _ = rawGet(t, "tcp", d.TCPAddr(), "/guests")
	require.Equal(t, http.StatusOK, status, "a TCP client is another caller")
}
