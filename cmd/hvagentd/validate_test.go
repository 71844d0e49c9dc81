package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/settings"
)

// verdict is what a program said of a config file: accepted with
// warnings, or refused with an error message.
type verdict struct {
	accepted bool
	message  string
	warnings []string
}

// hvctlVerdict runs `hvctl config validate path`.
func hvctlVerdict(t *testing.T, path string) verdict {
	t.Helper()
	cmd := exec.Command(binary(t, "hvctl"), "config", "validate", path)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err)
	}
	v := verdict{accepted: err == nil}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	for _, line := range lines {
		if w, ok := strings.CutPrefix(line, "warning: "); ok {
			v.warnings = append(v.warnings, w)
		} else if m, ok := strings.CutPrefix(line, "hvctl: "); ok {
			v.message = m
		}
	}
	if v.accepted {
		require.Equal(t, path+": ", stdout.String()[:len(path)+2])
	} else {
		require.Equal(t, 2, exit.ExitCode(), "invalid config: usage exit code; stderr: %s", stderr.String())
	}
	return v
}

// hvagentdVerdict starts an in-process hvagentd on the config file path
// and stops it again: accepted when it served, with the warnings it
// logged.
func hvagentdVerdict(t *testing.T, path string) verdict {
	t.Helper()
	m := NewMain()
	logs := &logBuffer{}
	m.Stderr = logs
	m.LookupEnv = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags([]string{"--data-dir", tempDir(t), "--config", path}); err != nil {
		return verdict{message: err.Error()}
	}
	err := m.Run(context.Background())
	require.NoError(t, m.Close())
	if err != nil {
		return verdict{message: err.Error()}
	}
	v := verdict{accepted: true}
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if entry, ok := parseLogLine(line); ok && entry["level"] == "warn" {
			v.warnings = append(v.warnings, entry["message"].(string))
		}
	}
	return v
}

func TestConfigValidate_SameVerdictAsHvagentd(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	sum := sha256.Sum256([]byte("s3cret"))
	tokens := filepath.Join(dir, "tokens.json")
	require.NoError(t, os.WriteFile(tokens, []byte(`[{"name":"ops","sha256":"`+hex.EncodeToString(sum[:])+`","scope":"admin"}]`), 0o600))
	sim, err := os.ReadFile(simConfig)
	require.NoError(t, err)
	simFile, err := settings.Parse(sim)
	require.NoError(t, err)
	require.NotEmpty(t, simFile.Actions)
	listen := `"listen":"127.0.0.1:0"`
	for _, tt := range []struct {
		name     string
		config   string
		accepted bool
		warnings []string
		message  string
	}{
		{name: "Sim", config: strings.Replace(string(sim), "{", "{"+listen+",", 1), accepted: true,
			warnings: []string{"services using the SIMULATED driver (no real guests): sim, simConsole, simDownload"}},
		{name: "NoAction", config: `{` + listen + `,"services":{"q":{"port":20002}}}`, accepted: true,
			warnings: []string{settings.NoActionWarning}},
		{name: "Tokens", config: `{` + listen + `,"tokens_file":"` + tokens + `","services":{"q":{"port":20002}},` +
			`"actions":{"start":{"stages":[{"service":"q","method":"QEMU.Start"}]}}}`, accepted: true},
		{name: "UnknownKey", config: `{` + listen + `,"services":{},"colour":1}`, message: "colour"},
		{name: "UnknownBuiltin", config: `{` + listen + `,"services":{"x":{"builtin":"xen"}}}`, message: `builtin "xen" is not one of`},
		{name: "StreamTwoStages", config: `{` + listen + `,"services":{"q":{"port":20002}},"actions":{"console":{"stages":[` +
			`{"service":"q","method":"QEMU.Console"},{"service":"q","method":"QEMU.Console"}]}}}`,
			message: "config: stream action console must have exactly one stage, has 2"},
		{name: "Exposed", config: `{` + listen + `,"admin_listen":"0.0.0.0:0","services":{}}`, message: "config: admin_listen 0.0.0.0:0 is not a loopback address"},
		{name: "MissingTokensFile", config: `{` + listen + `,"tokens_file":"/nonexistent/tokens.json","services":{}}`,
			message: "config: tokens_file: tokens file: open /nonexistent/tokens.json"},
		{name: "UnknownGroup", config: `{` + listen + `,"socket_group":"no-such-group-hvagent","services":{}}`,
			message: "config: socket_group no-such-group-hvagent: no such group"},
		{name: "BadLogLevel", config: `{` + listen + `,"log_level":"loud","services":{}}`, message: `log_level "loud" is not one of`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(tempDir(t), "agent.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.config), 0o600))
			daemon, ctl := hvagentdVerdict(t, path), hvctlVerdict(t, path)
			require.Equal(t, daemon, ctl, "hvagentd and hvctl config validate disagree")
			require.Equal(t, tt.accepted, ctl.accepted, ctl.message)
			require.Equal(t, tt.warnings, ctl.warnings)
			require.Contains(t, ctl.message, tt.message)
		})
	}
}
