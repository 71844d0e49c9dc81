package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// smallDisk mounts a tmpfs of size (such as "4m") at a new directory and
// unmounts it when the test ends. It skips the test when not root, or when
// mounting is not allowed here.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := filepath.Join(tempDir(t), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file at path until the disk is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	chunk = chunk[:512]
	for { // the last bytes too
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return
		}
	}
}

// TestDiskFull_RequestsFailAndRecover runs the hvagentd binary on a small
// filesystem and fills it: requests that must write fail with 503
// "unavailable" saying the disk is full, reads go on, nothing accepted is
// lost, and once space returns the same daemon accepts and runs work again.
func TestDiskFull_RequestsFailAndRecover(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "8m")
	_, simAddr := startListening(t, binary(t, "hvagentd"), "subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "200ms")
	dp, addr := startDaemonProc(t, dir, "--config", simURLConfig(t, dir, simAddr))
	c := newClient(t, addr)
	ctx := context.Background()
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
	guest := res.Job.GuestID

	// Jobs queued before the disk fills run while it is full: their
	// transitions must wait for space, not get lost.
	var accepted []string
	for n := range 10 {
		action := hvagent.ActionStart
		if n%2 == 1 {
			action = hvagent.ActionShutdown
		}
		res, err := c.Do(ctx, action, guest, hvagent.Request{})
		require.NoError(t, err)
		accepted = append(accepted, res.Job.ID)
	}
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	var full error
	for range 5000 { // the database's free pages take some writes first
		res, err := c.Do(ctx, hvagent.ActionStart, guest, hvagent.Request{})
		if err != nil {
			full = err
			break
		}
		accepted = append(accepted, res.Job.ID)
	}
	require.Error(t, full, "writes on a full disk must fail")
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(full), "%v", full)
	require.ErrorContains(t, full, "the database disk is full")
	t.Logf("%d more jobs accepted before the disk was full", len(accepted)-10)

	// Plain HTTP sees 503 and the JSON error shape.
	resp, err := httpClient(t).Post("http://"+addr+"/guests/"+guest+"/start", "application/json", nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	var e struct{ Message, Error string }
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Equal(t, "unavailable", e.Error)
	require.True(t, strings.HasPrefix(e.Message, "the database disk is full"), e.Message)

	// Reads go on while the disk is full, and the queued jobs are still
	// waiting for space.
	_, err = c.Guest(ctx, guest)
	require.NoError(t, err)
	last, err := c.Job(ctx, accepted[9])
	require.NoError(t, err)
	require.False(t, last.Status.Final(), "the last job queued ran on a full disk: %s", last.Status)

	// Space returns: no restart. The jobs queued before run to their end
	// by themselves, then new requests are accepted and run.
	require.NoError(t, os.Remove(filler))
	for _, id := range accepted {
		job := waitJob(t, c, id)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s %s: %s", job.Action, id, job.Message)
	}
	res, err = c.Do(ctx, hvagent.ActionShutdown, guest, hvagent.Request{})
	require.NoError(t, err)
	job := waitJob(t, c, res.Job.ID)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	g, err := c.Guest(ctx, guest)
	require.NoError(t, err)
	require.Equal(t, "shutoff", g.State)
	_, err = os.Stat(filler)
	require.True(t, errors.Is(err, os.ErrNotExist))
	failed := strings.Count(dp.stderr.String(), "the database disk is full")
	t.Logf("hvagentd logged %d writes refused for the full disk", failed)
}
