package storage_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/store"
	"github.com/hvagent/hvagent/internal/layout"
)

// newAgent returns a started agent whose guests are simulated (sim) and
// whose disks, images and snapshots are the storage driver's.
func newAgent(t *testing.T, b *testBundle) *hvagent.Agent {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "hvagent.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	cfg := sim.Config()
	for name, s := range storage.Services() {
		cfg.Services[name] = s
	}
	for name, a := range storage.Actions() {
		cfg.Actions[name] = a
	}
	cfg.Actions[hvagent.ActionCreate] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
		storage.CreateStage(), cfg.Actions[hvagent.ActionCreate].Stages[0],
	}}
	cfg.Actions[hvagent.ActionDelete] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
		cfg.Actions[hvagent.ActionDelete].Stages[0], storage.DeleteStage(),
	}}
	cfg.DataDir, cfg.Store, cfg.AllowedPaths = b.dataDir, db, b.opts.AllowedPaths
	cfg.Builtins = map[string]http.Handler{"sim": sim.New(sim.Options{}).Handler(), "storage": b.driver.Handler()}
	agent, err := hvagent.New(cfg)
	require.NoError(t, err)
	require.NoError(t, agent.Start(context.Background()))
	t.Cleanup(func() {
		_ = agent.Stop(context.Background())
		_ = agent.Close()
	})
	return agent
}

// do runs an async action and waits for its job.
func do(t *testing.T, a *hvagent.Agent, action, guest string, req hvagent.Request) *hvagent.Job {
	t.Helper()
	ctx := testCtx(t)
	res, err := a.Do(ctx, action, guest, req)
	require.NoError(t, err)
	job, err := a.WaitJob(ctx, res.Job.ID)
	require.NoError(t, err)
	return job
}

// TestAgent runs the storage driver's actions through an Agent, as the
// embedded default wires them.
func TestAgent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	img := makeImage(t, src, "base.qcow2")
	body, err := os.ReadFile(img)
	require.NoError(t, err)
	var mu sync.Mutex
	var progress []int64
	b := setup(t, func(o *storage.Options) {
		o.AllowedPaths = []string{src}
		o.OnProgress = func(job string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if job != "" {
				progress = append(progress, done)
			}
		}
	})
	a := newAgent(t, b)
	ctx := testCtx(t)

	job := do(t, a, hvagent.ActionFetchImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "base", Source: "file://" + img, SHA256: sum(body)}})
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	mu.Lock()
	require.NotEmpty(t, progress, "progress is reported under the job's ID")
	require.Equal(t, int64(len(body)), progress[len(progress)-1])
	mu.Unlock()

	res, err := a.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 64, Disks: []hvagent.Disk{{Image: "base"}, {Size: 16}}}})
	require.NoError(t, err)
	job, err = a.WaitJob(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	g, err := a.Guest(ctx, res.Guest.ID)
	require.NoError(t, err)
	require.FileExists(t, layout.DiskPath(b.dataDir, g.ID, 0)) // the simulation then names its own Source

	job = do(t, a, hvagent.ActionCreateSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.JSONEq(t, `{"id":"guests/`+g.ID+`@s1","size":32}`, string(job.Result))

	info, err := a.Do(ctx, hvagent.ActionListSnapshots, g.ID, hvagent.Request{})
	require.NoError(t, err)
	var snaps []hvagent.Snapshot
	require.NoError(t, json.Unmarshal(info.Body, &snaps))
	require.Len(t, snaps, 3)

	_, err = a.Do(ctx, hvagent.ActionGetSnapshot, g.ID, hvagent.Request{Snapshot: "nope"})
	require.Equal(t, hvagent.ENOTFOUND, hvagent.ErrorCode(err), "%v", err)

	disk := 1
	stream, err := a.Do(ctx, hvagent.ActionDownloadSnapshot, g.ID, hvagent.Request{Disk: &disk, Snapshot: "s1"})
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, stream.Stream)
	require.NoError(t, err)
	require.NoError(t, stream.Stream.Close())
	require.Equal(t, stream.Size, n)

	job = do(t, a, hvagent.ActionRollbackSnapshot, g.ID, hvagent.Request{Snapshot: "s1"})
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)

	job = do(t, a, hvagent.ActionDeleteImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: "base"}})
	require.Equal(t, hvagent.JobError, job.Status)
	require.Contains(t, job.Message, "image base is in use by guest disk guests/"+g.ID+"/disk-0")
	require.Equal(t, hvagent.ECONFLICT, job.Error)

	job = do(t, a, hvagent.ActionDelete, g.ID, hvagent.Request{})
	require.Equal(t, hvagent.JobComplete, job.Status, job.Message)
	require.NoDirExists(t, layout.GuestDir(b.dataDir, g.ID))
}
