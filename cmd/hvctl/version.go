package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// versionAgentTimeout bounds asking the agent for its version.
const versionAgentTimeout = 5 * time.Second

// VersionOptions are the options of `hvctl version`.
type VersionOptions struct {
	cmdBase
	Out outputOptions
	// Client prints only hvctl's own version, without asking the agent.
	Client bool
}

// versionInfo is what `hvctl version -o json` prints.
type versionInfo struct {
	Version  string          `json:"version"`
	Go       string          `json:"go"`
	Platform string          `json:"platform"`
	Agent    *hvagent.Health `json:"agent,omitempty"`
	// AgentError says why the agent could not be asked.
	AgentError string `json:"agent_error,omitempty"`
}

// newCmdVersion returns `hvctl version`.
func newCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of hvctl and of the agent",
		Long: "Print hvctl's version and, unless --client, the agent's (its /healthz report). When the agent\n" +
			"cannot be asked, hvctl's version is printed (with -o json, with agent_error) and the error\n" +
			"sets the exit code: 5 when hvagentd cannot be reached.",
		Example: "  hvctl version\n  hvctl version --client\n  hvctl version -o json",
		Args:    noArgs,
	}
	cmd.Flags().BoolVar(&opts.Client, "client", false, "print only hvctl's version")
	cmd.Flags().StringVarP(&opts.Out.Format, "output", "o", formatTable, "output format: table or json")
	cmd.RunE = runE(opts, &opts.cmdBase, runF, versionRun, func([]string) error { return opts.Out.validate() })
	return cmd
}

func versionRun(opts *VersionOptions) error {
	info := versionInfo{Version: hvagent.Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var agentErr error
	if !opts.Client {
		info.Agent, agentErr = agentHealth(opts.context(), opts.Service)
		if agentErr != nil {
			info.AgentError = agentErr.Error()
		}
	}
	if opts.Out.json() {
		if err := writeJSON(opts.IO.Out, info); err != nil {
			return err
		}
		return agentErr
	}
	_, _ = fmt.Fprintf(opts.IO.Out, "hvctl: %s (%s %s)\n", info.Version, info.Go, info.Platform)
	if h := info.Agent; h != nil {
		line := fmt.Sprintf("agent: %s, %s", h.Version, h.Status)
		if len(h.Builtins) > 0 {
			line += ", built-in drivers: " + strings.Join(h.Builtins, ", ")
		}
		if h.Simulated {
			line += " (SIMULATED)"
		}
		if len(h.Paused) > 0 {
			line += "; " + pausedText(h.Paused) + " (hvctl queue resume)"
		}
		_, _ = fmt.Fprintln(opts.IO.Out, line)
	}
	return agentErr
}

// agentHealth asks the agent for its health report, or says why it could
// not (an EUNAVAILABLE error when hvagentd cannot be reached).
func agentHealth(ctx context.Context, service func() (hvagent.Service, error)) (*hvagent.Health, error) {
	svc, err := service()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, versionAgentTimeout)
	defer cancel()
	h, err := svc.Health(ctx)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("the agent sent no health report")
	}
	return h, nil
}
