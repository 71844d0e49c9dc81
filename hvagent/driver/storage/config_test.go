package storage_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/storage"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	actions := storage.Actions()
	actions[hvagent.ActionCreate] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{storage.CreateStage()}}
	actions[hvagent.ActionDelete] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{storage.DeleteStage()}}
	cfg := &hvagent.Config{Services: storage.Services(), Actions: actions}
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	parsed, err := hvagent.ParseConfig(data)
	require.NoError(t, err)
	require.NoError(t, parsed.Validate())

	require.Len(t, storage.Actions(), 10)
	for name, a := range actions {
		require.Len(t, a.Stages, 1, name)
		svc := cfg.Services[a.Stages[0].Service]
		require.Equal(t, "storage", svc.Builtin, name)
		if kind, _ := hvagent.KindOf(name); kind == hvagent.Stream {
			require.Equal(t, storage.DownloadPath, svc.Path, name)
		} else {
			require.Empty(t, svc.Path, name)
		}
	}
	require.Equal(t, "ImageStore.RequestImage", actions[hvagent.ActionFetchImage].Stages[0].Method)
	require.Equal(t, storage.FetchCallTimeout, parsed.Services[actions[hvagent.ActionFetchImage].Stages[0].Service].Timeout.Duration)
	require.Equal(t, storage.DownloadCallTimeout, parsed.Services[actions[hvagent.ActionDownloadSnapshot].Stages[0].Service].Timeout.Duration)
	require.Zero(t, parsed.Services[actions[hvagent.ActionCreateSnapshot].Stages[0].Service].Timeout.Duration, "the default call timeout")
	require.Equal(t, "ImageStore.CreateGuestDisks", actions[hvagent.ActionCreate].Stages[0].Method)
	require.Equal(t, "ImageStore.DeleteGuestsDisks", actions[hvagent.ActionDelete].Stages[0].Method)
}
