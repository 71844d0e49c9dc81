package hvagent_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// readFromCounter is a buffer that counts the calls of its ReadFrom.
type readFromCounter struct {
	bytes.Buffer
	calls int
}

func (w *readFromCounter) ReadFrom(r io.Reader) (int64, error) {
	w.calls++
	return w.Buffer.ReadFrom(r)
}

// A built-in driver that copies a file to its download reply hands the
// file over: the stream has WriteTo, which writes through the
// destination's ReadFrom (sendfile, for a socket).
func TestAgent_StreamHandsFileOver(t *testing.T) {
	t.Parallel()
	data := make([]byte, 9<<20+7)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "export.qcow2")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Length", "9437191")
		_, _ = io.Copy(w, f)
	})
	cfg := sim.Config()
	cfg.Builtins = map[string]http.Handler{"storage": files} // under a built-in's name
	cfg.Services[sim.ConfigDownloadService] = hvagent.ServiceConfig{Builtin: "storage", Path: "/download"}
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	g := env.Create(t, nil)
	disk0 := 0
	snap := env.Do(t, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Disk: &disk0, Snapshot: "s1"})
	require.Equal(t, hvagent.JobComplete, env.Wait(t, snap.Job.ID).Status)

	for range 2 { // the stream slot is released each time
		res := env.Do(t, hvagent.ActionDownloadSnapshot, g.ID, hvagent.Request{Disk: &disk0, Snapshot: "s1"})
		require.Equal(t, int64(len(data)), res.Size)
		wt, ok := res.Stream.(io.WriterTo)
		require.True(t, ok, "the stream keeps the hand-over's WriteTo")
		var w readFromCounter
		n, err := wt.WriteTo(&w)
		require.NoError(t, err)
		require.NoError(t, res.Stream.Close())
		require.Equal(t, int64(len(data)), n)
		require.True(t, bytes.Equal(data, w.Bytes()), "stream differs")
		require.Equal(t, 4, w.calls, "3 chunks of the file, then the (empty) rest")
	}
}
