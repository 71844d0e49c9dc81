package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// metadataScope says whose metadata a command handles: the hypervisor's
// (guest false) or a guest's, named by the first argument.
type metadataScope struct {
	guest bool
}

// use returns a command's Use line with the guest argument when needed.
func (s metadataScope) use(verb, rest string) string {
	if s.guest {
		return verb + " ID " + rest
	}
	return verb + " " + rest
}

// args returns the positional args of a verb: n of them at least (one
// more for the guest), names naming them.
func (s metadataScope) args(n, hi int, names ...string) cobra.PositionalArgs {
	if s.guest {
		n++
		if hi >= 0 {
			hi++
		}
		names = append([]string{"ID"}, names...)
	}
	return rangeArgs(n, hi, append(names, "")...)
}

// path is the command path for examples.
func (s metadataScope) path() string {
	if s.guest {
		return "hvctl guest metadata"
	}
	return "hvctl metadata"
}

// exampleID is the guest ID of the examples, with a trailing space.
func (s metadataScope) exampleID() string {
	if s.guest {
		return "0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10 "
	}
	return ""
}

func (s metadataScope) whose() string {
	if s.guest {
		return "a guest's"
	}
	return "the hypervisor's"
}

// completion completes the guest ID first when there is one.
func (s metadataScope) completion(f *Factory) cobra.CompletionFunc {
	if !s.guest {
		return cobra.NoFileCompletions
	}
	return completeGuestIDs(f)
}

// get reads the metadata of the scope.
func (s metadataScope) get(ctx context.Context, svc hvagent.Service, id string) (map[string]string, error) {
	if s.guest {
		return svc.GuestMetadata(ctx, id)
	}
	return svc.Metadata(ctx)
}

// patch patches the metadata of the scope.
func (s metadataScope) patch(ctx context.Context, svc hvagent.Service, id string, p map[string]string) (map[string]string, error) {
	if s.guest {
		return svc.PatchGuestMetadata(ctx, id, p)
	}
	return svc.PatchMetadata(ctx, p)
}

// splitGuest takes the guest ID off args when the scope has one.
func (s metadataScope) splitGuest(args []string) (string, []string) {
	if s.guest {
		return args[0], args[1:]
	}
	return "", args
}

// newCmdMetadata returns `hvctl metadata`, the hypervisor's metadata.
func newCmdMetadata(f *Factory) *cobra.Command {
	s := metadataScope{}
	return newNounCmd("metadata", "Read and change the hypervisor's metadata",
		"The hypervisor's metadata is a map of strings kept by the agent, for orchestrators and people.",
		newCmdMetadataGet(f, s, nil), newCmdMetadataSet(f, s, nil), newCmdMetadataUnset(f, s, nil))
}

// newCmdGuestMetadata returns `hvctl guest metadata`.
func newCmdGuestMetadata(f *Factory) *cobra.Command {
	s := metadataScope{guest: true}
	return newNounCmd("metadata", "Read and change a guest's metadata",
		"A guest's metadata is a map of strings kept by the agent with the guest.",
		newCmdMetadataGet(f, s, nil), newCmdMetadataSet(f, s, nil), newCmdMetadataUnset(f, s, nil))
}

// MetadataGetOptions are the options of `hvctl [guest] metadata get`.
type MetadataGetOptions struct {
	cmdBase
	Out   outputOptions
	scope metadataScope
	// GuestID is the guest, for guest metadata.
	GuestID string
	// Key selects one key; "" prints them all.
	Key string
}

// newCmdMetadataGet returns `get` of scope s.
func newCmdMetadataGet(f *Factory, s metadataScope, runF func(*MetadataGetOptions) error) *cobra.Command {
	opts := &MetadataGetOptions{cmdBase: newBase(f), scope: s}
	cmd := &cobra.Command{
		Use:   s.use("get", "[KEY]"),
		Short: fmt.Sprintf("Print %s metadata, or one key's value", s.whose()),
		Long:  fmt.Sprintf("Print %s metadata. With KEY, print only its value (exit 3 when it is not set).", s.whose()),
		Example: fmt.Sprintf("  %s get %s\n  %s get %sowner\n  %s get %s-o json",
			s.path(), s.exampleID(), s.path(), s.exampleID(), s.path(), s.exampleID()),
		Args:              s.args(0, 1),
		ValidArgsFunction: s.completion(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, metadataGetRun, func(args []string) error {
		var rest []string
		opts.GuestID, rest = s.splitGuest(args)
		if len(rest) > 0 {
			opts.Key = rest[0]
		}
		return opts.Out.validate()
	})
	return cmd
}

func metadataGetRun(opts *MetadataGetOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	m, err := opts.scope.get(opts.context(), svc, opts.GuestID)
	if err != nil {
		return err
	}
	if opts.Key == "" {
		return writeMetadata(opts.IO.Out, opts.Out, m)
	}
	v, ok := m[opts.Key]
	if !ok {
		return hvagent.Errorf(hvagent.ENOTFOUND, "metadata key %q is not set", opts.Key)
	}
	switch {
	case opts.Out.json():
		return writeJSON(opts.IO.Out, map[string]string{opts.Key: v})
	case opts.Out.Quiet:
		return writeLines(opts.IO.Out, []string{opts.Key})
	}
	_, err = fmt.Fprintln(opts.IO.Out, v)
	return err
}

// writeMetadata prints a metadata map as a table, JSON or its keys.
func writeMetadata(w io.Writer, o outputOptions, m map[string]string) error {
	if m == nil {
		m = map[string]string{}
	}
	switch {
	case o.json():
		return writeJSON(w, m)
	case o.Quiet:
		return writeLines(w, sortedKeys(m))
	}
	t := newTable(w, "KEY", "VALUE")
	for _, k := range sortedKeys(m) {
		t.row(k, m[k])
	}
	return t.flush()
}

// MetadataSetOptions are the options of `hvctl [guest] metadata set`.
type MetadataSetOptions struct {
	cmdBase
	Out     outputOptions
	scope   metadataScope
	GuestID string
	// Pairs are the keys to set and their values.
	Pairs map[string]string
}

// newCmdMetadataSet returns `set` of scope s.
func newCmdMetadataSet(f *Factory, s metadataScope, runF func(*MetadataSetOptions) error) *cobra.Command {
	opts := &MetadataSetOptions{cmdBase: newBase(f), scope: s}
	cmd := &cobra.Command{
		Use:   s.use("set", "KEY=VALUE..."),
		Short: fmt.Sprintf("Set keys of %s metadata", s.whose()),
		Long:  fmt.Sprintf("Set keys of %s metadata, in one change, and print the result.", s.whose()),
		Example: fmt.Sprintf("  %s set %sowner=ops\n  %s set %srack=r12 row=3",
			s.path(), s.exampleID(), s.path(), s.exampleID()),
		Args:              s.args(1, -1, "KEY=VALUE"),
		ValidArgsFunction: s.completion(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, metadataSetRun, func(args []string) error {
		var rest []string
		opts.GuestID, rest = s.splitGuest(args)
		opts.Pairs = map[string]string{}
		for _, a := range rest {
			k, v, ok := cutPair(a)
			if !ok || v == "" {
				return usageErrorf("%q is not KEY=VALUE with a value (use unset to delete a key)", a)
			}
			opts.Pairs[k] = v
		}
		return opts.Out.validate()
	})
	return cmd
}

// cutPair splits "k=v"; ok is false without "=" or with an empty key.
func cutPair(s string) (k, v string, ok bool) {
	k, v, ok = strings.Cut(s, "=")
	return k, v, ok && k != ""
}

func metadataSetRun(opts *MetadataSetOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	m, err := opts.scope.patch(opts.context(), svc, opts.GuestID, opts.Pairs)
	if err != nil {
		return err
	}
	return writeMetadata(opts.IO.Out, opts.Out, m)
}

// MetadataUnsetOptions are the options of `hvctl [guest] metadata unset`.
type MetadataUnsetOptions struct {
	cmdBase
	Out     outputOptions
	scope   metadataScope
	GuestID string
	// Keys are the keys to delete.
	Keys []string
}

// newCmdMetadataUnset returns `unset` of scope s.
func newCmdMetadataUnset(f *Factory, s metadataScope, runF func(*MetadataUnsetOptions) error) *cobra.Command {
	opts := &MetadataUnsetOptions{cmdBase: newBase(f), scope: s}
	cmd := &cobra.Command{
		Use:               s.use("unset", "KEY..."),
		Short:             fmt.Sprintf("Delete keys of %s metadata", s.whose()),
		Long:              fmt.Sprintf("Delete keys of %s metadata, in one change, and print the result. Keys that are not set are ignored.", s.whose()),
		Example:           fmt.Sprintf("  %s unset %sowner\n  %s unset %srack row", s.path(), s.exampleID(), s.path(), s.exampleID()),
		Args:              s.args(1, -1, "KEY"),
		ValidArgsFunction: s.completion(f),
	}
	addOutputFlags(cmd, &opts.Out)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, metadataUnsetRun, func(args []string) error {
		opts.GuestID, opts.Keys = s.splitGuest(args)
		return opts.Out.validate()
	})
	return cmd
}

func metadataUnsetRun(opts *MetadataUnsetOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	patch := map[string]string{}
	for _, k := range opts.Keys {
		patch[k] = ""
	}
	m, err := opts.scope.patch(opts.context(), svc, opts.GuestID, patch)
	if err != nil {
		return err
	}
	return writeMetadata(opts.IO.Out, opts.Out, m)
}
