package main

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hvagent/hvagent/internal/settings"
)

const completionLong = `Print the shell completion script of hvagentd: its commands, flags and the accepted
values of enumerated flags (--log-level, --log-format, --durability, --qemu-accel).

  bash:  source <(hvagentd completion bash)
         or: hvagentd completion bash > /etc/bash_completion.d/hvagentd
  zsh:   hvagentd completion zsh > "${fpath[1]}/_hvagentd"
  fish:  hvagentd completion fish > ~/.config/fish/completions/hvagentd.fish`

// completionShells are the shells `hvagentd completion` writes scripts for.
var completionShells = []string{"bash", "zsh", "fish"}

// newCompletionCmd returns `hvagentd completion`.
func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Long:      completionLong,
		Example:   "  source <(hvagentd completion bash)",
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageErrorf("%s needs SHELL (bash, zsh or fish)", cmd.CommandPath())
			case len(args) > 1:
				return usageErrorf("%s takes 1 argument, got %d", cmd.CommandPath(), len(args))
			case !slices.Contains(completionShells, args[0]):
				return usageErrorf("unknown shell %q (want bash, zsh or fish)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
}

// registerFlagCompletions completes the enumerated settings' values and
// the file-valued flags with file names.
func registerFlagCompletions(cmd *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	for flag, values := range map[string][]string{
		"log-level":  settings.LogLevels(),
		"log-format": settings.LogFormats(),
		"durability": {"full", "normal"},
		"qemu-accel": {"tcg", "kvm"},
	} {
		_ = cmd.RegisterFlagCompletionFunc(flag, fixed(values...))
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch f.Name {
		case "config", "config-file", "tokens-file", "tls-cert", "tls-key", "client-ca", "dbpath":
			_ = cmd.MarkFlagFilename(f.Name)
		case "data-dir":
			_ = cmd.MarkFlagDirname(f.Name)
		}
	})
}
