package jsonform

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzAppendString: AppendString gives json.Marshal's bytes for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\nd\te\rf\bg\fh\x00i\x1fj", "<a href='x'>&</a>",
		"bad \xff byte", "a\u2028b\u2029c", "déjà vu — ✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, "x"+string(want), string(AppendString([]byte("x"), s)))
	})
}
