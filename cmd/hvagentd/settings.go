package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/settings"
)

// envPrefix starts the name of every setting's environment variable.
const envPrefix = "HVAGENT_"

// setting is one top-level key of the config file that a flag and an
// environment variable can also set: key data_dir is --data-dir and
// HVAGENT_DATA_DIR. apply sets it in the library's part of the file or in
// the daemon's.
type setting struct {
	key   string
	kind  string // shown in --help: string, int, duration, strings
	short string
	usage string
	apply func(f *settings.File, v string) error
}

// flag is the setting's flag name.
func (s *setting) flag() string { return strings.ReplaceAll(s.key, "_", "-") }

// env is the setting's environment variable.
func (s *setting) env() string { return envPrefix + strings.ToUpper(s.key) }

// allSettings are every top-level key of the config file except the
// pipelines (services, actions), in --help order: hvagent.Config's and
// settings.Daemon's.
var allSettings = []*setting{
	stringSetting("data_dir", "", "directory of the database, socket, images and guest disks (default /var/lib/hvagent as root, else $XDG_STATE_HOME/hvagent or ~/.local/state/hvagent)",
		func(f *settings.File) *string { return &f.Config.DataDir }),
	stringSetting("dbpath", "", "SQLite database file (default <data-dir>/hvagent.db)",
		func(f *settings.File) *string { return &f.Config.DBPath }),
	addrSetting("listen", true, `TCP address of the REST API (default 127.0.0.1:8080; "" or "off" turns TCP off)`,
		func(f *settings.File) *string { return &f.Daemon.Listen }),
	stringSetting("socket", "", "unix socket of the REST API, mode 0660 (default <data-dir>/hvagent.sock)",
		func(f *settings.File) *string { return &f.Daemon.Socket }),
	stringSetting("socket_group", "", "group (name or id) given the unix socket",
		func(f *settings.File) *string { return &f.Daemon.SocketGroup }),
	addrSetting("admin_listen", false, "TCP address of the admin listener: pprof and metrics (default none)",
		func(f *settings.File) *string { return &f.Daemon.AdminListen }),
	stringSetting("tokens_file", "", `JSON file of API tokens: [{"name","sha256","scope"}]`,
		func(f *settings.File) *string { return &f.Daemon.TokensFile }),
	stringSetting("tls_cert", "", "TLS certificate (PEM) of the TCP listeners; needs --tls-key",
		func(f *settings.File) *string { return &f.Daemon.TLSCert }),
	stringSetting("tls_key", "", "TLS private key (PEM) of the TCP listeners; needs --tls-cert",
		func(f *settings.File) *string { return &f.Daemon.TLSKey }),
	stringSetting("client_ca", "", "CA certificates (PEM): TCP clients must present a certificate they signed",
		func(f *settings.File) *string { return &f.Daemon.ClientCA }),
	enumSetting("log_level", "l", "debug, info, warn or error (default info)", []string{"debug", "info", "warn", "warning", "error"},
		func(f *settings.File) *string { return &f.Daemon.LogLevel }),
	enumSetting("log_format", "", "json or console (default json)", []string{"json", "console"},
		func(f *settings.File) *string { return &f.Daemon.LogFormat }),
	{key: "shutdown_timeout", kind: "duration", usage: "how long a graceful stop may take (default 30s)",
		apply: func(f *settings.File, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("invalid duration %q: expected a Go duration such as 1m30s", v)
			}
			if d < 0 {
				return fmt.Errorf("%v: must not be negative", d)
			}
			f.Daemon.ShutdownTimeout = hvagent.Duration{Duration: d}
			return nil
		}},
	intSetting("max_connections", "connections open at once on all listeners together (default 1024)",
		func(f *settings.File) *int { return &f.Daemon.MaxConnections }),
	intSetting("max_connections_per_client", "connections open at once from one client IP address (default 64)",
		func(f *settings.File) *int { return &f.Daemon.MaxConnectionsPerClient }),
	intSetting("max_streams", "stream requests (snapshot downloads, consoles) served at once; beyond: 503 (default 64)",
		func(f *settings.File) *int { return &f.Daemon.MaxStreams }),
	intSetting("max_event_clients", "GET /events requests (event streams, long polls) served at once; beyond: 503 (default 256)",
		func(f *settings.File) *int { return &f.Daemon.MaxEventClients }),
	floatSetting("request_rate", "requests per second each caller (token, else client IP) may make on average; beyond: 429 (default 0: no limit)",
		func(f *settings.File) *float64 { return &f.Daemon.RequestRate }),
	intSetting("request_burst", "requests a caller may make at once above --request-rate (default the rate rounded up)",
		func(f *settings.File) *int { return &f.Daemon.RequestBurst }),
	intSetting("max_logged_jobs", "finished jobs kept in the job log (default 1000)",
		func(f *settings.File) *int { return &f.Config.MaxLoggedJobs }),
	intSetting("max_events", "events kept for /events (default 100000)",
		func(f *settings.File) *int { return &f.Config.MaxEvents }),
	intSetting("max_queued", "jobs one queue may hold (default 1000)",
		func(f *settings.File) *int { return &f.Config.MaxQueued }),
	intSetting("max_metadata_keys", "metadata keys one guest may hold (default 256)",
		func(f *settings.File) *int { return &f.Config.MaxMetadataKeys }),
	intSetting("max_metadata_key_len", "bytes of one metadata key (default 256)",
		func(f *settings.File) *int { return &f.Config.MaxMetadataKeyLen }),
	intSetting("max_metadata_value_len", "bytes of one metadata value (default 4096)",
		func(f *settings.File) *int { return &f.Config.MaxMetadataValueLen }),
	intSetting("max_metadata_bytes", "bytes of all metadata keys and values of one guest (default 16384)",
		func(f *settings.File) *int { return &f.Config.MaxMetadataBytes }),
	enumSetting("durability", "", "full (survives power loss) or normal (survives a crash) (default full)", []string{"full", "normal"},
		func(f *settings.File) *string { return &f.Config.Durability }),
	enumSetting("qemu_accel", "", "accelerator of the built-in QEMU driver: tcg, or kvm once a probe guest proved it works, else hvagentd does not start (default tcg)", []string{"tcg", "kvm"},
		func(f *settings.File) *string { return &f.Config.QEMUAccel }),
	{key: "allowed_paths", kind: "strings", usage: "comma-separated host directories that boot files and file:// images may come from",
		apply: func(f *settings.File, v string) error {
			f.Config.AllowedPaths = nil
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					f.Config.AllowedPaths = append(f.Config.AllowedPaths, p)
				}
			}
			return nil
		}},
}

// addrSetting is a TCP listener's setting: "" turns it off (and "off" too
// when off is set), any other value must be an address
// (settings.CheckAddr), so that a bad flag value is a usage error at once,
// before any listener opens.
func addrSetting(key string, off bool, usage string, field func(*settings.File) *string) *setting {
	st := stringSetting(key, "", usage, field)
	apply := st.apply
	st.apply = func(f *settings.File, v string) error {
		if v != "" && (v != settings.ListenOff || !off) {
			if err := settings.CheckAddr(v); err != nil {
				return err
			}
		}
		return apply(f, v)
	}
	return st
}

// enumSetting is a string setting whose value must be one of choices, so
// that a bad flag value is a usage error (exit 2) at once.
func enumSetting(key, short, usage string, choices []string, field func(*settings.File) *string) *setting {
	st := stringSetting(key, short, usage, field)
	apply := st.apply
	st.apply = func(f *settings.File, v string) error {
		if !slices.Contains(choices, v) {
			return fmt.Errorf("%s %q: must be one of %s", key, v, strings.Join(choices, ", "))
		}
		return apply(f, v)
	}
	return st
}

func stringSetting(key, short, usage string, field func(*settings.File) *string) *setting {
	return &setting{key: key, kind: "string", short: short, usage: usage,
		apply: func(f *settings.File, v string) error { *field(f) = v; return nil }}
}

func intSetting(key, usage string, field func(*settings.File) *int) *setting {
	return &setting{key: key, kind: "int", usage: usage, apply: func(f *settings.File, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("invalid integer %q", v)
		}
		if n < 0 {
			return fmt.Errorf("%d must not be negative", n)
		}
		*field(f) = n
		return nil
	}}
}

func floatSetting(key, usage string, field func(*settings.File) *float64) *setting {
	return &setting{key: key, kind: "float", usage: usage, apply: func(f *settings.File, v string) error {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("invalid number %q", v)
		}
		if n < 0 {
			return fmt.Errorf("%v must not be negative", n)
		}
		*field(f) = n
		return nil
	}}
}

// settingValue is a setting's flag: it keeps the text given and checks it.
type settingValue struct {
	s   *setting
	val string
}

func (v *settingValue) String() string { return v.val }
func (v *settingValue) Type() string   { return v.s.kind }

// Set checks text against the setting (on a scratch file) and keeps it.
func (v *settingValue) Set(text string) error {
	if err := v.s.apply(&settings.File{}, text); err != nil {
		return err
	}
	v.val = text
	return nil
}

// flagSet holds hvagentd's flags once registered on a pflag.FlagSet.
type flagSet struct {
	fs     *pflag.FlagSet
	values map[string]*settingValue // by setting key
	config *string
}

// registerFlags adds every setting's flag to fs, plus --config (-c,
// --config-file) and the original's -a/--address.
func registerFlags(fs *pflag.FlagSet) *flagSet {
	f := &flagSet{fs: fs, values: map[string]*settingValue{}, config: new(string)}
	fs.StringVarP(f.config, "config", "c", "", "config file (JSON); env HVAGENT_CONFIG; default: the embedded default")
	fs.StringVar(f.config, "config-file", "", "the original's name of --config")
	for _, s := range allSettings {
		v := &settingValue{s: s}
		f.values[s.key] = v
		fs.VarP(v, s.flag(), s.short, s.usage+"; env "+s.env())
		if s.key == "listen" {
			fs.VarP(v, "address", "a", "the original's name of --listen")
		}
	}
	return f
}

// changed reports whether the flag of setting key (or its alias) was given.
func (f *flagSet) changed(key string) bool {
	if key == "listen" && f.fs.Changed("address") {
		return true
	}
	return f.fs.Changed(strings.ReplaceAll(key, "_", "-"))
}

// configPath is the config file named by --config or HVAGENT_CONFIG, or "".
func (f *flagSet) configPath(lookupEnv func(string) (string, bool)) string {
	if f.fs.Changed("config") || f.fs.Changed("config-file") {
		return *f.config
	}
	v, _ := lookupEnv(envPrefix + "CONFIG")
	return v
}

// resolve merges the settings with precedence flag > environment > file
// (base) > default, then validates them and applies the defaults. base is
// the config file's contents, or the embedded default, and is modified. An
// empty --listen turns TCP off as "off" does: the result's Listen is then
// settings.ListenOff.
func (f *flagSet) resolve(base *settings.File, lookupEnv func(string) (string, bool)) (*settings.File, error) {
	for _, s := range allSettings {
		if v, ok := lookupEnv(s.env()); ok && v != "" {
			if err := s.apply(base, v); err != nil {
				return nil, fmt.Errorf("%s=%s: %w", s.env(), v, err)
			}
		}
		if f.changed(s.key) {
			if err := s.apply(base, f.values[s.key].val); err != nil {
				return nil, fmt.Errorf("--%s: %w", s.flag(), err)
			}
		}
	}
	if base.Daemon.Listen == "" && f.changed("listen") {
		base.Daemon.Listen = settings.ListenOff
	}
	if err := absPaths(base); err != nil {
		return nil, err
	}
	if err := base.Validate(); err != nil {
		return nil, err
	}
	return base.WithDefaults(), nil
}

// absPaths makes the file paths of f absolute, so that the effective config
// written to the data dir means the same from any directory.
func absPaths(f *settings.File) error {
	d := &f.Daemon
	for _, p := range []*string{&f.Config.DataDir, &f.Config.DBPath, &d.Socket, &d.TokensFile, &d.TLSCert, &d.TLSKey, &d.ClientCA} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("path %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}
