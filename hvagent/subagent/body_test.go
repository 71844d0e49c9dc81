package subagent

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	const limit = 10
	for name, tc := range map[string]struct {
		body string
		size int64
		want string
	}{
		"declared":                        {"hello", 5, "hello"},
		"unknown size":                    {"hello", -1, "hello"},
		"empty":                           {"", 0, ""},
		"shorter than declared":           {"hel", 5, "hel"},
		"longer than declared":            {"hello world", 5, "hello world"[:limit+1]},
		"at the limit":                    {"0123456789", 10, "0123456789"},
		"over the limit, declared":        {"0123456789abc", 13, "0123456789a"},
		"over the limit, unknown":         {"0123456789abc", -1, "0123456789a"},
		"over the limit, declared within": {"0123456789abc", 4, "0123456789a"},
	} {
		t.Run(name, func(t *testing.T) {
			// One byte a read, so that the loop runs as it does on a slow
			// connection.
			got, err := readBody(iotest.OneByteReader(strings.NewReader(tc.body)), tc.size, limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			got, err = readBody(strings.NewReader(tc.body), tc.size, limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestReadBody_Error(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("he"), iotest.ErrReader(boom))
	got, err := readBody(r, 5, 10)
	require.ErrorIs(t, err, boom)
	require.Equal(t, "he", string(got))
}
