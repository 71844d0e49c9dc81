package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRewrite_OK(t *testing.T) {
	t.Parallel()
	doc := "# Title\n\nProse before.\n\n<!-- bench:targets -->\nold table\nold line\n<!-- /bench:targets -->\n\n" +
		"Prose between.\n<!-- bench:kept -->\nkept table\n<!-- /bench:kept -->\nProse after."
	got, err := Rewrite(doc, map[string]string{"targets": "new table\n", "added": "an added table"})
	require.NoError(t, err)
	require.Equal(t, "# Title\n\nProse before.\n\n<!-- bench:targets -->\nnew table\n<!-- /bench:targets -->\n\n"+
		"Prose between.\n<!-- bench:kept -->\nkept table\n<!-- /bench:kept -->\nProse after.\n"+
		"\n## Benchmarks: added\n\n<!-- bench:added -->\nan added table\n<!-- /bench:added -->\n", got)

	again, err := Rewrite(got, map[string]string{"targets": "new table\n", "added": "an added table"})
	require.NoError(t, err)
	require.Equal(t, got, again, "rewriting with the same content changes nothing")
}

func TestRewrite_Titles(t *testing.T) {
	t.Parallel()
	got, err := Rewrite("", map[string]string{"other": "o\n", "targets": "t\n"})
	require.NoError(t, err)
	require.Equal(t, "\n## Other benchmarks\n\n<!-- bench:other -->\no\n<!-- /bench:other -->\n"+
		"\n## Targets\n\n<!-- bench:targets -->\nt\n<!-- /bench:targets -->\n", got)
}

func TestRewrite_Errors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ doc, err string }{
		"Unclosed": {"a\n<!-- bench:x -->\nb\n", `line 2: region "x" is never closed`},
		"Nested":   {"<!-- bench:x -->\n<!-- bench:y -->\n", `line 2: region "y" opens inside region "x" (line 1)`},
		"Mismatch": {"<!-- bench:x -->\n<!-- /bench:y -->\n", `line 2: "<!-- /bench:y -->" closes region "y", but the open region is "x"`},
		"Stray":    {"a\n<!-- /bench:y -->\n", `line 2: "<!-- /bench:y -->" closes region "y", but the open region is ""`},
		"Twice":    {"<!-- bench:x -->\n<!-- /bench:x -->\n<!-- bench:x -->\n<!-- /bench:x -->\n", `line 3: region "x" appears twice`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Rewrite(tc.doc, map[string]string{"x": "new\n"})
			require.EqualError(t, err, tc.err)
		})
	}
}
