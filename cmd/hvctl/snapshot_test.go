package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestSnapshot_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var list *SnapshotListOptions
	require.NoError(t, parse(newCmdSnapshotList(b.f, capture(&list)), guestID))
	require.Nil(t, list.Disk, "the whole guest without --disk")
	require.NoError(t, parse(newCmdSnapshotList(b.f, capture(&list)), guestID, "--disk", "0"))
	require.Equal(t, 0, *list.Disk)
	requireUsage(t, parse(newCmdSnapshotList(b.f, capture(&list)), guestID, "--disk", "-1"), "--disk")

	var show *SnapshotShowOptions
	require.NoError(t, parse(newCmdSnapshotShow(b.f, capture(&show)), guestID, "s1"))
	require.Equal(t, "s1", show.Name)
	requireUsage(t, parse(newCmdSnapshotShow(b.f, capture(&show)), guestID), "needs NAME")

	var job *SnapshotJobOptions
	require.NoError(t, parse(newCmdSnapshotCreate(b.f, capture(&job)), guestID))
	require.Equal(t, hvagent.ActionCreateSnapshot, job.Action)
	require.Empty(t, job.Name, "the agent names it")
	require.NoError(t, parse(newCmdSnapshotDelete(b.f, capture(&job)), guestID, "s1", "--disk", "2", "--wait"))
	require.Equal(t, hvagent.ActionDeleteSnapshot, job.Action)
	require.Equal(t, 2, *job.Disk)
	require.True(t, job.Async.Wait)
	require.NoError(t, parse(newCmdSnapshotRollback(b.f, capture(&job)), guestID, "s1", "--destroy-more-recent"))
	require.Equal(t, hvagent.ActionRollbackSnapshot, job.Action)
	require.True(t, job.DestroyMoreRecent)
	requireUsage(t, parse(newCmdSnapshotRollback(b.f, capture(&job)), guestID), "needs NAME")

	var dl *SnapshotDownloadOptions
	require.NoError(t, parse(newCmdSnapshotDownload(b.f, capture(&dl)), guestID, "s1", "-O", "out.qcow2"))
	require.Equal(t, "out.qcow2", dl.File)
	requireUsage(t, parse(newCmdSnapshotDownload(b.f, capture(&dl)), guestID, "s1"), "-O FILE is required")
	dir := t.TempDir()
	requireUsage(t, parse(newCmdSnapshotDownload(b.f, capture(&dl)), guestID, "s1", "-O", dir),
		"--output-file: "+dir+" is a directory; name the file to write")
	requireUsage(t, parse(newCmdSnapshotDownload(b.f, capture(&dl)), guestID, "s1", "-O", filepath.Join(dir, "no", "f.qcow2")),
		"--output-file: no directory "+filepath.Join(dir, "no")+" to write f.qcow2 in")
	require.NoError(t, parse(newCmdSnapshotDownload(b.f, capture(&dl)), guestID, "s1", "-O", "-"))
}

func TestSnapshot_Run(t *testing.T) {
	t.Parallel()
	t.Run("ListDisk", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		disk := 1
		b.fake.DoFunc = func(_ context.Context, action, guest string, req hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionListSnapshots, action)
			require.Equal(t, guestID, guest)
			require.Equal(t, &disk, req.Disk)
			return &hvagent.Result{Body: json.RawMessage(`[{"id":"guests/` + guestID + `/disk-1@s1","size":12}]`)}, nil
		}
		opts := &SnapshotListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, snapshotTarget: snapshotTarget{GuestID: guestID, Disk: &disk}}
		require.NoError(t, snapshotListRun(opts))
		require.Regexp(t, `(?m)^guests/\S+/disk-1@s1\s+12 MB$`, b.out.String())
	})
	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, _ string, req hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionGetSnapshot, action)
			require.Equal(t, "s1", req.Snapshot)
			return &hvagent.Result{Body: json.RawMessage(`{"id":"guests/x@s1","size":3}`)}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "snapshot", "show", guestID, "s1", "-o", "json"))
		require.JSONEq(t, `{"id":"guests/x@s1","size":3}`, b.out.String())
	})
	t.Run("Rollback", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls []doCall
		b.acceptJob(newJob(hvagent.ActionRollbackSnapshot, hvagent.JobQueued), &calls)
		opts := &SnapshotJobOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, Action: hvagent.ActionRollbackSnapshot,
			Name: "s1", DestroyMoreRecent: true, snapshotTarget: snapshotTarget{GuestID: guestID}}
		require.NoError(t, snapshotJobRun(opts))
		require.Equal(t, []doCall{{action: hvagent.ActionRollbackSnapshot, guest: guestID,
			req: hvagent.Request{Snapshot: "s1", DestroyMoreRecent: true}}}, calls)
		require.Regexp(t, `rollbackSnapshot\s+Queued`, b.out.String())
	})
	t.Run("ErrRollbackRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := newJob(hvagent.ActionRollbackSnapshot, hvagent.JobQueued)
		b.acceptJob(job, nil)
		b.finishWith(job, hvagent.JobError, "guest is running")
		require.Equal(t, exitJobFailed, b.run(t.Context(), "snapshot", "rollback", guestID, "s1", "--wait"))
	})
}

func TestSnapshotDownload_Run(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	setupDownload := func(t *testing.T, size int64) *bundle {
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, _ string, req hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionDownloadSnapshot, action)
			require.Equal(t, "s1", req.Snapshot)
			return &hvagent.Result{Stream: io.NopCloser(bytes.NewReader(data)), Size: size}, nil
		}
		return b
	}
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		b := setupDownload(t, int64(len(data)))
		b.f.IO.IsTTY = true
		path := filepath.Join(t.TempDir(), "s1.qcow2")
		require.NoError(t, snapshotDownloadRun(&SnapshotDownloadOptions{cmdBase: b.base(t), snapshotTarget: snapshotTarget{GuestID: guestID}, Name: "s1", File: path}))
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.Contains(t, b.errOut.String(), "download s1", "a progress bar on a terminal")
		require.Contains(t, b.errOut.String(), "wrote 9.8 KiB to "+path)
	})
	t.Run("Stdout", func(t *testing.T) {
		t.Parallel()
		b := setupDownload(t, -1)
		require.Equal(t, exitOK, b.run(t.Context(), "snapshot", "download", guestID, "s1", "-O", "-"))
		require.Equal(t, data, b.out.Bytes())
		require.Equal(t, "wrote 9.8 KiB to stdout\n", b.errOut.String())
	})
	t.Run("ErrShort", func(t *testing.T) {
		t.Parallel()
		b := setupDownload(t, int64(len(data))+1)
		dir := t.TempDir()
		path := filepath.Join(dir, "s1.qcow2")
		err := snapshotDownloadRun(&SnapshotDownloadOptions{cmdBase: b.base(t), snapshotTarget: snapshotTarget{GuestID: guestID}, Name: "s1", File: path})
		require.ErrorContains(t, err, "got 10000 bytes of 10001")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries, "an incomplete download leaves no file")
	})
}
