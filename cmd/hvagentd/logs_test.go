package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// withUnit matches a duration logged as text with its unit.
var withUnit = regexp.MustCompile(`^\d+(\.\d+)?(ns|µs|ms|s)$|^\d+m\d+(\.\d+)?s$`)

// requireLogged returns the first log entry whose fields include want,
// failing the test when there is none.
func requireLogged(t *testing.T, logs *logBuffer, want map[string]any) map[string]any {
	t.Helper()
	entry, ok := logs.find(func(e map[string]any) bool {
		for k, v := range want {
			if e[k] != v {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "no log entry with %v in:\n%s", want, logs.String())
	return entry
}

func TestDaemon_LogsAtDefaultLevel(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	c := newClient(t, d.TCPAddr())
	ctx := context.Background()
	res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128, CPU: 1}})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, waitJob(t, c, res.Job.ID).Status)
	_, err = c.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)

	// A mutation: who, what, the job it queued, how long it took.
	req := requireLogged(t, d.logs, map[string]any{"message": "request", "method": "POST", "path": "/guests"})
	require.Equal(t, "info", req["level"])
	require.Equal(t, float64(202), req["status"])
	require.Equal(t, "local", req["caller"])
	require.Equal(t, "tcp", req["listener"])
	require.Equal(t, res.Job.ID, req["job_id"])
	require.Regexp(t, withUnit, req["took"])
	// Reads are debug: not logged at the default level.
	_, ok := d.logs.find(func(e map[string]any) bool { return e["message"] == "request" && e["method"] == "GET" })
	require.False(t, ok, "a read logged at info")

	// A failed job: warn, with its message, code and stage.
	res, err = c.Do(ctx, hvagent.ActionResume, res.Guest.ID, hvagent.Request{})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobError, waitJob(t, c, res.Job.ID).Status)
	failed := requireLogged(t, d.logs, map[string]any{"message": "job failed", "job_id": res.Job.ID})
	require.Equal(t, "warn", failed["level"])
	require.Equal(t, hvagent.ActionResume, failed["action"])
	require.Equal(t, res.Job.GuestID, failed["guest_id"])
	require.Equal(t, hvagent.ECONFLICT, failed["code"])
	require.Contains(t, failed["error"], "is not paused (state shutoff)")
	require.Equal(t, "1/1 Sim.Resume", failed["stage"])
	require.Equal(t, "sim", failed["service"])
	require.Regexp(t, withUnit, failed["took"])
	// A job that succeeded is debug.
	_, ok = d.logs.find(func(e map[string]any) bool { return e["message"] == "job complete" })
	require.False(t, ok, "a successful job logged at info")
}

func TestDaemon_LogsShutdownWaitingForJobs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, timeout, waiting, ended, level string
	}{
		{"Finished", "30s", `^stopping: waiting for 1 running job, up to (30|29)s$`, "stopping: running jobs finished", "info"},
		{"Deadline", "100ms", `^stopping: waiting for 1 running job, up to \d+ms$`,
			"stopping: deadline reached; running jobs abandoned, the next start recovers them by their on_interrupt policy", "warn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, stopSim := startRun(t, "subagent", "sim", "--listen", "127.0.0.1:0", "--latency", "1s")
			t.Cleanup(func() { stopSim() })
			d := startDaemon(t, "--config", simURLConfig(t, tempDir(t), addr), "--shutdown-timeout", tt.timeout)
			c := newClient(t, d.TCPAddr())
			ctx := context.Background()
			res, err := c.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128, CPU: 1}})
			require.NoError(t, err)
			// Running in the store is not enough: the agent counts the jobs
			// whose stage it runs, which begins a moment after the claim.
			require.Eventually(t, func() bool {
				s := d.Agent.RunningStages()
				return len(s) == 1 && s[0].JobID == res.Job.ID
			}, 10*time.Second, 5*time.Millisecond)
			c.CloseIdleConnections()

			require.NoError(t, d.Close())
			waiting, ok := d.logs.find(func(e map[string]any) bool {
				msg, _ := e["message"].(string)
				return regexp.MustCompile(tt.waiting).MatchString(msg)
			})
			require.True(t, ok, "no %q in:\n%s", tt.waiting, d.logs.String())
			require.Equal(t, "info", waiting["level"])
			require.Equal(t, float64(1), waiting["jobs"])
			ended := requireLogged(t, d.logs, map[string]any{"message": tt.ended})
			require.Equal(t, tt.level, ended["level"])
			require.Regexp(t, withUnit, ended["took"])
			stopped := requireLogged(t, d.logs, map[string]any{"message": "hvagentd stopped"})
			require.Regexp(t, withUnit, stopped["took"])
		})
	}
}

func TestNewLogger_ConsoleColour(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger, err := newLogger(&buf, "info", "console")
	require.NoError(t, err)
	logger.Warn().Str("took", "1.5s").Msg("hello")
	require.Contains(t, buf.String(), "hello")
	require.Contains(t, buf.String(), "took=1.5s")
	require.NotContains(t, buf.String(), "\x1b[", "no colour codes off a terminal")

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f), "a file")
	logger, err = newLogger(f, "info", "console")
	require.NoError(t, err)
	logger.Info().Msg("to a file")
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Contains(t, string(b), "to a file")
	require.NotContains(t, string(b), "\x1b[")

	_, err = newLogger(&buf, "loud", "json")
	require.ErrorContains(t, err, `log_level "loud"`)
}
