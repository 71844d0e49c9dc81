package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
)

// dyingStream is a download sub-agent that sends part of a stream and
// then dies: it declares length bytes (no Content-Length when length is
// 0, so the body is chunked), writes sent bytes, and closes the connection
// without ending the body, as a killed process leaves it.
func dyingStream(t *testing.T, length, sent int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if length > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(length))
		}
		_, _ = w.Write([]byte(strings.Repeat("x", sent)))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, as the kernel sends for a killed process
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStreamFault_SubagentDiesMidStream downloads a snapshot through the
// hvagentd binary from a sub-agent that dies mid-stream: the Go client and
// plain HTTP both see a failed transfer, never a short body that looks
// complete.
func TestStreamFault_SubagentDiesMidStream(t *testing.T) {
	t.Parallel()
	_, simAddr := startListening(t, binary(t, "hvagentd"), "subagent", "sim", "--listen", "127.0.0.1:0")
	for _, tt := range []struct {
		name         string
		length, sent int
	}{
		{"ShortOfContentLength", 1 << 20, 100 << 10},
		{"ChunkedCut", 0, 100 << 10},
		{"NothingSent", 4096, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := tempDir(t)
			config := downloadConfig(t, dir, "http://"+simAddr, dyingStream(t, tt.length, tt.sent))
			_, addr := startDaemonProc(t, dir, "--config", config)
			c := newClient(t, addr)
			ctx := context.Background()
			res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
			require.NoError(t, err)
			require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
			guest := res.Job.GuestID

			// The Go client: the read fails.
			dl, err := c.Do(ctx, hvagent.ActionDownloadSnapshot, guest, hvagent.Request{Snapshot: "s1"})
			require.NoError(t, err, "the reply starts before the sub-agent dies")
			got, err := io.ReadAll(dl.Stream)
			require.Error(t, err, "a truncated download must fail; got %d bytes", len(got))
			require.NoError(t, dl.Stream.Close())
			require.LessOrEqual(t, len(got), tt.sent)

			// Plain HTTP, as curl sees it: a declared length not met, or a
			// chunked body without its end.
			resp, err := httpClient(t).Get("http://" + addr + "/guests/" + guest + "/snapshots/s1/download")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if tt.length > 0 {
				require.Equal(t, int64(tt.length), resp.ContentLength, "the declared length passes through")
			}
			got, err = io.ReadAll(resp.Body)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "got %d bytes", len(got))

			// hvagentd serves on.
			_, err = c.Guest(ctx, guest)
			require.NoError(t, err)
		})
	}
}

// downloadConfig writes a config with the sim's actions on simURL and the
// snapshot download on downloadURL, and returns its path.
func downloadConfig(t *testing.T, dir, simURL, downloadURL string) string {
	t.Helper()
	cfg := sim.Config()
	for name, s := range cfg.Services {
		s.Builtin, s.URL = "", simURL
		if name == sim.ConfigDownloadService {
			s.URL, s.Path = downloadURL, ""
		}
		cfg.Services[name] = s
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(dir, "download.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// endlessStream is a download sub-agent that streams until its client
// goes away (declaring a length of 1 GiB, or none: chunked), and reports
// the error that ended each reply on the returned channel.
func endlessStream(t *testing.T, declare bool) (string, <-chan error) {
	t.Helper()
	ended := make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if declare {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		}
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ended
}

// TestStreamFault_ClientLeavesMidStream downloads from a sub-agent that
// streams without end and leaves after the first bytes, more times than a
// guest's stream throttle allows at once: each time hvagentd closes its
// connection to the sub-agent (whose write fails) and frees the slot.
func TestStreamFault_ClientLeavesMidStream(t *testing.T) {
	t.Parallel()
	simSrv := httptest.NewServer(sim.New(sim.Options{}).Handler())
	t.Cleanup(simSrv.Close)
	for _, tt := range []struct {
		name    string
		declare bool
	}{{"ContentLength", true}, {"Chunked", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, ended := endlessStream(t, tt.declare)
			dir := tempDir(t)
			d := startDaemon(t, "--config", downloadConfig(t, dir, simSrv.URL, url))
			c := newClient(t, d.TCPAddr())
			res, err := c.Do(t.Context(), hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
			require.NoError(t, err)
			require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
			path := "/guests/" + res.Job.GuestID + "/snapshots/s1/download"
			for i := range 7 { // the stream throttle is 5
				leaveMidStream(t, d.TCPAddr(), path)
				select {
				case err := <-ended:
					require.Error(t, err, "round %d: the sub-agent's reply ended without error", i)
				case <-time.After(20 * time.Second):
					require.FailNow(t, "the sub-agent's connection was not released", "round %d", i)
				}
			}
		})
	}
}

// leaveMidStream sends a GET of path on a connection of its own, reads
// the 200 reply's header and 1 MiB of its body, and closes the connection.
func leaveMidStream(t *testing.T, addr, path string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	n, err := io.CopyN(io.Discard, resp.Body, 1<<20)
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), n)
}
