package qemu

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/layout"
)

func TestConsoleLog_Cap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := newConsoleLog(dir, 4096)
	var all bytes.Buffer
	for i := range 300 {
		line := []byte(strings.Repeat(string(rune('a'+i%26)), 40) + "\n")
		all.Write(line)
		require.NoError(t, l.append(line))
		fi, err := os.Stat(filepath.Join(dir, layout.ConsoleLog))
		require.NoError(t, err)
		require.LessOrEqual(t, fi.Size(), int64(4096))
	}
	got, err := os.ReadFile(filepath.Join(dir, layout.ConsoleLog))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(got), 2048, "the log keeps at least its newest half")
	require.True(t, bytes.HasSuffix(all.Bytes(), got), "the log is the newest output, in order")

	// One write larger than the cap keeps its newest half.
	big := bytes.Repeat([]byte("x"), 10000)
	big[len(big)-1] = 'y'
	require.NoError(t, l.append(big))
	got, err = os.ReadFile(filepath.Join(dir, layout.ConsoleLog))
	require.NoError(t, err)
	require.LessOrEqual(t, len(got), 4096)
	require.True(t, bytes.HasSuffix(got, big[len(big)-2048:]), "the log ends with the newest half of the write")
}

func TestDriver_ConsoleStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(b.driver.Handler())
	t.Cleanup(srv.Close)
	stream := subagent.NewClient(subagent.ClientConfig{URL: srv.URL + ConsolePath})

	t.Run("NeverStarted", func(t *testing.T) {
		body, size, err := stream.Stream(ctx(t), &subagent.GuestRequest{Guest: &subagent.Guest{ID: testID}})
		require.NoError(t, err)
		got, err := io.ReadAll(body)
		require.NoError(t, body.Close())
		require.NoError(t, err)
		require.Empty(t, got)
		require.Equal(t, int64(0), size)
	})
	t.Run("Log", func(t *testing.T) {
		id := "0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10"
		dir := layout.RunDir(b.dataDir, id)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		require.NoError(t, newConsoleLog(dir, DefaultConsoleLogLimit).append([]byte("boot log\n")))
		body, size, err := stream.Stream(ctx(t), &subagent.GuestRequest{Guest: &subagent.Guest{ID: id}})
		require.NoError(t, err)
		got, err := io.ReadAll(body)
		require.NoError(t, body.Close())
		require.NoError(t, err)
		require.Equal(t, "boot log\n", string(got))
		require.Equal(t, int64(9), size)
	})
	t.Run("ErrBadRequest", func(t *testing.T) {
		resp, err := http.Post(srv.URL+ConsolePath, "application/json", strings.NewReader(`{"guest":{"id":"x"}}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, string(msg), `id "x" is not a lowercase UUID`)
	})
}
