package hvagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// codedSubAgent serves the simulation, except that the methods in codes
// fail with the error "refused" and the given X-Hvagent-Error-Code, as an
// external sub-agent written in any language would answer.
func codedSubAgent(t *testing.T, codes map[string]string) string {
	t.Helper()
	d := sim.New(sim.Options{})
	methodRe := regexp.MustCompile(`"method":"([^"]+)"`)
	idRe := regexp.MustCompile(`"id":(\d+)}$`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if m := methodRe.FindSubmatch(body); m != nil {
			if code, ok := codes[string(m[1])]; ok {
				w.Header().Set(subagent.HeaderErrorCode, code)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"result":null,"error":"refused","id":` + string(idRe.FindSubmatch(body)[1]) + "}\n"))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAgent_SubAgentErrorCodes(t *testing.T) {
	t.Parallel()
	url := codedSubAgent(t, map[string]string{
		"Sim.Reboot":      subagent.CodeInvalid,
		"Sim.Start":       "on_fire", // unknown: ignored
		"Sim.GetSnapshot": subagent.CodeConflict,
	})
	env := agenttest.New(t, agenttest.Opts{Config: remoteSimConfig(url)})
	g := env.Create(t, nil)
	ctx := context.Background()

	j := env.Wait(t, env.Do(t, hvagent.ActionReboot, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.EINVALID, j.Error)
	require.Contains(t, j.Message, "refused")

	j = env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobError, j.Status)
	require.Equal(t, hvagent.ESUBAGENT, j.Error, "an unknown code is no code")

	_, err := env.Agent.Do(ctx, hvagent.ActionGetSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err), "%v", err)
	require.Equal(t, "stage 1/1 Sim.GetSnapshot (sim): Sim.GetSnapshot: refused", hvagent.ErrorMessage(err), "the words of a subagent error")

	stored, err := env.Store.Job(ctx, j.ID)
	require.NoError(t, err)
	raw, err := json.Marshal(stored)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"Error":"subagent"`)
}
