package qemu

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/namerule"
)

// userNetwork names user-mode networking explicitly; a NIC with no network
// gets it too.
const userNetwork = "user"

// ipTimeout bounds one ip(8) command.
const ipTimeout = 10 * time.Second

// bridgeNamePattern is a Linux interface name.
var bridgeNamePattern = namerule.MustCompile(`^[A-Za-z0-9_.-]+$`, 1, 15)

// isBridged reports whether nic is a tap on a bridge rather than user-mode.
func isBridged(nic *subagent.Nic) bool {
	return nic.Network != "" && nic.Network != userNetwork
}

// tapName is the tap device of a guest's NIC i: "hv", 10 hex digits of a
// hash of the guest ID, and i (at most 15 characters, as Linux wants).
func tapName(id string, i int) string {
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("hv%x%d", sum[:5], i)
}

// guestMAC derives a stable locally administered MAC for a guest's NIC i
// from its ID, in QEMU's 52:54:00 range.
func guestMAC(id string, i int) string {
	sum := sha256.Sum256([]byte(id + "/" + strconv.Itoa(i)))
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

// setupTaps creates the tap of every bridged NIC and adds it to its bridge,
// which must exist. On failure it removes the taps it made.
func setupTaps(ctx context.Context, g *subagent.Guest) error {
	for i := range g.Nics {
		nic := &g.Nics[i]
		if !isBridged(nic) {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", nic.Network, "bridge")); err != nil {
			removeTaps(g)
			return fmt.Errorf("%w: guest %s nic %d: network %q is not an existing bridge", ErrNotFound, g.ID, i, nic.Network)
		}
		tap := tapName(g.ID, i)
		_ = ipLink(ctx, "link", "del", tap) // a leftover of a QEMU that crashed
		if err := ipLink(ctx, "tuntap", "add", "dev", tap, "mode", "tap"); err != nil {
			removeTaps(g)
			return err
		}
		if err := ipLink(ctx, "link", "set", tap, "master", nic.Network, "up"); err != nil {
			removeTaps(g)
			return err
		}
	}
	return nil
}

// removeTaps deletes the taps of g's bridged NICs; missing ones are fine.
func removeTaps(g *subagent.Guest) {
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	for i := range g.Nics {
		if isBridged(&g.Nics[i]) {
			tap := tapName(g.ID, i)
			if _, err := os.Stat(filepath.Join("/sys/class/net", tap)); err == nil {
				_ = ipLink(ctx, "link", "del", tap)
			}
		}
	}
}

// removeGuestTaps deletes every tap of guest id, whatever its NICs were
// (for a guest whose definition the driver no longer has).
func removeGuestTaps(id string) {
	prefix := tapName(id, 0)
	prefix = prefix[:len(prefix)-1]
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), prefix); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				_ = ipLink(ctx, "link", "del", e.Name())
			}
		}
	}
}

// ipLink runs ip(8) with args.
func ipLink(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, ipTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tapStats reads the counters of a tap as the guest sees them: what the
// tap transmits the guest receives.
func tapStats(name, tap string) (*subagent.GuestNicMetrics, error) {
	read := func(counter string) (int64, error) {
		b, err := os.ReadFile(filepath.Join("/sys/class/net", tap, "statistics", counter))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return 0, fmt.Errorf("%w: tap %s of nic %s", ErrNotFound, tap, name)
			}
			return 0, err
		}
		return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	m := &subagent.GuestNicMetrics{Name: name}
	fields := []struct {
		dst     *int64
		counter string
	}{
		{&m.RxBytes, "tx_bytes"}, {&m.RxPackets, "tx_packets"}, {&m.RxErrors, "tx_errors"}, {&m.RxDrops, "tx_dropped"},
		{&m.TxBytes, "rx_bytes"}, {&m.TxPackets, "rx_packets"}, {&m.TxErrors, "rx_errors"}, {&m.TxDrops, "rx_dropped"},
	}
	for _, f := range fields {
		v, err := read(f.counter)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	return m, nil
}
