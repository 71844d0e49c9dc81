package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/clidoc"
)

// updateDocs rewrites hvagentd's pages of docs/cli instead of comparing
// them.
var updateDocs = flag.Bool("update-docs", false, "rewrite hvagentd's pages of docs/cli from the commands")

// docsDir is the generated command reference, from this package.
var docsDir = filepath.Join("..", "..", "docs", "cli")

// hvagentdPages returns the hvagentd pages of dir by name.
func hvagentdPages(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	pages := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "hvagentd") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			pages[e.Name()] = string(b)
		}
	}
	return pages
}

func TestDocs_UpToDate(t *testing.T) {
	t.Parallel()
	root := func() *cobra.Command { return newRootCmd(strings.NewReader(""), io.Discard, io.Discard) }
	if *updateDocs {
		require.NoError(t, genDocs(root(), docsDir))
	}
	tmp := t.TempDir()
	require.NoError(t, genDocs(root(), tmp))
	want, got := hvagentdPages(t, tmp), hvagentdPages(t, docsDir)
	require.Contains(t, want, "hvagentd.md")
	require.Contains(t, want, "hvagentd_subagent_sim.md")
	const hint = "docs/cli is out of date: run `go test ./cmd/hvagentd -run TestDocs -update-docs`"
	require.Equal(t, len(want), len(got), hint)
	for name, content := range want {
		require.Equal(t, content, got[name], "%s: %s", name, hint)
	}
}

func TestDocs_StalePagesRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvagentd_gone.md"), []byte("stale"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvctl.md"), []byte("hvctl's"), 0o600))
	require.NoError(t, genDocs(newRootCmd(strings.NewReader(""), io.Discard, io.Discard), dir))
	pages := hvagentdPages(t, dir)
	require.Contains(t, pages, "hvagentd_version.md")
	require.NotContains(t, pages, "hvagentd_gone.md", "stale pages are removed")
	b, err := os.ReadFile(filepath.Join(dir, "hvctl.md"))
	require.NoError(t, err)
	require.Equal(t, "hvctl's", string(b), "hvctl's pages are left alone")
}

// genDocs replaces hvagentd's markdown pages in dir with the reference of
// root; other pages (hvctl's) are left alone. It lives in the tests
// (-update-docs rewrites docs/cli): the markdown generator's dependencies
// would cost every hvagentd process 1-2 ms at start.
func genDocs(root *cobra.Command, dir string) error { return clidoc.Generate(root, dir) }
