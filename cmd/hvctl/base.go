package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// cmdBase is what every command's options hold: the streams, the lazy
// Service and the command's context (set when the command runs).
type cmdBase struct {
	IO      *IOStreams
	Service func() (hvagent.Service, error)
	ctx     context.Context
}

// newBase returns the base of a command's options. Its Service resolves
// guest names and ID prefixes (see resolver).
func newBase(f *Factory) cmdBase {
	return cmdBase{IO: f.IO, Service: func() (hvagent.Service, error) {
		svc, err := f.Service()
		if err != nil {
			return nil, err
		}
		return withResolver(svc), nil
	}}
}

// context returns the command's context; Background when unset (tests).
func (b *cmdBase) context() context.Context {
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// bind sets the base's context from the running command.
func (b *cmdBase) bind(cmd *cobra.Command) {
	b.ctx = cmd.Context()
}

// runE returns a cobra RunE that binds base to the running command, lets
// prepare read the arguments and check the flags, then calls runF (tests)
// or run.
func runE[T any](opts *T, base *cmdBase, runF, run func(*T) error, prepare func(args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		base.bind(cmd)
		if prepare != nil {
			if err := prepare(args); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
}
