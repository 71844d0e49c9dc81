package qemu

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// The agent refuses at create what this driver would refuse when the job
// runs: the NIC models and disk buses are the same lists.
func TestDefine_AgentRules(t *testing.T) {
	t.Parallel()
	keys := func(m []string) []string { s := slices.Clone(m); slices.Sort(s); return s }
	var models, buses []string
	for m := range nicDevices {
		models = append(models, m)
	}
	for b := range diskDevices {
		buses = append(buses, b)
	}
	require.Equal(t, keys(hvagent.NICModels()), keys(models))
	require.Equal(t, keys(hvagent.DiskBuses()), keys(buses))
	require.Equal(t, "virtio", hvagent.NICModels()[0], "the driver's default model comes first")
	require.Equal(t, "virtio", hvagent.DiskBuses()[0], "the driver's default bus comes first")
	require.Equal(t, minMemory, hvagent.MinGuestMemoryMB)
}
