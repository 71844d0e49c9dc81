package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/internal/clidoc"
)

// newGenDocsCmd returns the hidden `hvagentd gen-docs DIR`, which writes
// hvagentd's command reference (docs/cli/hvagentd*.md) as markdown.
func newGenDocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write the command reference as markdown into DIR",
		Hidden: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s needs DIR", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := genDocs(cmd.Root(), args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.ErrOrStderr(), "wrote the command reference to %s\n", args[0])
			return err
		},
	}
}

// genDocs replaces hvagentd's markdown pages in dir with the reference of
// root; other pages (hvctl's) are left alone.
func genDocs(root *cobra.Command, dir string) error { return clidoc.Generate(root, dir) }
