package namerule_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/namerule"
)

// A Rule accepts what the pattern with the bound counted in it accepts.
func TestRule_MatchesCountedPattern(t *testing.T) {
	t.Parallel()
	rule := namerule.MustCompile(`^[a-z0-9][a-z0-9.-]*$`, 1, 8)
	counted := regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,7}$`)
	for _, s := range []string{
		"", "a", "0", ".", "-a", "a.b-c", "abcdefgh", "abcdefghi", "a.......", "a........",
		"A", "ab_c", "a b", "é", "aé", strings.Repeat("a", 100), "a\n",
	} {
		require.Equal(t, counted.MatchString(s), rule.MatchString(s), "%q", s)
	}
}

func TestRule_Bounds(t *testing.T) {
	t.Parallel()
	rule := namerule.MustCompile(`^[a-z]+$`, 2, 3)
	require.False(t, rule.MatchString("a"))
	require.True(t, rule.MatchString("ab"))
	require.True(t, rule.MatchString("abc"))
	require.False(t, rule.MatchString("abcd"))
}

func BenchmarkCompile(b *testing.B) {
	b.Run("counted", func(b *testing.B) {
		for b.Loop() {
			regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$`)
		}
	})
	b.Run("rule", func(b *testing.B) {
		for b.Loop() {
			namerule.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`, 1, 255)
		}
	})
}
