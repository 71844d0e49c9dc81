package rest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// TestHandler_GuestNames drives the guest routes by name, as curl users do.
func TestHandler_GuestNames(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	var g hvagent.Guest
	body := `{"name":"web1","memory":256,"cpu":1,"disks":[{"size":1024}]}`
	resp := a.call(t, "POST", "/guests", body, http.StatusAccepted, &g)
	require.Equal(t, "web1", g.Name)
	create := a.waitJob(t, requireJobHeaders(t, resp))
	require.Equal(t, hvagent.JobComplete, create.Status, create.Message)
	require.Equal(t, "web1", create.GuestName)

	var got hvagent.Guest
	a.call(t, "GET", "/guests/web1", nil, http.StatusOK, &got)
	require.Equal(t, g.ID, got.ID)
	var job hvagent.Job
	a.call(t, "POST", "/guests/web1/start?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.Equal(t, g.ID, job.GuestID)
	var jobs []*hvagent.Job
	a.call(t, "GET", "/guests/web1/jobs", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 2)
	a.call(t, "GET", "/guests/web1/jobs/"+job.ID, nil, http.StatusOK, &job)
	md := map[string]string{}
	a.call(t, "PATCH", "/guests/web1/metadata", `{"k":"v"}`, http.StatusOK, &md)
	require.Equal(t, map[string]string{"k": "v"}, md)
	var snaps []hvagent.Snapshot
	a.call(t, "GET", "/guests/web1/snapshots", nil, http.StatusOK, &snaps)

	other := a.env.Create(t, &hvagent.Guest{Name: "other", Memory: 64, Disks: []hvagent.Disk{{Size: 8}}})
	var e struct{ Message, Error string }
	a.call(t, "PATCH", "/guests/web1", `{"name":"other"}`, http.StatusConflict, &e)
	require.Equal(t, "conflict", e.Error)
	require.Contains(t, e.Message, other.ID, "the conflict names the other guest")
	a.call(t, "POST", "/guests", `{"name":"other"}`, http.StatusConflict, &e)

	a.call(t, "PATCH", "/guests/web1", `{"name":"db1"}`, http.StatusOK, &got)
	require.Equal(t, "db1", got.Name)
	a.call(t, "GET", "/guests/web1", nil, http.StatusNotFound, &e)
	require.Equal(t, "not_found", e.Error)
	a.call(t, "GET", "/guests/web1/jobs/"+job.ID, nil, http.StatusNotFound, &e)
	var list []*hvagent.Guest
	a.call(t, "GET", "/guests?name=db1", nil, http.StatusOK, &list)
	require.Len(t, list, 1)
	require.Equal(t, g.ID, list[0].ID)
	a.call(t, "GET", "/guests?name=web1", nil, http.StatusOK, &list)
	require.Empty(t, list)
	a.call(t, "GET", "/jobs?guest=db1", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		require.Equal(t, "db1", j.GuestName)
	}

	a.call(t, "DELETE", "/guests/db1?wait=30s", nil, http.StatusOK, &job)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	a.call(t, "GET", "/guests/db1/jobs", nil, http.StatusNotFound, &e)
	a.call(t, "GET", "/jobs?guest=db1", nil, http.StatusOK, &jobs)
	require.Len(t, jobs, 3, "a deleted guest's history by its last name")
}
