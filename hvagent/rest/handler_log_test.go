package rest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testio"
)

// requestLogs returns the "request" lines of a JSON log.
func requestLogs(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range testio.JSONLines(t, log) {
		if e["message"] == "request" {
			out = append(out, e)
		}
	}
	return out
}

func TestHandler_RequestLog(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	g := env.Create(t, nil)
	for _, tt := range []struct {
		name  string
		level zerolog.Level
		want  []map[string]any // the fields of each line logged, in order
	}{
		{"Debug", zerolog.DebugLevel, []map[string]any{
			{"level": "info", "method": "POST", "status": float64(202), "caller": "writer", "job_id": true},
			{"level": "debug", "method": "GET", "status": float64(200), "caller": "reader", "query": "state=shutoff"},
			{"level": "warn", "method": "PATCH", "status": float64(403), "caller": "reader"},
			{"level": "warn", "method": "GET", "status": float64(401), "caller": nil},
			{"level": "warn", "method": "DELETE", "status": float64(401), "query": "token=REDACTED"},
		}},
		{"Info", zerolog.InfoLevel, []map[string]any{
			{"level": "info", "method": "POST", "status": float64(202), "caller": "writer", "job_id": true},
			{"level": "warn", "method": "PATCH", "status": float64(403), "caller": "reader"},
			{"level": "warn", "method": "GET", "status": float64(401), "caller": nil},
			{"level": "warn", "method": "DELETE", "status": float64(401), "query": "token=REDACTED"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &testio.Buffer{}
			h := rest.NewHandler(env.Agent, rest.HandlerOptions{Tokens: testTokens(), Logger: zerolog.New(log).Level(tt.level)})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			send := func(method, path, secret, body string) *http.Response {
				req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				require.NoError(t, err)
				if secret != "" {
					req.Header.Set("Authorization", "Bearer "+secret)
				}
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				return resp
			}
			jobID := send("POST", "/guests/"+g.ID+"/reboot", writeSecret, "").Header.Get("X-Guest-Job-ID")
			require.NotEmpty(t, jobID)
			send("GET", "/guests?state=shutoff", readSecret, "")
			send("PATCH", "/metadata", readSecret, `{"a":"b"}`)
			send("GET", "/guests", "", "")
			send("DELETE", "/jobs/"+jobID+"?token="+writeSecret, "", "")

			require.NotContains(t, log.String(), writeSecret, "a secret in the query is not logged")
			got := requestLogs(t, log.String())
			require.Len(t, got, len(tt.want), log.String())
			for i, want := range tt.want {
				for k, v := range want {
					if k == "job_id" {
						v = jobID
					}
					require.Equal(t, v, got[i][k], "line %d key %s: %v", i, k, got[i])
				}
				require.Regexp(t, `^\d+(\.\d+)?(µs|ms|s)$`, got[i]["took"])
				require.NotEmpty(t, got[i]["remote"])
			}
		})
	}
}
