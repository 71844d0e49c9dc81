package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// TestHandler_JobErrorCode checks that a failed job's JSON carries its
// error code word, and that it survives the REST client.
func TestHandler_JobErrorCode(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil) // shut off
	c := rest.NewClient(a.srv.URL)

	for _, tc := range []struct {
		method, path, want string
	}{
		{"POST", "/guests/" + g.ID + "/reboot?wait=30s", hvagent.ECONFLICT},
		{"DELETE", "/guests/" + g.ID + "/snapshots/nope?wait=30s", hvagent.ENOTFOUND},
		{"POST", "/guests/" + g.ID + "/start?wait=30s", ""},
	} {
		var raw map[string]json.RawMessage
		a.call(t, tc.method, tc.path, nil, http.StatusOK, &raw)
		var id string
		require.NoError(t, json.Unmarshal(raw["ID"], &id))
		if tc.want == "" {
			require.NotContains(t, raw, "Error", "a job that did not fail has no Error key")
		} else {
			require.JSONEq(t, `"`+tc.want+`"`, string(raw["Error"]), tc.path)
		}
		j, err := c.Job(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, tc.want, j.Error, tc.path)
	}
}

// TestHandler_InfoSubAgentCode checks that an info call whose sub-agent
// failure has a code answers with that code's status.
func TestHandler_InfoSubAgentCode(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{})
	g := a.env.Create(t, nil)
	var body struct{ Error string }
	a.call(t, "GET", "/guests/"+g.ID+"/snapshots/nope", nil, http.StatusNotFound, &body)
	require.Equal(t, hvagent.ENOTFOUND, body.Error)
	a.call(t, "GET", "/guests/"+g.ID+"/snapshots/nope/download", nil, http.StatusNotFound, &body)
	require.Equal(t, hvagent.ENOTFOUND, body.Error)
}
