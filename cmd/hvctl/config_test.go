package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/settings"
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
	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sim.json"))
		require.NoError(t, err)
		b.in.Write(data)
		require.Equal(t, exitOK, b.run(t.Context(), "config", "validate", "-"), b.errOut.String())
		require.Regexp(t, `^stdin: valid \(3 services, \d+ actions\)\n$`, b.out.String())
	})
	t.Run("ErrStdin", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.in.WriteString(`{"colour":1}`)
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", "-"))
		require.Contains(t, b.errOut.String(), "colour")
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
	t.Run("DaemonSettings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		dir := t.TempDir()
		tokens := filepath.Join(dir, "tokens.json")
		require.NoError(t, os.WriteFile(tokens, []byte(`[{"name":"ops","sha256":"`+strings.Repeat("ab", 32)+`","scope":"admin"}]`), 0o600))
		path := filepath.Join(dir, "agent.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{"x":{"port":1}},"actions":{},"listen":"0.0.0.0:8443",`+
			`"tokens_file":"`+tokens+`","log_level":"warning","shutdown_timeout":"1m","data_dir":"/d"}`), 0o600))
		require.Equal(t, exitOK, b.run(t.Context(), "config", "validate", path), b.errOut.String())
		require.Equal(t, path+": valid (1 services, 0 actions)\n", b.out.String())
		require.Equal(t, "warning: "+settings.NoActionWarning+"\n", b.errOut.String(), "a config that wires no action")
	})
	t.Run("ErrFiles", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "agent.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{"x":{"port":1}},"actions":{},"tokens_file":"/nonexistent/t.json"}`), 0o600))
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", path))
		require.Equal(t, "hvctl: config: tokens_file: tokens file: open /nonexistent/t.json: no such file or directory\n", b.errOut.String())
	})
	t.Run("ErrDaemonSettings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{},"log_level":"loud","tls_key":"/k.pem"}`), 0o600))
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", path))
		require.Equal(t, `hvctl: config: log_level "loud" is not one of debug, info, warn, warning, error; `+
			"tls_cert and tls_key must be set together\n", b.errOut.String())
	})
	t.Run("ErrExposed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"services":{},"listen":":8080"}`), 0o600))
		require.Equal(t, exitUsage, b.run(t.Context(), "config", "validate", path))
		require.Contains(t, b.errOut.String(), "hvctl: config: listen :8080 is not a loopback address")
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
