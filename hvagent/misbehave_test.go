package hvagent_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// badReply answers every call of a test sub-agent in one broken way.
func badReply(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Params []subagent.GuestRequest `json:"params"`
			ID     uint64                  `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&env)
		reply := func(result any) {
			_ = json.NewEncoder(w).Encode(map[string]any{"result": result, "error": nil, "id": env.ID})
		}
		switch kind {
		case "hang":
			<-r.Context().Done()
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
		case "garbage":
			_, _ = io.WriteString(w, "{this is not json")
		case "null":
			reply(map[string]any{"guest": nil})
		case "other":
			g := *env.Params[0].Guest
			g.ID = "11111111-1111-1111-1111-111111111111"
			reply(map[string]any{"guest": g})
		case "panic":
			panic("sub-agent bug")
		}
	}
}

func TestAgent_MisbehavingSubAgent(t *testing.T) {
	t.Parallel()
	for kind, want := range map[string]string{
		"hang":    "timed out in stage 1/1 Bad.Reboot (bad)",
		"500":     "stage 1/1 Bad.Reboot (bad): Bad.Reboot: sub-agent answered HTTP 500 with an empty body",
		"garbage": "stage 1/1 Bad.Reboot (bad): Bad.Reboot: invalid reply",
		"null":    `stage 1/1 Bad.Reboot (bad): sub-agent returned no guest ("guest": null)`,
		"other":   `stage 1/1 Bad.Reboot (bad): sub-agent returned guest "11111111-1111-1111-1111-111111111111" instead of`,
		"panic":   "stage 1/1 Bad.Reboot (bad): Bad.Reboot: call failed",
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(badReply(kind))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the panic case would print a stack
			srv.Start()
			t.Cleanup(srv.Close)
			cfg := sim.Config()
			cfg.Services["bad"] = hvagent.ServiceConfig{URL: srv.URL, Timeout: hvagent.Duration{Duration: 300 * time.Millisecond}}
			cfg.Actions[hvagent.ActionReboot] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{{Service: "bad", Method: "Bad.Reboot"}}}
			env := agenttest.New(t, agenttest.Opts{Config: cfg})
			bad, good := env.Create(t, nil), env.Create(t, nil)
			job := env.Do(t, hvagent.ActionReboot, bad.ID, hvagent.Request{}).Job
			// The agent serves other guests on while one sub-agent misbehaves.
			start := env.Do(t, hvagent.ActionStart, good.ID, hvagent.Request{}).Job
			require.Equal(t, hvagent.JobComplete, env.Wait(t, start.ID).Status)
			j := env.Wait(t, job.ID)
			require.Equal(t, hvagent.JobError, j.Status)
			require.Contains(t, j.Message, want)
			g, err := env.Agent.Guest(context.Background(), bad.ID)
			require.NoError(t, err)
			require.Equal(t, bad.ID, g.ID)
		})
	}
}
