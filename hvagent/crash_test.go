package hvagent_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// Environment of the crash child: the data dir and the sim's URL.
const (
	crashDirEnv = "HVAGENT_TEST_CRASH_DIR"
	crashSimEnv = "HVAGENT_TEST_CRASH_SIM"
)

// crashPattern is the actions queued on each guest, in order: start and
// shutdown requeue on interrupt, reboot fails.
var crashPattern = []string{hvagent.ActionStart, hvagent.ActionReboot, hvagent.ActionShutdown, hvagent.ActionStart, hvagent.ActionReboot}

// remoteSimConfig wires every guest action to a sim served at url.
func remoteSimConfig(url string) *hvagent.Config {
	cfg := sim.Config()
	cfg.Services = map[string]hvagent.ServiceConfig{
		sim.ConfigService:         {URL: url},
		sim.ConfigDownloadService: {URL: url, Path: sim.DownloadPath},
		sim.ConfigConsoleService:  {URL: url, Path: sim.ConsolePath},
	}
	return cfg
}

// crashChild runs the child side of TestAgent_CrashLosesNoJob when the
// environment asks for it: it queues 200 jobs over 10 guests, prints their
// IDs and runs until it is killed. It reports whether it ran.
func crashChild() bool {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return false
	}
	if err := runCrashChild(dir, os.Getenv(crashSimEnv)); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	select {} // wait for SIGKILL
}

func runCrashChild(dir, url string) error {
	db, err := store.Open(filepath.Join(dir, "hvagent.db"), store.Options{})
	if err != nil {
		return err
	}
	cfg := remoteSimConfig(url)
	cfg.DataDir, cfg.Store = dir, db
	a, err := hvagent.New(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		return err
	}
	var guests []string
	for range 10 {
		res, err := a.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
		if err != nil {
			return err
		}
		if j, err := a.WaitJob(ctx, res.Job.ID); err != nil || j.Status != hvagent.JobComplete {
			return fmt.Errorf("create: %v %v", j, err)
		}
		guests = append(guests, res.Guest.ID)
	}
	for i := range 20 {
		for _, g := range guests {
			res, err := a.Do(ctx, crashPattern[i%len(crashPattern)], g, hvagent.Request{})
			if err != nil {
				return err
			}
			fmt.Println("job", res.Job.ID, res.Job.Action)
		}
	}
	fmt.Println("queued")
	return nil
}

func TestAgent_CrashLosesNoJob(t *testing.T) {
	t.Parallel()
	d := sim.New(sim.Options{Latency: 15 * time.Millisecond})
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSimEnv+"="+srv.URL)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	jobs := map[string]string{} // ID → action
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "queued" {
		f := strings.Fields(sc.Text())
		require.Equal(t, "job", f[0], sc.Text())
		jobs[f[1]] = f[2]
	}
	require.Len(t, jobs, 200)
	require.Eventually(t, func() bool { return len(d.Log()) >= 10+60 }, 30*time.Second, 2*time.Millisecond)
	require.NoError(t, cmd.Process.Kill()) // SIGKILL, mid-run
	_ = cmd.Wait()

	env := agenttest.New(t, agenttest.Opts{Dir: dir, Config: remoteSimConfig(srv.URL)})
	interrupted := 0
	for id, action := range jobs {
		j := env.Wait(t, id)
		if hvagent.DefaultOnInterrupt(action) == hvagent.Requeue {
			require.Equal(t, hvagent.JobComplete, j.Status, "%s %s: %s", action, id, j.Message)
		} else if j.Status != hvagent.JobComplete {
			require.Equal(t, hvagent.JobError, j.Status)
			require.Equal(t, "interrupted by agent restart", j.Message)
		}
		if j.Attempt > 1 || j.Status == hvagent.JobError {
			interrupted++
		}
	}
	t.Logf("%d of %d jobs were interrupted by the kill", interrupted, len(jobs))
	calls := map[string]int{}
	for _, c := range d.Log() {
		calls[c.JobID+" "+c.Method]++
	}
	for id, action := range jobs {
		if hvagent.DefaultOnInterrupt(action) == hvagent.Fail {
			require.LessOrEqual(t, calls[id+" Sim.Reboot"], 1, "fail-policy job %s ran its stage twice", id)
		}
	}
	left, err := env.Agent.Jobs(context.Background(), hvagent.JobFilter{Status: hvagent.JobRunning})
	require.NoError(t, err)
	require.Empty(t, left)
}
