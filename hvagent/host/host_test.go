package host_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/host"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpen(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "new", "data")
		cfg := host.Default()
		cfg.DataDir = dir
		h, err := host.Open(t.Context(), host.Options{Config: cfg})
		require.NoError(t, err)
		require.NoError(t, h.Start(t.Context()))
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		require.Equal(t, filepath.Join(dir, "hvagent.db"), h.DB.Path())

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		res, err := h.Agent.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
		require.NoError(t, err)
		job, err := h.Agent.WaitJob(ctx, res.Job.ID)
		require.NoError(t, err)
		require.Equal(t, hvagent.JobComplete, job.Status, job.Message)

		_, err = host.Open(t.Context(), host.Options{Config: cfg})
		require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err), "a second opener of the data dir: %v", err)
		require.NoError(t, h.Close(ctx))

		again, err := host.Open(t.Context(), host.Options{Config: cfg})
		require.NoError(t, err, "the data dir is free after Close")
		require.NoError(t, again.Close(ctx))
	})
	t.Run("GivenBuiltin", func(t *testing.T) {
		t.Parallel()
		d := sim.New(sim.Options{})
		cfg := sim.Config()
		cfg.DataDir = t.TempDir()
		h, err := host.Open(t.Context(), host.Options{Config: cfg, Builtins: map[string]http.Handler{"sim": d.Handler()}})
		require.NoError(t, err)
		require.NoError(t, h.Start(t.Context()))
		defer func() { require.NoError(t, h.Close(t.Context())) }()
		res, err := h.Agent.Do(t.Context(), hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 128}})
		require.NoError(t, err)
		_, err = h.Agent.WaitJob(t.Context(), res.Job.ID)
		require.NoError(t, err)
		require.NotEmpty(t, d.Log(), "the given simulation ran the create")
	})
}

// TestOpen_QEMUAccel checks that qemu_accel reaches the built-in QEMU
// driver: with kvm the driver first runs a probe guest under KVM, and an
// agent whose probe fails does not open. A stand-in qemu-system-x86_64 that
// records its arguments and fails plays QEMU, so that the test does not
// depend on whether KVM works here.
func TestOpen_QEMUAccel(t *testing.T) {
	bin := t.TempDir()
	args := filepath.Join(bin, "args")
	script := "#!/bin/sh\necho \"$@\" >> " + args + "\necho 'no kvm here' >&2\nexit 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "qemu-system-x86_64"), []byte(script), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	cfg := host.Default()
	cfg.DataDir = t.TempDir()
	cfg.QEMUAccel = "kvm"
	_, err := host.Open(t.Context(), host.Options{Config: cfg})
	require.ErrorContains(t, err, "kvm is configured but unusable")
	ran, err := os.ReadFile(args)
	require.NoError(t, err)
	require.Contains(t, string(ran), "-accel kvm", "the probe ran under KVM")

	cfg.QEMUAccel = "" // tcg: no probe
	require.NoError(t, os.Remove(args))
	h, err := host.Open(t.Context(), host.Options{Config: cfg})
	require.NoError(t, err)
	require.NoError(t, h.Close(t.Context()))
	require.NoFileExists(t, args, "no QEMU ran for tcg")
}
