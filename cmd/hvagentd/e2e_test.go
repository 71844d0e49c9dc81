package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// rpcImageID is the one image test-rpc-service knows.
const rpcImageID = "289120e4-ed12-431d-8d18-48f8a94bb05a"

// api sends raw HTTP requests to hvagentd.
type api struct {
	t    *testing.T
	hc   *http.Client
	base string
}

// reply is a raw HTTP reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the reply's JSON body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "%s", r.body)
}

func (a *api) do(method, path, body string) reply {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(a.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// want sends a request and requires status; it returns the reply.
func (a *api) want(status int, method, path, body string) reply {
	a.t.Helper()
	r := a.do(method, path, body)
	require.Equal(a.t, status, r.status, "%s %s: %s", method, path, r.body)
	return r
}

// job sends an async request, requires 202 with the job headers and waits
// for the job to complete.
func (a *api) job(method, path, body string) *hvagent.Job {
	a.t.Helper()
	r := a.want(http.StatusAccepted, method, path, body)
	id := r.header.Get("X-Guest-Job-ID")
	require.NotEmpty(a.t, id, "%s %s", method, path)
	require.Equal(a.t, "/jobs/"+id, r.header.Get("Location"))
	var job hvagent.Job
	a.want(http.StatusOK, http.MethodGet, "/jobs/"+id+"?wait=30s", "").decode(a.t, &job)
	require.Equal(a.t, hvagent.JobComplete, job.Status, "%s %s: %s", method, path, job.Message)
	return &job
}

// startRPCDaemon runs test-rpc-service and hvagentd configured by
// examples/test-rpc-service/agent.json (its port rewritten), as separate
// processes, and returns hvagentd's address.
func startRPCDaemon(t *testing.T) string {
	t.Helper()
	dir := tempDir(t)
	_, rpcAddr := startListening(t, binary(t, "test-rpc-service"), "--port", "0")
	_, portText, ok := strings.Cut(rpcAddr, ":")
	require.True(t, ok, rpcAddr)
	port, err := strconv.ParseUint(portText, 10, 16)
	require.NoError(t, err)
	cfg, err := hvagent.LoadConfig("../../examples/test-rpc-service/agent.json")
	require.NoError(t, err)
	for name, s := range cfg.Services {
		require.Equal(t, uint(9999), s.Port, name)
		s.Port = uint(port)
		cfg.Services[name] = s
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(dir, "agent.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, addr := startDaemonProc(t, dir, "--config", path)
	return addr
}

func TestE2E_TestRPCService(t *testing.T) {
	t.Parallel()
	addr := startRPCDaemon(t)
	a := &api{t: t, hc: httpClient(t), base: "http://" + addr}
	c := newClient(t, addr)
	ctx := context.Background()

	// Hypervisor metadata.
	var md map[string]string
	a.want(http.StatusOK, http.MethodPatch, "/metadata", `{"rack":"r1","zone":"z"}`).decode(t, &md)
	require.Equal(t, map[string]string{"rack": "r1", "zone": "z"}, md)
	md, err := c.PatchMetadata(ctx, map[string]string{"zone": ""})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"rack": "r1"}, md)
	a.want(http.StatusOK, http.MethodGet, "/metadata", "").decode(t, &md)
	require.Equal(t, map[string]string{"rack": "r1"}, md)

	g := e2eCreateGuest(t, a, c)
	e2eMetrics(t, a, c, g.ID)
	e2eSnapshots(t, a, c, g.ID, "")
	e2eSnapshots(t, a, c, g.ID, "/disks/1")
	e2eImages(t, a, c)
	e2eGuestActions(t, a, c, g.ID)

	// Delete: 202 with the guest; afterwards it is gone but its jobs stay.
	r := a.want(http.StatusAccepted, http.MethodDelete, "/guests/"+g.ID, "")
	var deleted hvagent.Guest
	r.decode(t, &deleted)
	require.Equal(t, g.ID, deleted.ID)
	job := waitJob(t, c, r.header.Get("X-Guest-Job-ID"))
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, "delete", job.Action)
	a.want(http.StatusNotFound, http.MethodGet, "/guests/"+g.ID, "")
	a.want(http.StatusNotFound, http.MethodGet, "/guests/"+g.ID+"/jobs", "")
	jobs, err := c.Jobs(ctx, hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	require.Greater(t, len(jobs), 10)
	var list []*hvagent.Guest
	a.want(http.StatusOK, http.MethodGet, "/guests", "").decode(t, &list)
	require.Empty(t, list)
}

// e2eCreateGuest creates a guest with NICs, disks and metadata.
func e2eCreateGuest(t *testing.T, a *api, c *rest.Client) *hvagent.Guest {
	t.Helper()
	r := a.want(http.StatusAccepted, http.MethodPost, "/guests", `{
		"memory": 512, "cpu": 2, "metadata": {"owner": "e2e"},
		"nics": [{"network": "br0", "model": "virtio", "mac": "52:54:00:12:34:56"}],
		"disks": [{"size": 1024, "bus": "virtio"}, {"image": "`+rpcImageID+`", "bus": "virtio"}]}`)
	var g hvagent.Guest
	r.decode(t, &g)
	require.NotEmpty(t, g.ID)
	require.Len(t, g.Nics, 1)
	require.Len(t, g.Disks, 2)
	jobID := r.header.Get("X-Guest-Job-ID")
	require.Equal(t, "/jobs/"+jobID, r.header.Get("Location"))

	// Wait through the REST API (?wait) and the client (WaitJob).
	var job hvagent.Job
	a.want(http.StatusOK, http.MethodGet, "/jobs/"+jobID+"?wait=30s", "").decode(t, &job)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, jobID, waitJob(t, c, jobID).ID)
	a.want(http.StatusOK, http.MethodGet, "/guests/"+g.ID+"/jobs/"+jobID, "").decode(t, &job)
	require.Equal(t, "create", job.Action)
	var jobs []*hvagent.Job
	a.want(http.StatusOK, http.MethodGet, "/guests/"+g.ID+"/jobs", "").decode(t, &jobs)
	require.Len(t, jobs, 1)

	got, err := c.Guest(context.Background(), g.ID)
	require.NoError(t, err)
	require.Equal(t, "52:54:00:12:34:56", got.Nics[0].MAC)
	require.Equal(t, rpcImageID, got.Disks[1].Image)
	require.Equal(t, map[string]string{"owner": "e2e"}, got.Metadata)

	var md map[string]string
	a.want(http.StatusOK, http.MethodPatch, "/guests/"+g.ID+"/metadata", `{"owner":null,"role":"db"}`).decode(t, &md)
	require.Equal(t, map[string]string{"role": "db"}, md)
	md, err = c.GuestMetadata(context.Background(), g.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"role": "db"}, md)
	return got
}

// e2eMetrics reads the three metrics through the client and raw HTTP.
func e2eMetrics(t *testing.T, a *api, c *rest.Client, id string) {
	t.Helper()
	for action, want := range map[string]string{
		hvagent.ActionCPUMetrics: "cpu", hvagent.ActionDiskMetrics: "vda", hvagent.ActionNicMetrics: "net0",
	} {
		res, err := c.Do(context.Background(), action, id, hvagent.Request{})
		require.NoError(t, err)
		require.Nil(t, res.Job)
		require.True(t, json.Valid(res.Body), "%s", res.Body)
		require.Contains(t, string(res.Body), want)
	}
	for kind, want := range map[string]string{"cpu": "cpu", "disk": "vda", "nic": "net0"} {
		r := a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/metrics/"+kind, "")
		require.Empty(t, r.header.Get("X-Guest-Job-ID"), "info replies carry no job")
		require.Contains(t, string(r.body), want)
	}
}

// e2eSnapshots runs every snapshot route on the guest (disk "") or one of
// its disks ("/disks/<n>").
func e2eSnapshots(t *testing.T, a *api, c *rest.Client, id, disk string) {
	t.Helper()
	base := "/guests/" + id + disk + "/snapshots"
	entity := "guests/" + id + strings.Replace(disk, "/disks/", "/disk-", 1)
	var snaps []*hvagent.Snapshot
	a.want(http.StatusOK, http.MethodGet, base, "").decode(t, &snaps)
	require.Len(t, snaps, 1)
	require.Equal(t, "mistify/"+entity+"@bar", snaps[0].ID)

	job := a.job(http.MethodPost, base, `{"dest":"s1"}`)
	require.Equal(t, "createSnapshot", job.Action)
	require.Contains(t, string(job.Result), "mistify/"+entity+"@s1")

	var snap hvagent.Snapshot
	a.want(http.StatusOK, http.MethodGet, base+"/s1", "").decode(t, &snap)
	require.Equal(t, "mistify/"+entity+"@s1", snap.ID)

	a.job(http.MethodPost, base+"/s1/rollback", `{"destroyMoreRecent":true}`)
	r := a.want(http.StatusOK, http.MethodGet, base+"/s1/download", "")
	require.Equal(t, "foobar", string(r.body))
	require.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))

	// The same through the client, then delete.
	req := hvagent.Request{Snapshot: "s1"}
	if disk != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(disk, "/disks/"))
		require.NoError(t, err)
		req.Disk = &n
	}
	res, err := c.Do(context.Background(), hvagent.ActionDownloadSnapshot, id, req)
	require.NoError(t, err)
	b, err := io.ReadAll(res.Stream)
	require.NoError(t, err)
	require.NoError(t, res.Stream.Close())
	require.Equal(t, "foobar", string(b))
	res, err = c.Do(context.Background(), hvagent.ActionGetSnapshot, id, req)
	require.NoError(t, err)
	require.Contains(t, string(res.Body), "mistify/"+entity+"@s1")
	a.job(http.MethodDelete, base+"/s1", "")
}

// e2eImages runs every image route, and the container image aliases.
func e2eImages(t *testing.T, a *api, c *rest.Client) {
	t.Helper()
	var images []*hvagent.Image
	// Without a type, the disk and the container images are listed.
	a.want(http.StatusOK, http.MethodGet, "/images", "").decode(t, &images)
	require.Len(t, images, 2)
	a.want(http.StatusOK, http.MethodGet, "/container_images", "").decode(t, &images)
	require.Len(t, images, 1)
	require.Equal(t, rpcImageID, images[0].ID)
	var img hvagent.Image
	a.want(http.StatusOK, http.MethodGet, "/images/"+rpcImageID, "").decode(t, &img)
	require.Equal(t, rpcImageID, img.ID)
	a.want(http.StatusOK, http.MethodGet, "/container_images/"+rpcImageID, "").decode(t, &img)
	require.Equal(t, rpcImageID, img.ID)

	job := a.job(http.MethodPost, "/images", `{"id":"`+rpcImageID+`","source":"https://images.example/debian.qcow2"}`)
	require.Equal(t, "fetchImage", job.Action)
	res, err := c.Do(context.Background(), hvagent.ActionDeleteImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: rpcImageID}})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
	job = a.job(http.MethodDelete, "/container_images/"+rpcImageID, "")
	require.Equal(t, "deleteImage", job.Action) // the type is in the request
}

// e2eGuestActions runs every guest action through the client and raw HTTP.
func e2eGuestActions(t *testing.T, a *api, c *rest.Client, id string) {
	t.Helper()
	ctx := context.Background()
	actions := []string{"start", "suspend", "resume", "reboot", "restart", "shutdown", "start", "poweroff"}
	for _, action := range actions {
		res, err := c.Do(ctx, action, id, hvagent.Request{})
		require.NoError(t, err, action)
		require.Equal(t, id, res.Guest.ID)
		job := waitJob(t, c, res.Job.ID)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s: %s", action, job.Message)
		require.Equal(t, action, job.Action)
	}
	for _, action := range actions {
		r := a.want(http.StatusOK, http.MethodPost, "/guests/"+id+"/"+action+"?wait=30s", "")
		var job hvagent.Job
		r.decode(t, &job)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s: %s", action, job.Message)
		require.Equal(t, job.ID, r.header.Get("X-Guest-Job-ID"))
	}
	r := a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/console", "")
	require.Equal(t, "foobar", string(r.body))
}
