package hvagent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// limitedEnv is an agent whose guest metadata holds at most 4 keys of 8
// bytes, 16 bytes of values and 40 bytes in all.
func limitedEnv(t *testing.T) *agenttest.Env {
	cfg := sim.Config()
	cfg.MaxMetadataKeys, cfg.MaxMetadataKeyLen, cfg.MaxMetadataValueLen, cfg.MaxMetadataBytes = 4, 8, 16, 40
	return agenttest.New(t, agenttest.Opts{Config: cfg})
}

func TestAgent_MetadataLimits_Patch(t *testing.T) {
	t.Parallel()
	env := limitedEnv(t)
	ctx := context.Background()
	g := env.Create(t, &hvagent.Guest{Memory: 256, CPU: 1, Metadata: map[string]string{"a": "1"}})

	for _, c := range []struct {
		name, code, msg string
		patch           map[string]string
	}{
		{"KeyTooLong", hvagent.EINVALID, "more than the limit of 8", map[string]string{"123456789": "x"}},
		{"ValueTooLong", hvagent.EINVALID, `metadata key "b": value of 17 bytes, more than the limit of 16`,
			map[string]string{"b": strings.Repeat("v", 17)}},
		{"EmptyKey", hvagent.EINVALID, "must not be empty", map[string]string{"": "x"}},
		{"TooManyKeysInPatch", hvagent.ETOOLARGE, "names 5 keys, more than the limit of 4",
			map[string]string{"b": "1", "c": "1", "d": "1", "e": "1", "f": ""}},
		{"TooManyKeys", hvagent.ETOOLARGE, "would hold 5 keys, more than the limit of 4",
			map[string]string{"b": "1", "c": "1", "d": "1", "e": "1"}},
		{"TooManyBytes", hvagent.ETOOLARGE, "would hold 42 bytes of keys and values, more than the limit of 40",
			map[string]string{"b": strings.Repeat("v", 16), "c": strings.Repeat("v", 16), "d": "xxxxx"}},
	} {
		_, err := env.Agent.PatchGuestMetadata(ctx, g.ID, c.patch)
		require.Equal(t, c.code, hvagent.ErrorCode(err), "%s: %v", c.name, err)
		require.ErrorContains(t, err, c.msg, c.name)
		m, err := env.Agent.GuestMetadata(ctx, g.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "1"}, m, "%s: nothing is written", c.name)
	}
	m, err := env.Agent.PatchGuestMetadata(ctx, g.ID, map[string]string{"b": "2", "c": "3", "d": "4"})
	require.NoError(t, err)
	require.Len(t, m, 4, "up to the limit")

	// The host's metadata has the same limits.
	_, err = env.Agent.PatchMetadata(ctx, map[string]string{"a": strings.Repeat("v", 17)})
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
	_, err = env.Agent.PatchMetadata(ctx, map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"})
	require.Equal(t, hvagent.ETOOLARGE, hvagent.ErrorCode(err))
}

func TestAgent_MetadataLimits_Create(t *testing.T) {
	t.Parallel()
	env := limitedEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		code string
		meta map[string]string
	}{
		{hvagent.EINVALID, map[string]string{"123456789": "x"}},
		{hvagent.ETOOLARGE, map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"}},
	} {
		_, err := env.Agent.Do(ctx, hvagent.ActionCreate, "",
			hvagent.Request{Guest: &hvagent.Guest{Memory: 256, CPU: 1, Metadata: c.meta}})
		require.Equal(t, c.code, hvagent.ErrorCode(err), "%v", err)
	}
	guests, err := env.Agent.Guests(ctx, hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Empty(t, guests)
}

func TestAgent_JobsAndEventsCarryNoMetadata(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	meta := map[string]string{}
	for i := range 100 { // 10.6 KB, within the default 16 KiB
		meta[fmt.Sprintf("key%03d", i)] = strings.Repeat("v", 100)
	}
	g := env.Create(t, &hvagent.Guest{Memory: 256, CPU: 1, Metadata: meta})
	_, err := env.Agent.PatchGuestMetadata(ctx, g.ID, map[string]string{"key000": "changed"})
	require.NoError(t, err)
	j := env.Wait(t, env.Do(t, hvagent.ActionStart, g.ID, hvagent.Request{}).Job.ID)
	require.Equal(t, hvagent.JobComplete, j.Status, j.Message)

	jobs, err := env.Agent.Jobs(ctx, hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		require.NotContains(t, string(j.Result), "key000", "job %s (%s) result", j.ID, j.Action)
	}
	page, err := env.Agent.Events(ctx, hvagent.EventQuery{})
	require.NoError(t, err)
	require.NotEmpty(t, page.Events)
	for _, e := range page.Events {
		if e.Guest != nil {
			require.Nil(t, e.Guest.Metadata, "event %d (%s)", e.ID, e.Type)
		}
	}
	got, err := env.Agent.Guest(ctx, g.ID)
	require.NoError(t, err)
	meta["key000"] = "changed"
	require.Equal(t, meta, got.Metadata, "the guest keeps its metadata")
	require.Equal(t, hvagent.StateRunning, got.State)
}
