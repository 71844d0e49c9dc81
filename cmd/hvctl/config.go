package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/settings"
)

// newCmdConfig returns `hvctl config`.
func newCmdConfig(f *Factory) *cobra.Command {
	return newNounCmd("config", "Check agent config files",
		"Check hvagentd config files before using them.", newCmdConfigValidate(f, nil))
}

// ConfigValidateOptions are the options of `hvctl config validate`.
type ConfigValidateOptions struct {
	cmdBase
	File string
}

// newCmdConfigValidate returns `hvctl config validate`.
func newCmdConfigValidate(f *Factory, runF func(*ConfigValidateOptions) error) *cobra.Command {
	opts := &ConfigValidateOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "validate FILE|-",
		Short: "Check a config file",
		Long: "Check a config file as hvagentd does before it starts on it, with the same code: strict JSON\n" +
			"(unknown keys are errors naming the key), every value of the library's part and the daemon's\n" +
			"(listeners, TLS, logging), the built-in drivers this build provides, the refusal of a TCP\n" +
			"listener off loopback without authentication, and the files it names (tokens, TLS\n" +
			"certificates; relative paths are read from the current directory, as hvagentd does) and\n" +
			"socket_group. Prints the problems on one line and exits 2 when there is one, 3 when the\n" +
			"file does not exist. The checks run in that order and each reports every problem it finds,\n" +
			"but a later one runs only once the earlier ones pass (a value that does not decode, such as\n" +
			"a bad duration, stops the check there). What is accepted but likely a mistake (a config\n" +
			"that wires no action, services driving the simulation) is a warning on stderr, as hvagentd\n" +
			"logs it. FILE - reads the config from stdin. Needs no agent.",
		Example: "  hvctl config validate /etc/hvagent/agent.json\n  hvctl config validate testdata/sim.json\n" +
			"  generate-config | hvctl config validate -",
		Args: exactArgs("FILE"),
	}
	cmd.RunE = runE(opts, &opts.cmdBase, runF, configValidateRun, func(args []string) error {
		opts.File = args[0]
		return nil
	})
	return cmd
}

// configStdinLimit caps a config read from stdin.
const configStdinLimit = 16 << 20

func configValidateRun(opts *ConfigValidateOptions) error {
	cfg, err := loadConfig(opts.File, opts.IO.In)
	if err != nil {
		return err
	}
	verdict, err := settings.Check(cfg)
	if err != nil {
		return err
	}
	for _, w := range verdict.Warnings {
		_, _ = fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s: valid (%d services, %d actions)\n", configName(opts.File), len(cfg.Services), len(cfg.Actions))
	return err
}

// loadConfig reads the config file at path, or stdin (in) when path is "-".
func loadConfig(path string, in io.Reader) (*settings.File, error) {
	if path != "-" {
		return settings.Load(path)
	}
	data, err := io.ReadAll(io.LimitReader(in, configStdinLimit+1))
	if err != nil {
		return nil, fmt.Errorf("read config from stdin: %w", err)
	}
	if len(data) > configStdinLimit {
		return nil, hvagent.Errorf(hvagent.EINVALID, "config on stdin is larger than %d MiB", configStdinLimit>>20)
	}
	return settings.Parse(data)
}

// configName names the config file in messages.
func configName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}
