package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// completionTimeout bounds the agent calls of dynamic completion.
const completionTimeout = 3 * time.Second

// CompletionOptions are the options of `hvctl completion`.
type CompletionOptions struct {
	cmdBase
	// Shell is bash, zsh or fish.
	Shell string
	root  func() *cobra.Command
}

const completionLong = `Print the shell completion script of hvctl. Besides commands and flags it completes
guest, job and image IDs and action names, asking the agent (and completing nothing when it
cannot be reached).

  bash:  source <(hvctl completion bash)
         or: hvctl completion bash > /etc/bash_completion.d/hvctl
  zsh:   hvctl completion zsh > "${fpath[1]}/_hvctl"
  fish:  hvctl completion fish > ~/.config/fish/completions/hvctl.fish`

// newCmdCompletion returns `hvctl completion`.
func newCmdCompletion(f *Factory, runF func(*CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Long:      completionLong,
		Example:   "  source <(hvctl completion bash)",
		Args:      exactArgs("SHELL"),
		ValidArgs: []string{"bash", "zsh", "fish"},
	}
	opts.root = cmd.Root
	cmd.RunE = runE(opts, &opts.cmdBase, runF, completionRun, func(args []string) error {
		opts.Shell = args[0]
		if !slices.Contains(cmd.ValidArgs, opts.Shell) {
			return usageErrorf("unknown shell %q (want bash, zsh or fish)", opts.Shell)
		}
		return nil
	})
	return cmd
}

func completionRun(opts *CompletionOptions) error {
	root := opts.root()
	switch opts.Shell {
	case "bash":
		return root.GenBashCompletionV2(opts.IO.Out, true)
	case "zsh":
		return root.GenZshCompletion(opts.IO.Out)
	case "fish":
		return root.GenFishCompletion(opts.IO.Out, true)
	}
	return usageErrorf("unknown shell %q", opts.Shell)
}

// fixedCompletion completes one of values.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// completeFromAgent completes the first argument with what list returns,
// or with nothing when the agent cannot be reached.
func completeFromAgent(f *Factory, list func(context.Context, hvagent.Service) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svc, err := f.Service()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		values, err := list(ctx, svc)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeEach completes each argument of a command that takes several of
// a kind (GUEST...) with what complete offers for the first, less those
// already given.
func completeEach(complete cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		values, directive := complete(cmd, nil, toComplete)
		return slices.DeleteFunc(values, func(v string) bool {
			value, _, _ := strings.Cut(v, "\t")
			return slices.Contains(args, value)
		}), directive
	}
}

// completeGuestIDs completes guest names and IDs, described by type and
// state (and a name by its guest's ID).
func completeGuestIDs(f *Factory) cobra.CompletionFunc {
	return completeFromAgent(f, func(ctx context.Context, svc hvagent.Service) ([]string, error) {
		guests, err := svc.Guests(ctx, hvagent.GuestFilter{})
		var out []string
		for _, g := range guests {
			desc := guestType(g) + " " + dash(g.State)
			if g.Name != "" {
				out = append(out, fmt.Sprintf("%s\t%s %s", g.Name, desc, g.ID))
			}
			out = append(out, fmt.Sprintf("%s\t%s", g.ID, desc))
		}
		return out, err
	})
}

// completeJobIDs completes the IDs of recent jobs, described by action and
// status.
func completeJobIDs(f *Factory) cobra.CompletionFunc {
	return completeFromAgent(f, func(ctx context.Context, svc hvagent.Service) ([]string, error) {
		jobs, err := svc.Jobs(ctx, hvagent.JobFilter{Limit: 100})
		var out []string
		for _, j := range jobs {
			out = append(out, fmt.Sprintf("%s\t%s %s", j.ID, j.Action, j.Status))
		}
		return out, err
	})
}

// completeImageIDs completes image IDs.
func completeImageIDs(f *Factory) cobra.CompletionFunc {
	return completeFromAgent(f, func(ctx context.Context, svc hvagent.Service) ([]string, error) {
		res, err := svc.Do(ctx, hvagent.ActionListImages, "", hvagent.Request{Image: &hvagent.ImageRequest{}})
		if err != nil || res == nil {
			return nil, err
		}
		var images []*hvagent.Image
		if err := json.Unmarshal(res.Body, &images); err != nil {
			return nil, err
		}
		var out []string
		for _, im := range images {
			typ := im.Type
			if typ == "" {
				typ = "disk"
			}
			out = append(out, im.ID+"\t"+typ)
		}
		return out, nil
	})
}

// completeActions completes action names. The agent is asked first, so
// that an unreachable agent completes nothing, as for IDs.
func completeActions(f *Factory) cobra.CompletionFunc {
	return completeFromAgent(f, func(ctx context.Context, svc hvagent.Service) ([]string, error) {
		if _, err := svc.Health(ctx); err != nil {
			return nil, err
		}
		names := hvagent.ValidActions()
		slices.Sort(names)
		return names, nil
	})
}

// completePausedActions completes the actions that are paused now.
func completePausedActions(f *Factory) cobra.CompletionFunc {
	return completeFromAgent(f, func(ctx context.Context, svc hvagent.Service) ([]string, error) {
		h, err := svc.Health(ctx)
		if err != nil || h == nil {
			return nil, err
		}
		return h.Paused, nil
	})
}
