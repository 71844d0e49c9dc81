package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestSubagentStorage(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	addr, cancel := startRun(t, "subagent", "storage", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	c := subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath, Timeout: 10 * time.Second})
	var resp subagent.GuestResponse
	err := c.Call(context.Background(), "ImageStore.CreateGuestDisks",
		&subagent.GuestRequest{Guest: &subagent.Guest{ID: "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60", Disks: []subagent.Disk{{Size: 16}}}}, &resp)
	require.NoError(t, err)
	disk := filepath.Join(dataDir, "guests", "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60", "disk0.qcow2")
	require.Equal(t, disk, resp.Guest.Disks[0].Source)
	_, err = os.Stat(disk)
	require.NoError(t, err)
	err = c.Call(context.Background(), "ImageStore.GetImage", &subagent.ImageRequest{ID: "nope"}, &subagent.ImageResponse{})
	require.EqualError(t, err, "ImageStore.GetImage: image nope: not found")

	r := cancel()
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "serving the storage driver")
	require.Contains(t, r.stderr, "storage driver stopped")
}

func TestSubagentStorage_Errors(t *testing.T) {
	t.Parallel()
	runFailures(t, []runFailure{
		{name: "NoDataDir", args: []string{"subagent", "storage", "--listen", "127.0.0.1:0"}, code: exitUsage, want: "hvagentd subagent storage needs --data-dir"},
		{name: "IdleTimeout", args: []string{"subagent", "storage", "--listen", "127.0.0.1:0", "--data-dir", "/tmp", "--fetch-idle-timeout", "0s"}, code: exitUsage, want: "--fetch-idle-timeout 0s: must be positive"},
		{name: "AllowedPath", args: []string{"subagent", "storage", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(os.TempDir(), "hvagent-storage-unused"), "--allowed-path", "rel"}, code: exitFailure, want: `allowed path "rel" is not absolute`},
	})
}
