package sim_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
)

// decodeConfig decodes and validates a config as the agent reads its file.
func decodeConfig(t *testing.T, data []byte) *hvagent.Config {
	t.Helper()
	cfg, err := hvagent.ParseConfig(data)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cfg := sim.Config()

	t.Run("EveryAction", func(t *testing.T) {
		t.Parallel()
		require.Len(t, cfg.Actions, len(hvagent.ValidActions()))
		for _, name := range hvagent.ValidActions() {
			a, ok := cfg.Actions[name]
			require.True(t, ok, "action %s is wired", name)
			require.Len(t, a.Stages, 1, name)
			stage := a.Stages[0]
			require.True(t, strings.HasPrefix(stage.Method, "Sim."), name)
			svc, ok := cfg.Services[stage.Service]
			require.True(t, ok, "action %s names service %s", name, stage.Service)
			require.Equal(t, "sim", svc.Builtin)
			kind, _ := hvagent.KindOf(name)
			if kind == hvagent.Stream {
				require.NotEmpty(t, svc.Path, "stream action %s posts to a raw path", name)
			} else {
				require.Empty(t, svc.Path, "action %s uses the RPC path", name)
			}
		}
		require.Equal(t, "Sim.Start", cfg.Actions["containerStart"].Stages[0].Method)
		require.Equal(t, "Sim.RequestImage", cfg.Actions["containerFetchImage"].Stages[0].Method)
		require.Equal(t, "Sim.DownloadSnapshot", cfg.Actions["downloadSnapshot"].Stages[0].Method)
		require.Equal(t, sim.DownloadPath, cfg.Services[cfg.Actions["downloadSnapshot"].Stages[0].Service].Path)
		require.Equal(t, sim.ConsolePath, cfg.Services[cfg.Actions["console"].Stages[0].Service].Path)
	})

	t.Run("MatchesTestdata", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("../../../testdata/sim.json")
		require.NoError(t, err)
		encoded, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.Equal(t, decodeConfig(t, encoded), decodeConfig(t, data))
		require.Equal(t, cfg, decodeConfig(t, data))
	})
}
