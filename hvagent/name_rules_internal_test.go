package hvagent

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ID and name rules hold at their length bounds (the bound is checked
// apart from the pattern, see internal/namerule).
func TestNameRules_Bounds(t *testing.T) {
	t.Parallel()
	require.True(t, imageID.MatchString("a"))
	require.True(t, imageID.MatchString(strings.Repeat("a", 255)))
	require.False(t, imageID.MatchString(strings.Repeat("a", 256)))
	require.False(t, imageID.MatchString(""))
	require.False(t, imageID.MatchString(".a"))
	require.True(t, imageID.MatchString("a.b_c:d-e"))
	require.True(t, snapshotNamePattern.MatchString(strings.Repeat("s", 128)))
	require.False(t, snapshotNamePattern.MatchString(strings.Repeat("s", 129)))
	require.False(t, snapshotNamePattern.MatchString(""))
}
