package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/internal/clidoc"
)

// newCmdGenDocs returns the hidden `hvctl gen-docs DIR`, which writes the
// command reference (docs/cli) as markdown.
func newCmdGenDocs(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write the command reference as markdown into DIR",
		Hidden: true,
		Args:   exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := genDocs(cmd.Root(), args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(f.IO.ErrOut, "wrote the command reference to %s\n", args[0])
			return err
		},
	}
}

// genDocs replaces hvctl's markdown pages in dir with the reference of
// root, usage lines showing [command] where a command has subcommands.
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
		return fmt.Errorf("gen-docs: %w", err)
	}
	fixed := strings.Replace(string(b), "```\n"+cmd.UseLine()+"\n```", "```\n"+usageLine(cmd)+"\n```", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		return fmt.Errorf("gen-docs: %w", err)
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
