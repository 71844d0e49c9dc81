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
	require.NotContains(t, want, "hvagentd_gen-docs.md", "the hidden command is not documented")
	const hint = "docs/cli is out of date: run `go run ./cmd/hvagentd gen-docs docs/cli` (or go test ./cmd/hvagentd -run TestDocs -update-docs)"
	require.Equal(t, len(want), len(got), hint)
	for name, content := range want {
		require.Equal(t, content, got[name], "%s: %s", name, hint)
	}
}

func TestDocs_GenDocsCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvagentd_gone.md"), []byte("stale"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvctl.md"), []byte("hvctl's"), 0o600))
	code, _, stderr := runArgs(t, "gen-docs", dir)
	require.Equal(t, exitOK, code, stderr)
	pages := hvagentdPages(t, dir)
	require.Contains(t, pages, "hvagentd_version.md")
	require.NotContains(t, pages, "hvagentd_gone.md", "stale pages are removed")
	b, err := os.ReadFile(filepath.Join(dir, "hvctl.md"))
	require.NoError(t, err)
	require.Equal(t, "hvctl's", string(b), "hvctl's pages are left alone")
}
