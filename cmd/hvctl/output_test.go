package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"web1":                      "web1",
		"ünïcode ✓":                 "ünïcode ✓",
		"a\nb":                      `a\nb`,
		"tab\there":                 `tab\there`,
		"\x1b]0;pwned\a\x1b[31mred": `\x1b]0;pwned\a\x1b[31mred`,
		"del\x7f c1\u0085 nul\x00":  `del\x7f c1\u0085 nul\x00`,
		"":                          "",
	} {
		require.Equal(t, want, printable(in), "%q", in)
	}
}

// TestWriteMetadata_EscapesControl: a key or value stored with control
// characters reaches the terminal escaped, in the table and in -q lines,
// one line each; JSON carries it as it is.
func TestWriteMetadata_EscapesControl(t *testing.T) {
	t.Parallel()
	m := map[string]string{"nl\nx": "\x1b[31mred"}
	var out bytes.Buffer
	require.NoError(t, writeMetadata(&out, outputOptions{Format: formatTable}, m))
	require.Equal(t, "KEY    VALUE\nnl\\nx  \\x1b[31mred\n", out.String())
	out.Reset()
	require.NoError(t, writeMetadata(&out, outputOptions{Quiet: true}, m))
	require.Equal(t, "nl\\nx\n", out.String())
	out.Reset()
	require.NoError(t, writeMetadata(&out, outputOptions{Format: formatJSON}, m))
	require.Contains(t, out.String(), `"nl\nx": "\u001b[31mred"`)
}
