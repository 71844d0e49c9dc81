package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Usage lines of cobra's usage template, and ours: a command with
// subcommands shows only "hvctl guest [command]", as it does nothing else.
const (
	cobraUsageLines = "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} [command]{{end}}"
	ourUsageLines   = "Usage:{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} [command]{{else}}\n  {{.UseLine}}{{end}}"
)

// setUsage gives root and its subcommands our usage lines, help commands
// (`hvctl help guest start`, `hvctl guest help start`) and our messages for
// bad flags.
func setUsage(root *cobra.Command) {
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), cobraUsageLines, ourUsageLines, 1))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return flagUsageError(cmd, err) })
	root.SetHelpCommand(newCmdHelp(root, false))
}

// usageLine is the line a usage error shows: "hvctl guest [command]" for
// a command with subcommands, else its use line.
func usageLine(cmd *cobra.Command) string {
	if cmd.HasAvailableSubCommands() {
		return cmd.CommandPath() + " [command]"
	}
	return cmd.UseLine()
}

// newCmdHelp returns the help command of parent: `help [command]...` shows
// the help of the named subcommand of parent, or of parent itself.
func newCmdHelp(parent *cobra.Command, hidden bool) *cobra.Command {
	return &cobra.Command{
		Use:    "help [command]",
		Short:  "Help about any command",
		Long:   "Help shows the help of any command: " + parent.CommandPath() + " help [command]...",
		Hidden: hidden,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			target, _, err := parent.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, c := range target.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name()+"\t"+c.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := parent.Find(args)
			if err == nil && len(rest) > 0 {
				err = unknownCommand(target, rest[0])
			}
			if err != nil {
				var u *usageError
				if !errors.As(err, &u) {
					err = &usageError{err: err}
				}
				return err
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// unknownCommand is the usage error of an unknown subcommand name of cmd,
// with the names it may be a typo of.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + quoteOr(s) + "?"
	}
	return usageErrorf("%s", msg)
}

// didYouMean returns "; did you mean …?" naming the candidates nearest to
// name (case aside) when they are within two edits, or "" when none is.
func didYouMean(name string, candidates []string) string {
	var near []string
	best := 3
	for _, c := range candidates {
		switch d := editDistance(strings.ToLower(name), strings.ToLower(c)); {
		case d < best:
			best, near = d, []string{c}
		case d == best:
			near = append(near, c)
		}
	}
	if len(near) == 0 {
		return ""
	}
	slices.Sort(near)
	return "; did you mean " + quoteOr(near) + "?"
}

// quoteOr quotes names and joins them with "or": "a", "b" or "c".
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// flagUsageError turns an error of flag parsing into a usage error in our
// words: a bad number or duration says what is expected (never a strconv
// error), an unknown flag names the flags it may be a typo of.
func flagUsageError(cmd *cobra.Command, err error) error {
	var bad *pflag.InvalidValueError
	var missing *pflag.NotExistError
	switch {
	case errors.As(err, &bad):
		return flagError(bad.GetFlag().Name, "%s", valueProblem(bad.GetFlag(), bad.GetValue(), bad.Unwrap()))
	case errors.As(err, &missing) && missing.GetSpecifiedName() != "":
		name := missing.GetSpecifiedName()
		return usageErrorf("unknown flag: --%s%s", name, didYouMean("--"+name, flagNames(cmd)))
	}
	return &usageError{err: err}
}

// valueProblem says what is wrong with value of flag f.
func valueProblem(f *pflag.Flag, value string, cause error) string {
	if errors.Is(cause, strconv.ErrRange) {
		return fmt.Sprintf("%q is out of range", value)
	}
	switch f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64":
		return fmt.Sprintf("%q is not a whole number", value)
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return fmt.Sprintf("%q is not a whole number of 0 or more", value)
	case "duration":
		return fmt.Sprintf("%q is not a duration such as 30s, 10m or 1h30m", value)
	case "bool":
		return fmt.Sprintf("%q is not true or false", value)
	}
	return cause.Error()
}

// flagNames returns the names of cmd's visible flags, with their dashes.
func flagNames(cmd *cobra.Command) []string {
	var out []string
	visit := func(f *pflag.Flag) {
		if !f.Hidden && !slices.Contains(out, "--"+f.Name) {
			out = append(out, "--"+f.Name)
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return out
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
