package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
)

// runArgs runs hvagentd with args and returns its exit code, stdout and
// stderr.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRun_Version(t *testing.T) {
	t.Parallel()
	want := "hvagentd: " + hvagent.Version + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n" +
		"built-in drivers: " + strings.Join(host.Builtins(), ", ") + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		code, stdout, stderr := runArgs(t, args...)
		require.Equal(t, exitOK, code, stderr)
		require.Equal(t, want, stdout, "%q", args)
		require.Empty(t, stderr)
	}

	code, stdout, _ := runArgs(t, "version", "-o", "json")
	require.Equal(t, exitOK, code)
	var got versionInfo
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Equal(t, versionInfo{Version: hvagent.Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Builtins: []string{"qemu", "sim", "storage"}}, got)

	code, stdout, stderr := runArgs(t, "version", "-o", "yaml")
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	require.Equal(t, "hvagentd: --output \"yaml\": want text or json\nUsage: hvagentd version [flags]\nRun 'hvagentd version --help' for details.\n", stderr)
}

func TestRun_UsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		args  []string
		line  string // the error line
		usage string // the usage lines
	}{
		{"UnknownFlag", []string{"--no-such-flag"}, "unknown flag: --no-such-flag", "hvagentd [flags]\n       hvagentd [command]"},
		{"UnknownShorthand", []string{"-Z"}, "unknown shorthand flag: 'Z' in -Z", "hvagentd [flags]\n       hvagentd [command]"},
		{"BadInt", []string{"--max-events", "-3"}, `invalid argument "-3" for "--max-events" flag: -3 must not be negative`, "hvagentd [flags]\n       hvagentd [command]"},
		{"BadDuration", []string{"--shutdown-timeout", "soon"}, `invalid argument "soon" for "--shutdown-timeout" flag: invalid duration "soon": expected a Go duration such as 1m30s`, "hvagentd [flags]\n       hvagentd [command]"},
		{"MissingValue", []string{"--listen"}, "flag needs an argument: --listen", "hvagentd [flags]\n       hvagentd [command]"},
		{"UnknownCommand", []string{"serve"}, `unknown command "serve" for "hvagentd"`, "hvagentd [flags]\n       hvagentd [command]"},
		{"SubagentUnknown", []string{"subagent", "xen"}, `unknown command "xen" for "hvagentd subagent"`, "hvagentd subagent [flags]\n       hvagentd subagent [command]"},
		{"SubagentFlag", []string{"subagent", "qemu", "--listen", "127.0.0.1:0", "--data-dir", "/tmp", "--accel-x", "kvm"}, "unknown flag: --accel-x", "hvagentd subagent qemu [flags]"},
		{"VersionArg", []string{"version", "now"}, `hvagentd version takes no arguments, got "now"`, "hvagentd version [flags]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runArgs(t, tt.args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Empty(t, stdout)
			cmdPath, _, _ := strings.Cut(tt.usage, " [")
			require.Equal(t, "hvagentd: "+tt.line+"\nUsage: "+tt.usage+"\nRun '"+cmdPath+" --help' for details.\n", stderr)
		})
	}
}

func TestRun_Help(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runArgs(t, "--help")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "Usage:\n  hvagentd [flags]\n  hvagentd [command]\n")
	require.Contains(t, stdout, "Exit codes:\n  0 ")
	for _, sub := range []string{"completion", "subagent", "version"} {
		require.Contains(t, stdout, "\n  "+sub+" ")
	}
}

func TestRun_Completion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "__start_hvagentd",
		"zsh":  "#compdef hvagentd",
		"fish": "complete -c hvagentd",
	} {
		code, stdout, stderr := runArgs(t, "completion", shell)
		require.Equal(t, exitOK, code, stderr)
		require.Contains(t, stdout, want, shell)
	}

	code, _, stderr := runArgs(t, "completion", "tcsh")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `hvagentd: unknown shell "tcsh" (want bash, zsh or fish)`)
	code, _, stderr = runArgs(t, "completion")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "hvagentd completion needs SHELL")

	// The script completes commands and the enumerated flags' values.
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "ver"}, []string{"version"}},
		{[]string{"__complete", "subagent", ""}, []string{"qemu", "sim", "storage"}},
		{[]string{"__complete", "--log-level", ""}, []string{"debug", "info", "warn", "warning", "error"}},
		{[]string{"__complete", "--log-format", ""}, []string{"json", "console"}},
		{[]string{"__complete", "--qemu-accel", ""}, []string{"tcg", "kvm"}},
		{[]string{"__complete", "completion", ""}, []string{"bash", "zsh", "fish"}},
	} {
		code, stdout, stderr := runArgs(t, tt.args...)
		require.Equal(t, exitOK, code, stderr)
		var got []string
		for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
			if !strings.HasPrefix(line, ":") {
				name, _, _ := strings.Cut(line, "\t")
				got = append(got, name)
			}
		}
		require.Equal(t, tt.want, got, "%q", tt.args)
	}
}
