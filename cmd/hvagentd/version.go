package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
)

// versionInfo is what `hvagentd version -o json` prints.
type versionInfo struct {
	Version  string   `json:"version"`
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	Builtins []string `json:"builtins"`
}

func currentVersion() versionInfo {
	return versionInfo{Version: hvagent.Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Builtins: host.Builtins()}
}

// versionText is the text of `hvagentd version` and `hvagentd --version`.
func versionText() string {
	v := currentVersion()
	return fmt.Sprintf("hvagentd: %s (%s %s)\nbuilt-in drivers: %s\n", v.Version, v.Go, v.Platform, strings.Join(v.Builtins, ", "))
}

// newVersionCmd returns `hvagentd version`.
func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print hvagentd's version and the built-in drivers it provides",
		Long:    "Print hvagentd's version, the Go release and platform it was built with and the built-in\ndrivers it provides (the values a service's \"builtin\" may take). --version prints the same.",
		Example: "  hvagentd version\n  hvagentd --version\n  hvagentd version -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func printVersion(w io.Writer, format string) error {
	switch format {
	case "text":
		_, err := io.WriteString(w, versionText())
		return err
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(currentVersion())
	}
	return usageErrorf("--output %q: want text or json", format)
}
