package qemu

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// newBridge creates an isolated bridge (no uplink: nothing leaves the host)
// and deletes it at cleanup.
func newBridge(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hvqt" + hex.EncodeToString(b)
	out, err := exec.Command("ip", "link", "add", name, "type", "bridge").CombinedOutput()
	require.NoError(t, err, "create a test bridge (needs root and iproute2): %s", out)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	return name
}

func TestDriver_BridgedNic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.driver
	bridge := newBridge(t)
	g := bareGuest()
	g.Nics = []subagent.Nic{{Network: bridge}, {Network: "user"}}
	g = mustCall(t, d.CreateGuest, g)
	tap := g.Nics[0].Device
	require.Equal(t, tapName(g.ID, 0), tap)

	mustCall(t, d.Start, g)
	master, err := os.Readlink(filepath.Join("/sys/class/net", tap, "master"))
	require.NoError(t, err, "the tap exists")
	require.Equal(t, bridge, filepath.Base(master), "the tap is on the bridge")

	_, err = d.NicMetrics(ctx(t), g)
	require.ErrorIs(t, err, ErrUnsupported, "the user-mode NIC has no counters")
	g.Nics = g.Nics[:1]
	nic, err := d.NicMetrics(ctx(t), g)
	require.NoError(t, err)
	require.Equal(t, "nic", nic.Type)
	require.Contains(t, nic.Nic, "net0")
	require.Equal(t, "net0", nic.Nic["net0"].Name)
	require.GreaterOrEqual(t, nic.Nic["net0"].RxBytes, int64(0))

	mustCall(t, d.Poweroff, g)
	require.NoDirExists(t, filepath.Join("/sys/class/net", tap), "the tap goes with its QEMU")
}

func TestDriver_BridgeMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	g := bareGuest()
	g.Nics = []subagent.Nic{{Network: "hvqtnobridge"}}
	_, err := b.driver.Start(ctx(t), g)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, `network "hvqtnobridge" is not an existing bridge`)
	b.requireNoQEMU(t, g.ID)
}

// A bridge name is a Linux interface name: 1-15 bytes.
func TestBridgeNamePattern_Bounds(t *testing.T) {
	t.Parallel()
	require.True(t, bridgeNamePattern.MatchString("br0"))
	require.True(t, bridgeNamePattern.MatchString("abcdefghijklmno"))
	require.False(t, bridgeNamePattern.MatchString("abcdefghijklmnop"))
	require.False(t, bridgeNamePattern.MatchString(""))
	require.False(t, bridgeNamePattern.MatchString("br 0"))
}
