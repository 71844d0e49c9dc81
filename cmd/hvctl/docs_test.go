package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/clidoc"
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
	const hint = "docs/cli is out of date: run `go test ./cmd/hvctl -run TestDocs -update-docs`"
	require.ElementsMatch(t, keys(want), keys(got), hint)
	for name, content := range want {
		require.Equal(t, content, got[name], "%s: %s", name, hint)
	}
}

func TestDocs_StalePagesRemoved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := filepath.Join(t.TempDir(), "cli")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hvctl_gone.md"), []byte("stale"), 0o600))
	require.NoError(t, genDocs(newRootCmd(b.f, nil), dir))
	files := readDir(t, dir)
	require.Contains(t, files, "hvctl.md")
	require.Contains(t, files, "hvctl_guest_create.md")
	require.NotContains(t, files, "hvctl_gone.md", "stale pages are removed")
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

// genDocs replaces hvctl's markdown pages in dir with the reference of
// root, usage lines showing [command] where a command has subcommands. It
// lives in the tests (-update-docs rewrites docs/cli): the markdown
// generator's dependencies cost every hvctl process 1-2 ms at start.
func genDocs(root *cobra.Command, dir string) error {
	if err := clidoc.Generate(root, dir); err != nil {
		return err
	}
	return fixUsageLines(root, dir)
}

// fixUsageLines gives the page of each command with subcommands the usage
// line hvctl shows ("hvctl guest [command]") instead of cobra's.
func fixUsageLines(cmd *cobra.Command, dir string) error {
	if !cmd.HasAvailableSubCommands() {
		return nil
	}
	path := filepath.Join(dir, strings.ReplaceAll(cmd.CommandPath(), " ", "_")+".md")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	fixed := strings.Replace(string(b), "```\n"+cmd.UseLine()+"\n```", "```\n"+usageLine(cmd)+"\n```", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			if err := fixUsageLines(c, dir); err != nil {
				return err
			}
		}
	}
	return nil
}
