package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/rest"
)

func TestHandler_Snapshots(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, &hvagent.Guest{Memory: 128, Disks: []hvagent.Disk{{Size: 64}, {Size: 32}}})
	for _, level := range []struct{ prefix, snapID string }{
		{"/guests/" + g.ID, "guests/" + g.ID + "@s1"},
		{"/guests/" + g.ID + "/disks/1", "guests/" + g.ID + "/disk-1@s1"},
	} {
		p := level.prefix + "/snapshots"
		var job hvagent.Job
		resp := a.call(t, "POST", p, map[string]string{"dest": "s1"}, http.StatusAccepted, &job)
		require.Equal(t, job.ID, requireJobHeaders(t, resp), "snapshot routes answer the Job")
		job = *a.waitJob(t, job.ID)
		require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
		var snap hvagent.Snapshot
		require.NoError(t, json.Unmarshal(job.Result, &snap))
		require.Equal(t, level.snapID, snap.ID)

		var list []hvagent.Snapshot
		a.call(t, "GET", p, nil, http.StatusOK, &list)
		require.NotEmpty(t, list)
		var one hvagent.Snapshot // an object, not a one-element array
		resp = a.call(t, "GET", p+"/s1", nil, http.StatusOK, &one)
		require.Equal(t, level.snapID, one.ID)
		require.Empty(t, resp.Header.Get("X-Guest-Job-ID"))

		resp = a.do(t, "GET", p+"/s1/download", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, sim.SnapshotBytes(level.snapID, size), data)

		a.call(t, "POST", p+"/s1/rollback?wait=30s", `{"destroyMoreRecent":true}`, http.StatusOK, &job)
		require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
		require.Equal(t, hvagent.ActionRollbackSnapshot, job.Action)
		a.call(t, "DELETE", p+"/s1?wait=30s", nil, http.StatusOK, &job)
		require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
		a.call(t, "GET", p+"/s1", nil, http.StatusNotFound, nil)
	}
	// "name" is accepted for "dest"; no body picks a default name.
	var job hvagent.Job
	a.call(t, "POST", "/guests/"+g.ID+"/snapshots?wait=30s", `{"name":"n1"}`, http.StatusOK, &job)
	require.Contains(t, string(job.Result), "@n1")
	a.call(t, "POST", "/guests/"+g.ID+"/snapshots?wait=30s", nil, http.StatusOK, &job)
	require.Contains(t, string(job.Result), "@snap-")
}

func TestHandler_Images(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	var images []hvagent.Image
	a.call(t, "GET", "/images", nil, http.StatusOK, &images)
	require.NotNil(t, images)
	require.Empty(t, images)

	var job hvagent.Job
	body := map[string]string{"id": "debian-12", "source": "https://example.invalid/d.qcow2"}
	resp := a.call(t, "POST", "/images", body, http.StatusAccepted, &job)
	require.Equal(t, job.ID, requireJobHeaders(t, resp))
	require.Equal(t, hvagent.AgentGuestID, job.GuestID)
	require.Equal(t, hvagent.JobComplete, a.waitJob(t, job.ID).Status)
	a.call(t, "POST", "/container_images?wait=30s", map[string]string{"id": "nginx"}, http.StatusOK, &job)
	require.Equal(t, "containerFetchImage", job.Action)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)

	a.call(t, "GET", "/images", nil, http.StatusOK, &images)
	require.Len(t, images, 2)
	a.call(t, "GET", "/images?type=container", nil, http.StatusOK, &images)
	require.Len(t, images, 1)
	a.call(t, "GET", "/container_images", nil, http.StatusOK, &images)
	require.Len(t, images, 1)
	require.Equal(t, "nginx", images[0].ID)

	var im hvagent.Image
	a.call(t, "GET", "/images/nginx", nil, http.StatusOK, &im)
	require.Equal(t, "container", im.Type)
	a.call(t, "GET", "/container_images/nginx", nil, http.StatusOK, &im)
	require.Equal(t, "nginx", im.ID)
	a.call(t, "GET", "/container_images/debian-12", nil, http.StatusNotFound, nil)

	a.call(t, "DELETE", "/container_images/nginx?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, "containerDeleteImage", job.Action)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	a.call(t, "GET", "/images/nginx", nil, http.StatusNotFound, nil)
	resp = a.call(t, "DELETE", "/images/debian-12", nil, http.StatusAccepted, &job)
	require.Equal(t, hvagent.ActionDeleteImage, job.Action)
	require.Equal(t, hvagent.JobComplete, a.waitJob(t, requireJobHeaders(t, resp)).Status)
	a.call(t, "GET", "/images", nil, http.StatusOK, &images)
	require.Empty(t, images)
	var jobs []*hvagent.Job
	a.call(t, "GET", "/jobs?guest=agent", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 4, "image jobs are the host's (GuestID \"agent\")")
}
