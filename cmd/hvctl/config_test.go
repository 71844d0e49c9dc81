package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *ConfigValidateOptions
	require.NoError(t, parse(newCmdConfigValidate(b.f, capture(&got)), "agent.json"))
	require.Equal(t, "agent.json", got.File)
	requireUsage(t, parse(newCmdConfigValidate(b.f, capture(&got))), "needs FILE")
}

func TestConfigValidate_Run(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.f.Service = nil // needs no agent
		path := filepath.Join("..", "..", "testdata", "sim.json")
		require.Equal(t, exitOK, b.run(t.Context(), "config", "validate", path))
		require.Regexp(t, `^\.\./\.\./testdata/sim\.json: valid \(3 services, \d+ actions\)\n$`, b.out.String())
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{"x":{"port":70000}},"actions":{},"colour":1}`), 0o600))
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", path))
		line := b.errOut.String()
		require.Equal(t, 1, strings.Count(line, "\n"), line)
		require.Contains(t, line, "colour")
	})
	t.Run("ErrValidate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{},"actions":{"start":{"stages":[{"service":"nope","method":"A.B"}]}}}`), 0o600))
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", path))
		require.Contains(t, b.errOut.String(), "nope")
	})
	t.Run("ErrMissing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Equal(t, exitNotFound, b.run(t.Context(), "config", "validate", filepath.Join(t.TempDir(), "none.json")))
	})
}
