package hvagent

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemTotalMB(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   string
		want uint64
	}{
		"OK":        {"MemTotal:        8144240 kB\nMemFree:  1 kB\n", 7953},
		"NotFirst":  {"MemFree:  1 kB\nMemTotal:  2048 kB\n", 2},
		"Missing":   {"MemFree:  1 kB\n", 0},
		"NoUnit":    {"MemTotal: 2048\n", 0},
		"NotNumber": {"MemTotal: lots kB\n", 0},
		"Empty":     {"", 0},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, memTotalMB([]byte(tc.in)))
		})
	}
}

func TestHostResources_WithDetected(t *testing.T) {
	t.Parallel()
	require.Equal(t, HostResources{CPUs: 3, MemoryMB: 5}, HostResources{CPUs: 3, MemoryMB: 5}.withDetected())
	h := HostResources{}.withDetected()
	require.Equal(t, runtime.NumCPU(), h.CPUs)
	require.NotZero(t, h.MemoryMB)
}
