package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/agenttest"
)

// invalidRows are guest create command lines the agent refuses, with the
// guest each describes.
var invalidRows = []struct {
	name  string
	args  []string
	guest hvagent.Guest
}{
	{"NicModel", []string{"--disk", "size=64", "--nic", "network=br0,model=virtio-net"},
		hvagent.Guest{Disks: []hvagent.Disk{{Size: 64}}, Nics: []hvagent.Nic{{Network: "br0", Model: "virtio-net"}}}},
	{"MAC", []string{"--nic", "network=br0,mac=52:54:00:12:34"},
		hvagent.Guest{Nics: []hvagent.Nic{{Network: "br0", MAC: "52:54:00:12:34"}}}},
	{"DiskBus", []string{"--disk", "size=64,bus=sata"}, hvagent.Guest{Disks: []hvagent.Disk{{Size: 64, Bus: "sata"}}}},
	{"Type", []string{"--type", "lxc"}, hvagent.Guest{Type: "lxc"}},
	{"CPU", []string{"--cpu", "9"}, hvagent.Guest{CPU: 9}},
	{"Memory", []string{"--memory", "64G"}, hvagent.Guest{Memory: 64 << 10}},
	{"NoSuchImage", []string{"--disk", "image=debian-13"}, hvagent.Guest{Disks: []hvagent.Disk{{Image: "debian-13"}}}},
}

// hvctl exits 2 with the agent's own words for a guest the agent refuses,
// over REST as in-process.
func TestGuestCreate_ErrInvalidRemote(t *testing.T) {
	t.Parallel()
	env := agenttest.New(t, agenttest.Opts{})
	srv := httptest.NewServer(rest.NewHandler(env.Agent, rest.HandlerOptions{}))
	t.Cleanup(srv.Close)
	t.Run("Rows", func(t *testing.T) {
		for _, row := range invalidRows {
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				_, want := env.Agent.Do(context.Background(), hvagent.ActionCreate, "", hvagent.Request{Guest: &row.guest})
				require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(want), "%v", want)
				p := hvctl(t, append([]string{"--addr", srv.URL, "guest", "create"}, row.args...)...)
				require.Equal(t, exitUsage, p.code, p.errOut.String())
				require.Equal(t, "hvctl: "+want.Error()+"\n", p.errOut.String())
				require.Empty(t, p.out.String())
			})
		}
	})
	guests, err := env.Agent.Guests(context.Background(), hvagent.GuestFilter{})
	require.NoError(t, err)
	require.Empty(t, guests)
}

// The same through --local on the simulation's config, and a snapshot name
// the storage driver would refuse.
func TestGuestCreate_ErrInvalidLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sim.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600))
	local := []string{"--local", "--data-dir", dir}

	p := hvctl(t, append(local, "guest", "create", "--disk", "size=64", "--nic", "network=br0,model=virtio-net")...)
	require.Equal(t, exitUsage, p.code, p.errOut.String())
	require.Equal(t, `hvctl: invalid guest: nics[0].model "virtio-net": must be one of virtio, e1000, rtl8139 (or empty for virtio)`+"\n", p.errOut.String())

	p = hvctl(t, append(local, "guest", "create", "--disk", "size=64", "-o", "json")...)
	require.Equal(t, exitOK, p.code, p.errOut.String())
	var job hvagent.Job
	require.NoError(t, json.Unmarshal(p.out.Bytes(), &job))
	p = hvctl(t, append(local, "snapshot", "create", job.GuestID, "20261130")...)
	require.Equal(t, exitUsage, p.code, p.errOut.String())
	require.Equal(t, `hvctl: snapshot name "20261130": must be 1-128 letters, digits and _ - : ., not all digits (qcow2 takes those for snapshot IDs), not . or .. (a URL path cannot carry them)`+"\n", p.errOut.String())
}
