package hvagent_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

func TestAgent_FetchImageFileSource(t *testing.T) {
	t.Parallel()
	extra := t.TempDir()
	cfg := sim.Config()
	cfg.AllowedPaths = []string{extra}
	env := agenttest.New(t, agenttest.Opts{Config: cfg})
	fetch := func(source string) error {
		_, err := env.Agent.Do(t.Context(), hvagent.ActionFetchImage, "", hvagent.Request{DryRun: true,
			Image: &hvagent.ImageRequest{ID: "img", Source: source}})
		return err
	}
	require.NoError(t, fetch("file://"+filepath.Join(env.Dir, "images", "img.qcow2")), "under <data_dir>/images")
	require.NoError(t, fetch("file://"+filepath.Join(extra, "img.qcow2")), "under an allowed path")
	require.NoError(t, fetch("https://images.example/img.qcow2"))
	for _, bad := range []string{"file:///etc/passwd", "file://" + extra, "file://other-host" + extra + "/img", "ftp://x/img"} {
		err := fetch(bad)
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), bad)
	}
}
