package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// updateDocs rewrites docs/cli instead of comparing it.
var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli from the commands")

// docsDir is the generated command reference, from this package.
var docsDir = filepath.Join("..", "..", "docs", "cli")

func TestDocs_UpToDate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if *updateDocs {
		require.NoError(t, genDocs(newRootCmd(b.f, nil), docsDir))
	}
	tmp := t.TempDir()
	require.NoError(t, genDocs(newRootCmd(b.f, nil), tmp))
	want := readDir(t, tmp)
	got := readDir(t, docsDir)
	require.NotEmpty(t, want)
	const hint = "docs/cli is out of date: run `go run ./cmd/hvctl gen-docs docs/cli` (or go test ./cmd/hvctl -run TestDocs -update-docs)"
	require.ElementsMatch(t, keys(want), keys(got), hint)
	for name, content := range want {
		require.Equal(t, content, got[name], "%s: %s", name, hint)
	}
}

func TestDocs_GenDocsCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := filepath.Join(t.TempDir(), "cli")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvctl_gone.md"), []byte("stale"), 0o600))
	require.Equal(t, exitOK, b.run(t.Context(), "gen-docs", dir))
	files := readDir(t, dir)
	require.Contains(t, files, "hvctl.md")
	require.Contains(t, files, "hvctl_guest_create.md")
	require.NotContains(t, files, "hvctl_gone.md", "stale pages are removed")
	require.NotContains(t, files, "hvctl_gen-docs.md", "the hidden command is not documented")
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string]string{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "hvctl") { // hvagentd's pages are its own
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = string(b)
	}
	return files
}

func keys(m map[string]string) []string { return sortedKeys(m) }
