// Package clidoc writes a cobra command tree's markdown reference, for the
// docs tests of hvctl and hvagentd, which check docs/cli and rewrite it
// with -update-docs (their pages share docs/cli). Only tests import it:
// its dependencies would cost every hvctl and hvagentd process 1-2 ms at
// start.
package clidoc

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Generate replaces the pages of root in dir (the files named
// "<root name>*.md"; other programs' pages are left alone) with the
// reference of root, without cobra's date stamp.
func Generate(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, root.Name()+"*.md"))
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	return nil
}
