package storage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// The agent refuses at request time the snapshot names this driver
// refuses, and also "." and "..", which a REST path cannot carry.
func TestCheckSnapshotName_AgentRules(t *testing.T) {
	t.Parallel()
	for _, name := range []string{".", ".."} {
		require.Error(t, hvagent.CheckSnapshotName(name), name)
	}
	for _, name := range []string{"s1", "snap-1764504000", "a:b.c_d-e", "0x1", "1a", strings.Repeat("n", 128),
		"", "42", "007", "bad name", "a/b", "a@b", "é", strings.Repeat("n", 129)} {
		require.Equal(t, checkSnapshotName(name) == nil, hvagent.CheckSnapshotName(name) == nil, "%q", name)
	}
}

// The driver's ID rules hold at their length bounds.
func TestIDRules_Bounds(t *testing.T) {
	t.Parallel()
	for _, rule := range []interface{ MatchString(string) bool }{imageIDPattern, guestIDPattern} {
		require.True(t, rule.MatchString("a"))
		require.True(t, rule.MatchString(strings.Repeat("a", 128)))
		require.False(t, rule.MatchString(strings.Repeat("a", 129)))
		require.False(t, rule.MatchString(""))
		require.False(t, rule.MatchString("-a"))
		require.False(t, rule.MatchString("a:b"))
	}
}
