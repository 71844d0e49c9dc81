package testio

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// SendBuffer returns the kernel's SO_SNDBUF of c (twice what was asked
// for: the kernel doubles it for its bookkeeping).
func SendBuffer(t testing.TB, c syscall.Conn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var size int
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}))
	require.NoError(t, serr)
	return size
}

// WmemMax returns net.core.wmem_max, the most a socket's send buffer can
// be set to without privilege.
func WmemMax(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/wmem_max")
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return n
}
