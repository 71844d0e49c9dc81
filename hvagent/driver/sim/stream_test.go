package sim_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// stream opens a raw stream of the bundle's simulation.
func stream(ctx context.Context, t *testing.T, b *testBundle, path string, req any) ([]byte, int64, error) {
	t.Helper()
	c := subagent.NewClient(subagent.ClientConfig{URL: b.url + path, Timeout: 10 * time.Second})
	body, n, err := c.Stream(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	return data, n, nil
}

func TestDriver_DownloadSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	id := guestEntity + "/disk-0@s1"
	snapshots(t, b, "Sim.CreateSnapshot", &subagent.SnapshotRequest{ID: guestEntity + "/disk-0", Dest: "s1", Args: map[string]string{"size": "2"}})

	ctx := subagent.WithCall(context.Background(), "job-9", 1)
	data, n, err := stream(ctx, t, b, sim.DownloadPath, &subagent.SnapshotRequest{ID: id})
	require.NoError(t, err)
	require.Equal(t, int64(2<<20), n, "Content-Length")
	require.Len(t, data, 2<<20)
	require.True(t, bytes.Equal(sim.SnapshotBytes(id, 2<<20), data), "deterministic content")
	again, _, err := stream(ctx, t, b, sim.DownloadPath, &subagent.SnapshotRequest{ID: id})
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, again))
	require.False(t, bytes.Equal(data[:64], sim.SnapshotBytes(guestEntity+"@other", 64)), "content depends on the snapshot")

	log := b.driver.Log()
	require.Equal(t, sim.Call{JobID: "job-9", Attempt: 1, Method: sim.MethodDownloadSnapshot, GuestID: guestID, At: b.clock.Now()}, log[len(log)-1])

	_, _, err = stream(ctx, t, b, sim.DownloadPath, &subagent.SnapshotRequest{ID: guestEntity + "@missing"})
	var ce *subagent.CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusNotFound, ce.Status)
	require.Equal(t, "not found", strings.TrimSpace(ce.Message))
	require.Equal(t, subagent.CodeNotFound, ce.Code)

	b.driver.FailNext(sim.MethodDownloadSnapshot, "tape jammed")
	_, _, err = stream(ctx, t, b, sim.DownloadPath, &subagent.SnapshotRequest{ID: id})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusInternalServerError, ce.Status)
	require.Equal(t, "tape jammed", strings.TrimSpace(ce.Message))
	require.Empty(t, ce.Code, "a plain failure has no code")

	_, _, err = stream(ctx, t, b, sim.DownloadPath, "not an object")
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)
	require.Equal(t, subagent.CodeInvalid, ce.Code)
}

func TestDriver_Console(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	g := &subagent.Guest{ID: guestID, Disks: []subagent.Disk{{Size: 5}}, Nics: []subagent.Nic{{MAC: "02:00:00:00:00:01", Network: "br0"}}}
	g, err := guestCall(t, b, "Sim.CreateGuest", g)
	require.NoError(t, err)
	g, err = guestCall(t, b, "Sim.Start", g)
	require.NoError(t, err)

	data, _, err := stream(context.Background(), t, b, sim.ConsolePath, &subagent.GuestRequest{Guest: g, Action: "console"})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.GreaterOrEqual(t, len(lines), 5)
	require.Contains(t, lines[0], "simulated console of guest "+guestID)
	require.Contains(t, string(data), "[vda] 5 MB")
	require.Contains(t, string(data), "mac 02:00:00:00:00:01 network br0")
	require.Equal(t, "state: running", lines[len(lines)-1])

	_, _, err = stream(context.Background(), t, b, sim.ConsolePath, &subagent.GuestRequest{})
	var ce *subagent.CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)
	require.Equal(t, "invalid guest", strings.TrimSpace(ce.Message))

	_, _, err = stream(context.Background(), t, b, sim.ConsolePath, "not a request")
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusBadRequest, ce.Status)

	// The simulated console is read-only: no interactive attach.
	attach := &subagent.ConsoleRequest{GuestRequest: subagent.GuestRequest{Guest: g, Action: "console"}, Follow: true}
	_, _, err = stream(context.Background(), t, b, sim.ConsolePath, attach)
	require.ErrorContains(t, err, "the simulated console is read-only")
	require.Equal(t, subagent.CodeInvalid, subagent.ErrorCode(err))
}
