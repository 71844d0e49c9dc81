package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// requireJobHeaders checks an async reply's headers and returns the job ID.
func requireJobHeaders(t *testing.T, resp *http.Response) string {
	t.Helper()
	id := resp.Header.Get("X-Guest-Job-ID")
	_, err := hvagent.ParseGuestID(id)
	require.NoError(t, err, "X-Guest-Job-ID %q", id)
	require.Equal(t, "/jobs/"+id, resp.Header.Get("Location"))
	return id
}

// waitJob long-polls GET /jobs/{id}?wait= until the job is final.
func (a *api) waitJob(t *testing.T, id string) *hvagent.Job {
	t.Helper()
	var job hvagent.Job
	for range 10 {
		a.call(t, "GET", "/jobs/"+id+"?wait=5s", nil, http.StatusOK, &job)
		if job.Status.Final() {
			return &job
		}
	}
	t.Fatalf("job %s did not end: %+v", id, job)
	return nil
}

func TestHandler_GuestLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	var list []*hvagent.Guest
	resp := a.call(t, "GET", "/guests", nil, http.StatusOK, &list)
	require.NotNil(t, list, "lists are [], never null")
	require.Empty(t, resp.Header.Get("X-Guest-Job-ID"))

	var g hvagent.Guest
	body := hvagent.Guest{Memory: 256, CPU: 1, Disks: []hvagent.Disk{{Size: 1024}}, Metadata: map[string]string{"role": "web"}}
	resp = a.call(t, "POST", "/guests", body, http.StatusAccepted, &g)
	createJob := requireJobHeaders(t, resp)
	require.Equal(t, hvagent.StateCreate, g.State)
	job := a.waitJob(t, createJob)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, "local", job.RequestedBy)

	a.call(t, "GET", "/guests/"+g.ID, nil, http.StatusOK, &g)
	require.Equal(t, hvagent.StateShutoff, g.State)
	a.call(t, "GET", "/guests?limit=1", nil, http.StatusOK, &list)
	require.Len(t, list, 1)
	a.call(t, "GET", "/guests?after="+g.ID, nil, http.StatusOK, &list)
	require.Empty(t, list)

	// ?wait= answers 200 with the final job and the same headers.
	resp = a.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, job.ID, requireJobHeaders(t, resp))
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, hvagent.ActionStart, job.Action)

	// Without wait: 202 with the guest as it was before the action.
	var before hvagent.Guest
	resp = a.call(t, "POST", "/guests/"+g.ID+"/reboot", `{}`, http.StatusAccepted, &before)
	rebootJob := requireJobHeaders(t, resp)
	require.Equal(t, hvagent.StateRunning, before.State)
	require.Equal(t, hvagent.JobComplete, a.waitJob(t, rebootJob).Status)
	for _, action := range []string{"suspend", "resume", "restart", "shutdown", "start", "poweroff"} {
		resp = a.call(t, "POST", "/guests/"+g.ID+"/"+action+"?wait=30s", nil, http.StatusOK, &job)
		require.Equal(t, hvagent.JobComplete, job.Status, "%s: %s", action, job.Message)
		require.Equal(t, job.ID, requireJobHeaders(t, resp))
	}

	checkGuestJobs(t, a, g.ID, rebootJob)

	// DELETE /guests/{id}: the guest is gone, its history stays.
	resp = a.call(t, "DELETE", "/guests/"+g.ID, nil, http.StatusAccepted, &before)
	require.Equal(t, g.ID, before.ID)
	require.Equal(t, hvagent.JobComplete, a.waitJob(t, requireJobHeaders(t, resp)).Status)
	a.call(t, "GET", "/guests/"+g.ID, nil, http.StatusNotFound, nil)
	a.call(t, "GET", "/guests/"+g.ID+"/jobs", nil, http.StatusNotFound, nil)
	var jobs []*hvagent.Job
	a.call(t, "GET", "/jobs?guest="+g.ID+"&limit=1000", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 10)
}

// checkGuestJobs checks GET /guests/{id}/jobs (that guest's only, filters
// and cursor) and /guests/{id}/jobs/{jobID} after TestHandler_GuestLifecycle's
// actions.
func checkGuestJobs(t *testing.T, a *api, id, rebootJob string) {
	t.Helper()
	var job hvagent.Job
	other := a.env.Create(t, nil)
	var jobs []*hvagent.Job
	a.call(t, "GET", "/guests/"+id+"/jobs", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 9) // create, start, reboot and six more actions
	for _, j := range jobs {
		require.Equal(t, id, j.GuestID)
	}
	a.call(t, "GET", "/guests/"+id+"/jobs?action=reboot&status=Complete", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 1)
	require.Equal(t, rebootJob, jobs[0].ID)
	a.call(t, "GET", "/guests/"+id+"/jobs?limit=2&before="+rebootJob, nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 2)
	require.Equal(t, hvagent.ActionStart, jobs[0].Action)
	a.call(t, "GET", "/guests/"+id+"/jobs/"+rebootJob, nil, http.StatusOK, &job)
	require.Equal(t, rebootJob, job.ID)
	a.call(t, "GET", "/jobs?guest="+other.ID, nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 1)
	a.call(t, "GET", "/jobs?status=Running", nil, http.StatusOK, &jobs)
	require.NotNil(t, jobs)
}

func TestHandler_DryRunAndIdempotency(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	a.env.FetchImage(t, hvagent.ContainerGuestType, "nginx")
	count := func() int {
		jobs, err := a.env.Agent.Jobs(context.Background(), hvagent.JobFilter{})
		require.NoError(t, err)
		return len(jobs)
	}
	n := count()
	var dry struct {
		Action string                `json:"action"`
		Stages []hvagent.StageConfig `json:"stages"`
	}
	resp := a.call(t, "POST", "/guests/"+g.ID+"/shutdown?dry_run=true", nil, http.StatusOK, &dry)
	require.Empty(t, resp.Header.Get("X-Guest-Job-ID"))
	require.Equal(t, hvagent.ActionShutdown, dry.Action)
	require.NotEmpty(t, dry.Stages)
	a.call(t, "POST", "/guests?dry_run=1", hvagent.Guest{Type: "container", Image: "nginx"}, http.StatusOK, &dry)
	require.Equal(t, "containerCreate", dry.Action)
	a.call(t, "POST", "/container_images?dry_run=true", map[string]string{"id": "nginx"}, http.StatusOK, &dry)
	require.Equal(t, "containerFetchImage", dry.Action)
	require.Equal(t, n, count(), "a dry run queued a job")

	// The same key on the same route returns the same job.
	key := []string{"Idempotency-Key", "k1"}
	var first, again hvagent.Guest
	r1 := a.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, &first, key...)
	r2 := a.call(t, "POST", "/guests/"+g.ID+"/start", nil, http.StatusAccepted, &again, key...)
	require.Equal(t, requireJobHeaders(t, r1), requireJobHeaders(t, r2))
	// A key is scoped to its route: the same key elsewhere is a new job.
	r3 := a.call(t, "POST", "/guests/"+g.ID+"/snapshots", map[string]string{"dest": "s1"}, http.StatusAccepted, nil, key...)
	require.NotEqual(t, requireJobHeaders(t, r1), requireJobHeaders(t, r3))
	r4 := a.call(t, "POST", "/guests/"+g.ID+"/snapshots", map[string]string{"dest": "s1"}, http.StatusAccepted, nil, key...)
	require.Equal(t, requireJobHeaders(t, r3), requireJobHeaders(t, r4))
	// The same key with a different body is a conflict.
	a.call(t, "POST", "/guests/"+g.ID+"/snapshots", map[string]string{"dest": "s2"}, http.StatusConflict, nil, key...)
	var created hvagent.Guest
	body := hvagent.Guest{Memory: 128, Disks: []hvagent.Disk{{Size: 1}}}
	c1 := a.call(t, "POST", "/guests", body, http.StatusAccepted, &created, "Idempotency-Key", "c")
	c2 := a.call(t, "POST", "/guests", body, http.StatusAccepted, &again, "Idempotency-Key", "c")
	require.Equal(t, requireJobHeaders(t, c1), requireJobHeaders(t, c2))
	require.Equal(t, created.ID, again.ID)
	body.Memory = 256
	a.call(t, "POST", "/guests", body, http.StatusConflict, nil, "Idempotency-Key", "c")
}

func TestHandler_MetadataMetricsConsole(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	var md map[string]string
	a.call(t, "GET", "/metadata", nil, http.StatusOK, &md)
	require.Empty(t, md)
	a.call(t, "PATCH", "/metadata", `{"rack":"r1","row":"a"}`, http.StatusOK, &md)
	require.Equal(t, map[string]string{"rack": "r1", "row": "a"}, md)
	a.call(t, "PATCH", "/metadata", `{"row":null,"dc":"x"}`, http.StatusOK, &md)
	require.Equal(t, map[string]string{"rack": "r1", "dc": "x"}, md)
	a.call(t, "GET", "/metadata", nil, http.StatusOK, &md)
	require.Equal(t, map[string]string{"rack": "r1", "dc": "x"}, md)

	a.call(t, "GET", "/guests/"+g.ID+"/metadata", nil, http.StatusOK, &md)
	require.Empty(t, md)
	a.call(t, "PATCH", "/guests/"+g.ID+"/metadata", `{"owner":"ops","tier":"1"}`, http.StatusOK, &md)
	a.call(t, "PATCH", "/guests/"+g.ID+"/metadata", `{"tier":""}`, http.StatusOK, &md)
	require.Equal(t, map[string]string{"owner": "ops"}, md)

	a.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, nil)
	var cpu []hvagent.GuestCPUMetrics
	resp := a.call(t, "GET", "/guests/"+g.ID+"/metrics/cpu", nil, http.StatusOK, &cpu)
	require.NotEmpty(t, cpu)
	require.Empty(t, resp.Header.Get("X-Guest-Job-ID"), "info replies carry no job header")
	var disk map[string]hvagent.GuestDiskMetrics
	a.call(t, "GET", "/guests/"+g.ID+"/metrics/disk", nil, http.StatusOK, &disk)
	require.NotEmpty(t, disk)
	var nic map[string]hvagent.GuestNicMetrics
	a.call(t, "GET", "/guests/"+g.ID+"/metrics/nic", nil, http.StatusOK, &nic)
	require.NotNil(t, nic)

	resp = a.do(t, "GET", "/guests/"+g.ID+"/console", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Header.Get("X-Guest-Job-ID"))
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(data), g.ID)
}

func TestHandler_QueueCancelBusy(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()
	cfg.MaxQueued = 2
	a := newAPI(t, rest.HandlerOptions{}, agenttest.Opts{Config: cfg})
	g := a.env.Create(t, nil)
	a.call(t, "POST", "/guests/"+g.ID+"/start?wait=30s", nil, http.StatusOK, nil)
	var h hvagent.Health
	a.call(t, "POST", "/queue/pause?action=reboot", nil, http.StatusOK, &h)
	require.Equal(t, []string{"reboot"}, h.Paused)
	a.call(t, "GET", "/healthz", nil, http.StatusOK, &h)
	require.Equal(t, "ok", h.Status)
	require.Equal(t, []string{"reboot"}, h.Paused)

	r1 := a.call(t, "POST", "/guests/"+g.ID+"/reboot", nil, http.StatusAccepted, nil)
	a.call(t, "POST", "/guests/"+g.ID+"/reboot", nil, http.StatusAccepted, nil)
	resp := a.call(t, "POST", "/guests/"+g.ID+"/reboot", nil, http.StatusTooManyRequests, nil)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	var job hvagent.Job
	a.call(t, "GET", "/jobs/"+requireJobHeaders(t, r1)+"?wait=50ms", nil, http.StatusOK, &job)
	require.Equal(t, hvagent.JobQueued, job.Status, "a wait that ends first still answers 200")
	a.call(t, "DELETE", "/jobs/"+job.ID, nil, http.StatusOK, &job)
	require.Equal(t, hvagent.JobCanceled, job.Status)
	var jobs []*hvagent.Job
	a.call(t, "GET", "/jobs?status=Canceled", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 1)

	a.call(t, "POST", "/queue/resume", `{}`, http.StatusOK, &h)
	require.Empty(t, h.Paused)
	a.call(t, "GET", "/jobs?action=reboot&limit=1", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 1)
	for _, j := range jobs {
		require.Equal(t, hvagent.JobComplete, a.waitJob(t, j.ID).Status)
	}
}

// TestHandler_OriginalClient posts a guest exactly as mistify-agent's Go
// client does (JSON body, no Content-Type header) and expects the
// original's 202 and the guest; the same request from a browser (with an
// Origin) and a form post are still refused.
func TestHandler_OriginalClient(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{Hosts: []string{selfHost}})
	body := `{"memory":512,"cpu":1,"disks":[{"size":1024}]}`
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/guests", strings.NewReader(body))
	require.NoError(t, err)
	require.Empty(t, req.Header.Values("Content-Type"))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", raw)
	var g hvagent.Guest
	require.NoError(t, json.Unmarshal(raw, &g))
	require.NotEmpty(t, g.ID)
	require.Equal(t, uint(512), g.Memory)
	require.NotEmpty(t, resp.Header.Get("X-Guest-Job-ID"))

	got, err := a.env.Agent.Guest(t.Context(), g.ID)
	require.NoError(t, err)
	require.Equal(t, g.ID, got.ID)

	noType := func(origin, ct string) int {
		req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/guests", strings.NewReader(body))
		require.NoError(t, err)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := a.srv.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusBadRequest, noType(a.srv.URL, ""), "no Content-Type with an (accepted) Origin")
	require.Equal(t, http.StatusAccepted, noType(a.srv.URL, "application/json"))
	require.Equal(t, http.StatusBadRequest, noType("", "text/plain"))
	require.Equal(t, http.StatusBadRequest, noType("", "application/x-www-form-urlencoded"))
}
