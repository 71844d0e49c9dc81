package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
	"github.com/hvagent/hvagent/internal/testguest"
)

// process is one hvctl run in this process, with the real factory.
type process struct {
	out, errOut bytes.Buffer
	code        int
}

// hvctl runs hvctl with args and a clean environment.
func hvctl(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{}
	ios := &IOStreams{In: strings.NewReader(""), Out: &p.out, ErrOut: &p.errOut}
	p.code = runContext(t.Context(), args, ios, func(string) string { return "" })
	return p
}

// TestLocal_EmbeddedDefault runs hvctl --local three times on the real
// drivers of the embedded default: the guest's QEMU outlives each run.
func TestLocal_EmbeddedDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testguest.KillQEMUs(t, dir)
	p := hvctl(t, "--local", "--data-dir", dir, "guest", "create", "--memory", "256", "--disk", "size=1024", "-o", "json")
	require.Equal(t, exitOK, p.code, p.errOut.String())
	require.Contains(t, p.errOut.String(), "using the embedded default ("+host.DefaultDescription+")")
	var job hvagent.Job
	require.NoError(t, json.Unmarshal(p.out.Bytes(), &job))
	require.Equal(t, hvagent.JobComplete, job.Status, "--local always waits")

	p = hvctl(t, "--local", "--data-dir", dir, "guest", "start", job.GuestID)
	require.Equal(t, exitOK, p.code, p.errOut.String())
	p = hvctl(t, "--local", "--data-dir", dir, "guest", "list", "-o", "json")
	require.Equal(t, exitOK, p.code, p.errOut.String())
	var guests []hvagent.Guest
	require.NoError(t, json.Unmarshal(p.out.Bytes(), &guests))
	require.Len(t, guests, 1)
	require.Equal(t, job.GuestID, guests[0].ID)
	require.Equal(t, hvagent.StateRunning, guests[0].State, "the store keeps what earlier runs did")
	require.Len(t, testguest.QEMUs(dir), 1, "the guest's QEMU runs on after hvctl exits")

	p = hvctl(t, "--local", "--data-dir", dir, "guest", "delete", job.GuestID)
	require.Equal(t, exitOK, p.code, p.errOut.String())
	require.Empty(t, testguest.QEMUs(dir))
}

func TestLocal_DaemonConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sim.json"))
	require.NoError(t, err)
	// hvagentd writes its own settings into the file too.
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	cfg["listen"], cfg["log_level"], cfg["shutdown_timeout"], cfg["socket"] = "off", "warning", "1m0s", filepath.Join(dir, "hvagent.sock")
	data, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600))
	p := hvctl(t, "--local", "--data-dir", dir, "job", "list")
	require.Equal(t, exitOK, p.code, p.errOut.String())
	require.Empty(t, p.errOut.String(), "no notice when the daemon's config is there")
	require.FileExists(t, filepath.Join(dir, "hvagent.db"))
}

func TestLocal_FailedJobReportedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sim.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600))
	p := hvctl(t, "--local", "--data-dir", dir, "guest", "create", "--memory", "128", "-q")
	require.Equal(t, exitOK, p.code, p.errOut.String())
	guest := strings.TrimSpace(p.out.String())
	require.NotEmpty(t, guest)

	p = hvctl(t, "--local", "--data-dir", dir, "guest", "resume", guest)
	require.NotEqual(t, exitOK, p.code)
	require.Contains(t, p.errOut.String(), "is not paused")
	require.NotContains(t, p.errOut.String(), hvagent.LogJobFailed, "hvctl reports the failure; the agent's log line is dropped")
}

func TestLocal_ErrBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"servicez":{}}`), 0o600))
	p := hvctl(t, "--local", "--data-dir", dir, "guest", "list")
	require.Equal(t, exitUsage, p.code)
	require.Contains(t, p.errOut.String(), "hvctl: --local: ")
	require.Contains(t, p.errOut.String(), "servicez")
}

func TestLocal_ErrDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "hvagent.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	p := hvctl(t, "--local", "--data-dir", dir, "guest", "list")
	require.Equal(t, exitConflict, p.code)
	require.Regexp(t, `^hvctl: --local refused: database \S+ is in use by another hvagent \(pid \d+\); run without --local to go through hvagentd\n$`, p.errOut.String())
	require.Empty(t, p.out.String())
}

func TestRemote_Client(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	srv := httptest.NewServer(rest.NewHandler(env.Agent, rest.HandlerOptions{}))
	t.Cleanup(srv.Close)

	p := hvctl(t, "--addr", srv.URL, "guest", "create", "--memory", "256", "--disk", "size=1024", "--wait", "-q")
	require.Equal(t, exitOK, p.code, p.errOut.String())
	id := strings.TrimSpace(p.out.String())
	g, err := env.Agent.Guest(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, hvagent.StateShutoff, g.State)

	p = hvctl(t, "--addr", srv.URL, "guest", "show", "11111111-2222-4333-8444-555555555555")
	require.Equal(t, exitNotFound, p.code)
	require.Equal(t, 1, strings.Count(p.errOut.String(), "\n"), p.errOut.String())
}

func TestRemote_ErrUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := hvctl(t, "--data-dir", dir, "guest", "list")
	require.Equal(t, exitUnavailable, p.code)
	require.Equal(t, "hvctl: cannot reach hvagentd at unix://"+filepath.Join(dir, "hvagent.sock")+
		": no such file or directory (address: the socket in the data dir from --data-dir, as neither --addr nor $HVAGENT_ADDR is set;"+
		" is hvagentd running? see --addr, or use --local)\n", p.errOut.String())
}
